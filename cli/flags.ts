/**
 * Strict flag parsing for subcommands over `node:util` `parseArgs`: an unknown flag, a
 * missing value or an unexpected argument is a {@linkcode UsageError} with one clear line
 * (and a "did you mean" hint), which the dispatcher prints with the command's usage.
 *
 * @example
 * ```ts
 * import { parseFlags } from "./flags.ts";
 * const { values } = parseFlags(["--json"], { json: { type: "boolean" } });
 * values.json; // true
 * ```
 * @module
 */
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { nearest, UsageError } from "../config/errors.ts";

/** Options of {@linkcode parseFlags}. */
export interface ParseFlagsOptions {
  /** Most positional arguments accepted (default 0). */
  maxPositionals?: number;
}

/** Result of {@linkcode parseFlags}. */
export interface ParsedFlags {
  /** Flag values by long name. */
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  /** Positional arguments. */
  positionals: string[];
}

/**
 * Parse `args` against `options` strictly. `--help`/`-h` are always accepted (the
 * dispatcher handles them before commands run).
 *
 * @example
 * ```ts
 * import { parseFlags } from "./flags.ts";
 * parseFlags(["--config", "cfg"], { config: { type: "string" } }).values.config; // "cfg"
 * ```
 * @throws {UsageError} `unknown option "--jsn" (did you mean "--json"?)`
 */
export function parseFlags(
  args: string[],
  options: ParseArgsOptionsConfig,
  settings: ParseFlagsOptions = {},
): ParsedFlags {
  const max = settings.maxPositionals ?? 0;
  const all: ParseArgsOptionsConfig = {
    help: { type: "boolean", short: "h" },
    ...options,
  };
  let parsed: ParsedFlags;
  try {
    parsed = parseArgs({
      args,
      options: all,
      strict: true,
      allowPositionals: max > 0,
    }) as ParsedFlags;
  } catch (error) {
    throw translate(error, all);
  }
  if (parsed.positionals.length > max) {
    throw new UsageError(`unexpected argument "${parsed.positionals[max]}"`);
  }
  return parsed;
}

function translate(error: unknown, options: ParseArgsOptionsConfig): Error {
  const code = (error as { code?: string }).code;
  const message = error instanceof Error ? error.message : String(error);
  const quoted = /'([^']*)'/.exec(message)?.[1] ?? "";
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION": {
      const name = quoted.replace(/^-+/, "").split("=")[0];
      const hint = quoted.startsWith("--") ? nearest(name, Object.keys(options)) : undefined;
      return new UsageError(
        `unknown option "${quoted}"${hint ? ` (did you mean "--${hint}"?)` : ""}`,
        { cause: error },
      );
    }
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE": {
      const flag = quoted.split(" ")[0];
      return new UsageError(
        message.includes("does not take")
          ? `option "${flag}" does not take a value`
          : `option "${flag}" needs a value`,
        { cause: error },
      );
    }
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return new UsageError(`unexpected argument "${quoted}"`, { cause: error });
    default:
      return new UsageError(message, { cause: error });
  }
}
