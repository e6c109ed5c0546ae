/**
 * The error hierarchy every layer shares. Callers branch on the class; the CLI maps
 * {@linkcode AugurError.exitCode} to the process exit code and prints only the message.
 *
 * @example
 * ```ts
 * import { ConfigError } from "./errors.ts";
 * throw new ConfigError('config/bus.toml: backend.kindd: unknown key (did you mean "kind"?)');
 * ```
 * @module
 */

/** Base class of every expected augur error. Its message is one clear line for the user. */
export class AugurError extends Error {
  /** Process exit code the CLI uses when this error ends the process. */
  readonly exitCode: number = 1;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "AugurError";
  }
}

/** A configuration problem: a bad file, key, type or missing secret. Exit code 2. */
export class ConfigError extends AugurError {
  override readonly exitCode: number = 2;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConfigError";
  }
}

/** A usage mistake on the command line: unknown subcommand, flag or bad value. Exit code 2. */
export class UsageError extends AugurError {
  override readonly exitCode: number = 2;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UsageError";
  }
}

/** An outside system (bus, lock, store, platform API) could not be reached or refused us. */
export class ConnectionError extends AugurError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConnectionError";
  }
}

/**
 * Levenshtein-nearest candidate within a small distance, for "did you mean" hints.
 *
 * @example
 * ```ts
 * import { nearest } from "./errors.ts";
 * nearest("kindd", ["kind", "capacity"]); // "kind"
 * ```
 */
export function nearest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  const limit = Math.max(2, Math.floor(word.length / 3));
  return bestDistance <= limit ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j];
      row[j] = Math.min(
        row[j] + 1,
        row[j - 1] + 1,
        previous + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      previous = current;
    }
  }
  return row[b.length];
}
