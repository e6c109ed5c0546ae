/**
 * The config directory of a single-process `augur run engine` in e2e tests: the repository's
 * config files with the DuckDB store at `<dir>/engine.duckdb`, metrics disabled and warn-level
 * logs; and the arguments of a `--once --json` run over a recorded replay file.
 *
 * @example
 * ```ts
 * import { engineConfigDir, replayOnceArgs } from "./engine_config.ts";
 * import { runAugur } from "./augur_process.ts";
 * const configDir = await engineConfigDir("/tmp/run");
 * const run = await runAugur(replayOnceArgs("/tmp/run/replay.ndjson", configDir));
 * ```
 * @module
 */
import { writeConfigDir } from "./augur_process.ts";

/**
 * Write an engine config directory (see the module doc) whose DuckDB file lives in `dir`;
 * `overrides` (file name → full TOML text) replace or add files, e.g. `markets.toml`.
 * Returns its path; the caller removes it.
 *
 * @example
 * ```ts
 * import { engineConfigDir } from "./engine_config.ts";
 * const configDir = await engineConfigDir("/tmp/run", {
 *   "observability.toml": `[metrics]\nkind = "disabled"\n[logs]\nlevel = "info"\n`,
 * });
 * ```
 */
export function engineConfigDir(
  dir: string,
  overrides: Record<string, string> = {},
): Promise<string> {
  return writeConfigDir({
    "storage.toml": `[backend]\nkind = "duckdb"\nduckdb_path = "${dir}/engine.duckdb"\n`,
    "observability.toml": `[metrics]\nkind = "disabled"\n[logs]\nlevel = "warn"\n`,
    ...overrides,
  });
}

/**
 * `augur` arguments of one engine run over the whole replay file at `replayPath`, printing
 * every context as canonical JSON on stdout (`--once --json`).
 *
 * @example
 * ```ts
 * import { replayOnceArgs } from "./engine_config.ts";
 * replayOnceArgs("/tmp/r.ndjson", "/tmp/config");
 * // ["run", "engine", "--source", "replay:/tmp/r.ndjson", "--once", "--json", "--config", "/tmp/config"]
 * ```
 */
export function replayOnceArgs(replayPath: string, configDir: string): string[] {
  return [
    "run",
    "engine",
    "--source",
    `replay:${replayPath}`,
    "--once",
    "--json",
    "--config",
    configDir,
  ];
}
