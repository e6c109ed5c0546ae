/**
 * The `augur` dispatcher: `augur <subcommand> [flags]`, `--help`, `--version`. Expected
 * errors ({@linkcode AugurError}) print one line and exit with their code; anything else
 * is a bug and prints its stack.
 *
 * @example
 * ```ts
 * import { main } from "./main.ts";
 * const code = await main(["--version"]);
 * ```
 * @module
 */
import { AugurError, nearest, UsageError } from "../config/errors.ts";
import { redact } from "../adapters/observability/logger.ts";
import type { Command } from "./command.ts";
import { COMMANDS } from "./commands.ts";
import denoJson from "../deno.json" with { type: "json" };

/** The augur version (from deno.json). */
export const VERSION: string = denoJson.version;

function topUsage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    `augur ${VERSION} — prediction-market activity into trustworthy signals`,
    "",
    "Usage: augur <command> [options]",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Options:",
    "  -h, --help      show help (also: augur <command> --help)",
    "  -V, --version   print the version",
    "  --config DIR    configuration directory for the command (default: $AUGUR_CONFIG_DIR",
    "                  or ./config); also accepted after the command",
    "",
    "Environment: AUGUR_CONFIG_DIR (default ./config), AUGUR_LOG_LEVEL (debug|info|warn|error)",
  ].join("\n");
}

const TOP_OPTIONS = ["--help", "--version", "--config"];

/**
 * Split a leading global `--config DIR` (or `--config=DIR`) off `args`. It is handed to the
 * subcommand as a trailing `--config DIR`, so `augur --config DIR config check` and
 * `augur config check --config DIR` mean the same.
 */
function splitGlobalConfig(args: string[]): { rest: string[]; config: string[] } {
  let rest = args;
  let config: string[] = [];
  while (rest.length > 0) {
    const head = rest[0];
    if (head === "--config") {
      if (rest[1] === undefined || rest[1].startsWith("-")) {
        throw new UsageError('option "--config" needs a value');
      }
      config = ["--config", rest[1]];
      rest = rest.slice(2);
    } else if (head.startsWith("--config=")) {
      config = ["--config", head.slice("--config=".length)];
      rest = rest.slice(1);
    } else break;
  }
  return { rest, config };
}

/** Run the CLI with `args` (without the program name); resolves to the exit code. */
export async function main(args: string[]): Promise<number> {
  let split: { rest: string[]; config: string[] };
  try {
    split = splitGlobalConfig(args);
  } catch (error) {
    return reportError(error);
  }
  const [first, ...tail] = split.rest;
  const rest = [...tail, ...split.config];
  if (first === undefined || first === "-h" || first === "--help" || first === "help") {
    if (first === "help" && tail[0]) return main([tail[0], "--help"]);
    console.log(topUsage());
    return first === undefined ? 2 : 0;
  }
  if (first === "-V" || first === "--version") {
    console.log(`augur ${VERSION}`);
    return 0;
  }
  const command: Command | undefined = COMMANDS.find((c) => c.name === first);
  try {
    if (!command) {
      if (first.startsWith("-")) {
        const hint = first.startsWith("--") ? nearest(first.split("=")[0], TOP_OPTIONS) : undefined;
        throw new UsageError(
          `unknown option "${first}"${hint ? ` (did you mean "${hint}"?)` : ""}`,
        );
      }
      const hint = nearest(first, COMMANDS.map((c) => c.name));
      throw new UsageError(`unknown command "${first}"${hint ? ` (did you mean "${hint}"?)` : ""}`);
    }
    if (tail.includes("--help") || tail.includes("-h")) {
      console.log(command.usage);
      return 0;
    }
    return await command.run(rest);
  } catch (error) {
    return reportError(error, command);
  }
}

/** Print an error the way the CLI does and return its exit code. */
export function reportError(error: unknown, command?: Command): number {
  const denied = permissionDenied(error);
  if (denied) {
    // The process was started without a Deno permission it needs (or pointed outside the
    // paths it may use): one line, exit 1 — not a stack trace.
    console.error(`augur: permission denied: ${redact(denied)}`);
    return 1;
  }
  if (error instanceof AugurError) {
    console.error(`augur: ${redact(error.message)}`);
    if (error instanceof UsageError) {
      console.error(command ? `\n${command.usage}` : `\n${topUsage()}`);
    }
    return error.exitCode;
  }
  console.error(
    `augur: internal error: ${
      redact(error instanceof Error ? error.stack ?? error.message : String(error))
    }`,
  );
  return 1;
}

/** The first line of a Deno permission error in `error` or its causes, else undefined. */
function permissionDenied(error: unknown): string | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      return e.message.split("\n", 1)[0];
    }
  }
  return undefined;
}
