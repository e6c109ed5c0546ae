/**
 * `augur migrate`: backfill the DuckDB file (or a Parquet archive) into TimescaleDB,
 * resumable, with per-partition row-count parity; `--verify` runs `augur verify` after.
 *
 * @example
 * ```sh
 * AUGUR_TIMESCALE_URL=postgres://… augur migrate --from duckdb:/backup/augur.duckdb --verify
 * ```
 * @module
 */
import type { Command } from "./command.ts";
import { parseFlags } from "./flags.ts";
import { ConfigError, UsageError } from "../config/errors.ts";
import { type AugurConfig, loadConfig } from "../config/loader.ts";
import { registerSecret } from "../adapters/observability/logger.ts";
import { DIGEST_TABLES, type DigestTable, type TimeRange } from "../adapters/storage/types.ts";
import { runMigrate } from "../runtime/migrate.ts";
import { type MigrateSource, type MigrateTable, parseTables } from "../runtime/migrate_sources.ts";
import { openDuckDbSource } from "../runtime/migrate_duckdb.ts";
import { runVerifyCommand } from "./verify.ts";

const USAGE = `Usage: augur migrate [options]

Backfills the embedded DuckDB store (or a Parquet archive) into the TimescaleDB/PostgreSQL
store named by storage.toml backend.timescale_url_env, table by table and UTC day by day in
chronological order, with COPY-based bulk writes. Finished partitions are recorded in the
target's migrate_progress table: a killed run continues where it stopped, and a rerun adds
nothing. Every partition checks that PostgreSQL reports as many rows written as the source
holds, and stops with an error otherwise.

Options:
  --from SRC         duckdb:PATH (default: storage.toml backend.duckdb_path) or
                     parquet:DIR (DIR/<table>/…YYYY-MM-DD….parquet)
  --start ISO        first instant to copy (default: everything)
  --end ISO          end of the range, exclusive (default: everything)
  --tables a,b       only these tables (snapshots, trades, features, signals,
                     manipulation_flags, contexts, ticks, calibration_fpr, reliability_curves)
  --batch-size N     rows per COPY batch (default 50000)
  --parallel N       PostgreSQL sessions copying days of a table at once (default 2)
  --dry-run          print the plan (partitions, rows, already done) and write nothing
  --verify           run augur verify over the same range afterwards (duckdb source)
  --config DIR       configuration directory
  -h, --help         show this help

Progress: a bar on a terminal (rows, rows/s, ETA), a line every 5 s otherwise.
Exit 0 on success, 1 on a parity mismatch or failure (or when --verify finds differences),
2 on usage or configuration errors.`;

const FLAGS = {
  from: { type: "string" },
  start: { type: "string" },
  end: { type: "string" },
  tables: { type: "string" },
  "batch-size": { type: "string" },
  parallel: { type: "string" },
  "dry-run": { type: "boolean" },
  verify: { type: "boolean" },
  config: { type: "string" },
} as const;

/** Largest instant accepted (µs): far beyond any data. */
export const MAX_US = 8_000_000_000_000_000;

/**
 * Parse an ISO date or datetime into epoch µs (`2026-03-01`, `2026-03-01T12:00:00Z`).
 *
 * @example
 * ```ts
 * import { parseIsoFlag } from "./migrate.ts";
 * parseIsoFlag("--start", "2026-03-01"); // 1772323200000000
 * ```
 */
export function parseIsoFlag(flag: string, value: string): number {
  const text = /^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value;
  const ms = /^\d{4}-\d{2}-\d{2}T/.test(text) ? Date.parse(text) : NaN;
  if (!Number.isFinite(ms)) {
    throw new UsageError(
      `${flag}: expected an ISO date or datetime (2026-03-01 or 2026-03-01T12:00:00Z), received ${
        JSON.stringify(value)
      }`,
    );
  }
  return ms * 1000;
}

/** The range from `--start` / `--end` (defaults: everything). */
export function parseRange(start?: string, end?: string): TimeRange {
  const range = {
    start: start === undefined ? 0 : parseIsoFlag("--start", start),
    end: end === undefined ? MAX_US : parseIsoFlag("--end", end),
  };
  if (!(range.start < range.end)) {
    throw new UsageError(`--start must be before --end, received ${start} .. ${end}`);
  }
  return range;
}

