/**
 * `augur verify --start ISO --end ISO`: per (table, market, UTC day) row counts and content
 * digests of the DuckDB store (opened read-only) and TimescaleDB, each computed inside its
 * database (runtime/verify_sql.ts); exit 0 only on full parity.
 *
 * @example
 * ```sh
 * AUGUR_TIMESCALE_URL=postgres://… augur verify --start 2026-03-01 --end 2026-04-01 --json
 * ```
 * @module
 */
import type { Command } from "./command.ts";
import { parseFlags } from "./flags.ts";
import { UsageError } from "../config/errors.ts";
import { type AugurConfig, loadConfig } from "../config/loader.ts";
import { DIGEST_TABLES, type DigestTable, type TimeRange } from "../adapters/storage/types.ts";
import { formatVerifyReport, verifyStores } from "../runtime/verify.ts";
import { openDuckDbDigests, openPgDigests } from "../runtime/verify_sql.ts";
import { parseFrom, parseRange, targetUrl } from "./migrate.ts";

const USAGE = `Usage: augur verify --start ISO --end ISO [options]

Compares the DuckDB store with the TimescaleDB store (storage.toml
backend.timescale_url_env) over [start, end): for every (table, market, UTC day) the row
count and an order-independent digest of the canonical row content, each database hashing
its own rows with the same definition (md5 of every row's canonical text, summed per
group). Prints a summary and the first mismatching groups.

Options:
  --start ISO        start of the range (e.g. 2026-03-01 or 2026-03-01T00:00:00Z)
  --end ISO          end of the range, exclusive
  --from duckdb:PATH the DuckDB file (default storage.toml backend.duckdb_path); use a
                     drained engine's file or a copy
  --tables a,b       only these tables (${DIGEST_TABLES.join(", ")})
  --limit N          mismatching groups to print (default 10)
  --json             print the report as JSON
  --config DIR       configuration directory
  -h, --help         show this help

Exit 0 on full parity, 1 when any group differs, 2 on usage or configuration errors.`;

const FLAGS = {
  start: { type: "string" },
  end: { type: "string" },
  from: { type: "string" },
  tables: { type: "string" },
  limit: { type: "string" },
  json: { type: "boolean" },
  config: { type: "string" },
} as const;

/** Inputs of {@linkcode runVerifyCommand}. */
export interface VerifyCommandOptions {
  config: AugurConfig;
  duckdbPath: string;
  url: string;
  range: TimeRange;
  tables: readonly DigestTable[];
  json: boolean;
  limit: number;
}

/** Open both stores, verify, print; resolves to the exit code (0 parity, 1 otherwise). */
export async function runVerifyCommand(options: VerifyCommandOptions): Promise<number> {
  try {
    await Deno.stat(options.duckdbPath);
  } catch {
    throw new UsageError(`DuckDB file ${options.duckdbPath} does not exist`);
  }
  // Each database hashes its own rows (runtime/verify_sql.ts); augur compares the groups.
  const source = await openDuckDbDigests(options.duckdbPath);
  try {
    const target = await openPgDigests(options.url, { poolSize: 2 });
    try {
      const report = await verifyStores(source, target, {
        ...options.range,
        tables: options.tables,
        limit: options.limit,
        concurrency: 2,
      });
      if (options.json) console.log(JSON.stringify(report));
      else console.log(formatVerifyReport(report).trimEnd());
      return report.parity ? 0 : 1;
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}

function parseDigestTables(value: string | undefined): DigestTable[] {
  if (value === undefined || value.trim() === "") return [...DIGEST_TABLES];
  const wanted = value.split(",").map((s) => s.trim()).filter(Boolean);
  for (const name of wanted) {
    if (!(DIGEST_TABLES as readonly string[]).includes(name)) {
      throw new UsageError(
        `--tables: expected a comma-separated list of ${DIGEST_TABLES.join(", ")}, received ${
          JSON.stringify(name)
        }`,
      );
    }
  }
  return DIGEST_TABLES.filter((t) => wanted.includes(t));
}

async function runVerifyCli(args: string[]): Promise<number> {
  const { values } = parseFlags(args, FLAGS);
  if (values.start === undefined || values.end === undefined) {
    throw new UsageError("augur verify needs --start ISO and --end ISO");
  }
  const range = parseRange(values.start as string, values.end as string);
  const tables = parseDigestTables(values.tables as string | undefined);
  let limit = 10;
  if (values.limit !== undefined) {
    limit = Number(values.limit);
    if (!Number.isInteger(limit) || limit < 0) {
      throw new UsageError(
        `--limit: expected a non-negative integer, received ${JSON.stringify(values.limit)}`,
      );
    }
  }
  const config = await loadConfig({ dir: values.config as string | undefined });
  const from = parseFrom(values.from as string | undefined, config);
  if (from.kind !== "duckdb") {
    throw new UsageError("--from: augur verify reads a DuckDB store: use duckdb:PATH");
  }
  return await runVerifyCommand({
    config,
    duckdbPath: from.path,
    url: targetUrl(config, true)!,
    range,
    tables,
    json: values.json === true,
    limit,
  });
}

/** `augur verify` */
export const verifyCommand: Command = {
  name: "verify",
  summary: "parity of the DuckDB and TimescaleDB stores (counts and content digests)",
  usage: USAGE,
  run: runVerifyCli,
};
