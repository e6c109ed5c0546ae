/**
 * The shape of a subcommand module: one async function taking the arguments after the
 * subcommand name and returning the process exit code.
 *
 * @example
 * ```ts
 * import type { Command } from "./command.ts";
 * const hello: Command = {
 *   name: "hello",
 *   summary: "say hello",
 *   usage: "augur hello",
 *   run: () => Promise.resolve(0),
 * };
 * ```
 * @module
 */

/** One `augur <name>` subcommand. */
export interface Command {
  /** The subcommand word, e.g. `workers` or `lock`. */
  readonly name: string;
  /** One line for the top-level help. */
  readonly summary: string;
  /** Full help text printed by `augur <name> --help`. */
  readonly usage: string;
  /** Run with the arguments after the subcommand name; resolves to the exit code. */
  run(args: string[]): Promise<number>;
}
