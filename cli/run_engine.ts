/**
 * `augur run engine`: the whole pipeline in one process. Lands with the engine issue; until
 * then it says so in one line.
 *
 * @example
 * ```ts
 * import { runEngineCommand } from "./run_engine.ts";
 * ```
 * @module
 */
import type { AugurConfig } from "../config/loader.ts";
import { AugurError } from "../config/errors.ts";
import type { RunFlags } from "./run.ts";

/** Run the engine with the parsed flags; resolves to the exit code. */
export function runEngineCommand(_flags: RunFlags, _config: AugurConfig): Promise<number> {
  return Promise.reject(
    new AugurError("augur run engine: not available yet — the engine is not wired in this build"),
  );
}