/** Parsed `--from`. */
export type SourceSpec = { kind: "duckdb"; path: string } | { kind: "parquet"; dir: string };

/** Parse `--from duckdb:PATH|parquet:DIR` (default: the configured DuckDB file). */
export function parseFrom(value: string | undefined, config: AugurConfig): SourceSpec {
  if (value === undefined) return { kind: "duckdb", path: config.storage.backend.duckdb_path };
  const match = /^(duckdb|parquet):(.+)$/.exec(value);
  if (!match) {
    throw new UsageError(
      `--from: expected duckdb:PATH or parquet:DIR, received ${JSON.stringify(value)}`,
    );
  }
  return match[1] === "duckdb" ? { kind: "duckdb", path: match[2] } : {
    kind: "parquet",
    dir: match[2],
  };
}

/** The target DSN from the env var storage.toml names (registered as a secret). */
export function targetUrl(config: AugurConfig, required: boolean): string | undefined {
  const name = config.storage.backend.timescale_url_env;
  const url = Deno.env.get(name);
  if (!url) {
    if (!required) return undefined;
    throw new ConfigError(
      `storage.toml: backend.timescale_url_env: expected environment variable ${name} to hold the PostgreSQL URL of the migration target, received nothing (it is not set)`,
    );
  }
  registerSecret(url);
  try {
    registerSecret(decodeURIComponent(new URL(url).password));
  } catch { /* not a URL: the driver reports it */ }
  return url;
}

function positiveInt(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new UsageError(`${flag}: expected a positive integer, received ${JSON.stringify(value)}`);
  }
  return n;
}

async function openSource(spec: SourceSpec): Promise<MigrateSource> {
  if (spec.kind === "duckdb") return await openDuckDbSource(spec.path);
  const { openParquetSource } = await import("../adapters/parquet_source.ts");
  return await openParquetSource<MigrateTable>(spec.dir);
}

async function runMigrateCli(args: string[]): Promise<number> {
  const { values } = parseFlags(args, FLAGS);
  const range = parseRange(values.start as string | undefined, values.end as string | undefined);
  const tables = parseTables(values.tables as string | undefined);
  const batchSize = positiveInt("--batch-size", values["batch-size"] as string | undefined, 50_000);
  const parallel = positiveInt("--parallel", values.parallel as string | undefined, 2);
  const config = await loadConfig({ dir: values.config as string | undefined });
  const from = parseFrom(values.from as string | undefined, config);
  const dryRun = values["dry-run"] === true;
  if (values.verify === true && from.kind !== "duckdb") {
    throw new UsageError(
      "--verify compares the DuckDB store with TimescaleDB: use --from duckdb:PATH",
    );
  }
  const url = targetUrl(config, !dryRun);
  const source = await openSource(from);
  let report;
  try {
    report = await runMigrate({
      source,
      targetUrl: url,
      storage: config.storage,
      range,
      tables,
      batchSize,
      parallel,
      dryRun,
      tty: Deno.stderr.isTerminal(),
    });
  } finally {
    await source.close();
  }
  if (!dryRun) {
    console.log(
      `migrated ${report.rows} rows (${report.written} written by PostgreSQL) in ${
        report.seconds.toFixed(1)
      } s, ${Math.round(report.rowsPerSecond)} rows/s; ${
        report.plan.filter((p) => p.done).length
      } partitions were already done`,
    );
  }
  if (values.verify === true && !dryRun && from.kind === "duckdb") {
    const digestTables = tables.filter((t): t is DigestTable =>
      (DIGEST_TABLES as readonly string[]).includes(t)
    );
    return await runVerifyCommand({
      config,
      duckdbPath: from.path,
      url: url!,
      range,
      tables: digestTables,
      json: false,
      limit: 10,
    });
  }
  return 0;
}

/** `augur migrate` */
export const migrateCommand: Command = {
  name: "migrate",
  summary: "backfill DuckDB (or Parquet) into TimescaleDB, resumable, with parity checks",
  usage: USAGE,
  run: runMigrateCli,
};
