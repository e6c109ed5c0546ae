/**
 * Sources of `augur migrate`: the tables it copies and the source contract (day partitions
 * with row counts, rows of one partition in batches). The DuckDB file source
 * (runtime/migrate_duckdb.ts) and the Parquet source (adapters/parquet_source.ts) implement it.
 *
 * Rows are positional, in `TABLES[table].columns` order, with JS values per column type:
 * text → string, bigint → bigint | number, double/int → number, bool → boolean,
 * text_array → string[], bytes → Uint8Array; null for SQL NULL.
 *
 * @example
 * ```ts
 * import { parseTables } from "./migrate_sources.ts";
 * parseTables("snapshots,trades"); // ["snapshots", "trades"]
 * ```
 * @module
 */
import { UsageError } from "../config/errors.ts";
import { DAY_US, type TableName, type TableSpec } from "../adapters/storage/schema.ts";
import type { TimeRange } from "../adapters/storage/types.ts";

/** Tables `augur migrate` copies, in the order it copies them (parents before children). */
export const MIGRATE_TABLES = [
  "snapshots",
  "trades",
  "features",
  "signals",
  "manipulation_flags",
  "contexts",
  "ticks",
  "calibration_fpr",
  "reliability_curves",
] as const satisfies readonly TableName[];

/** A table `augur migrate` copies. */
export type MigrateTable = typeof MIGRATE_TABLES[number];

/** One positional row value. */
export type RowValue = string | number | bigint | boolean | null | string[] | Uint8Array;

/** One partition: a UTC day of one table, clipped to the requested range. */
export interface Partition {
  table: MigrateTable;
  /** UTC day `YYYY-MM-DD`. */
  day: string;
  /** Half-open range of the partition in epoch µs (the day ∩ the requested range). */
  range: TimeRange;
  /** Rows the source holds in `range`. */
  rows: number;
}

/** A migrate source. */
export interface MigrateSource {
  /** Short description for logs and the progress table (`duckdb:PATH`, `parquet:DIR`). */
  readonly description: string;
  /** Day partitions of `table` with at least one row in `range`, ascending. */
  partitions(table: MigrateTable, range: TimeRange): Promise<Partition[]>;
  /** Rows of one partition in batches of at most `batchSize`, in key order. */
  read(partition: Partition, batchSize: number): AsyncIterable<RowValue[][]>;
  /**
   * Optional fast path: the same batches already encoded as PostgreSQL COPY text (one line
   * per row, columns in `TABLES` order), with their row counts.
   */
  readCopy?(partition: Partition, batchSize: number): AsyncIterable<CopyBatch>;
  /**
   * Optional: the partitions about to be read, in order, so that the source can prepare
   * several at once. Reading any partition stays valid afterwards (in any order, twice).
   */
  prepare?(todo: readonly Partition[]): void;
  close(): Promise<void>;
}

/** A batch encoded as COPY text. */
export interface CopyBatch {
  rows: number;
  /** COPY text (UTF-8 bytes or a string), one `\n`-terminated line per row. */
  data: Uint8Array | string;
}

/**
 * DuckDB SQL escaping a VARCHAR expression for COPY text format. Most values contain none of
 * the four characters: testing first (`contains` is a plain scan) and rewriting only the
 * others halves the cost of exporting a snapshot row.
 */
function duckCopyEscape(expr: string): string {
  const special = ["'\\'", "chr(9)", "chr(10)", "chr(13)"].map((ch) => `contains(${expr}, ${ch})`);
  return `CASE WHEN ${
    special.join(" OR ")
  } THEN replace(replace(replace(replace(${expr}, '\\', '\\\\'), chr(10), '\\n'), chr(13), '\\r'), chr(9), '\\t') ELSE ${expr} END`;
}

/**
 * The DuckDB expression producing the COPY text of one column (identifiers come from the
 * {@linkcode TABLES} allowlist). DuckDB prints doubles as shortest round-trip text (`inf`,
 * `nan` included, which PostgreSQL reads).
 */
export function duckCopyExpression(column: TableSpec["columns"][number]): string {
  const c = `"${column.name}"`;
  let value: string;
  switch (column.type) {
    case "text":
      value = duckCopyEscape(c);
      break;
    case "bool":
      value = `CASE WHEN ${c} THEN 't' ELSE 'f' END`;
      break;
    case "text_array":
      value = duckCopyEscape(
        `'{' || array_to_string(list_transform(${c}, lambda x: CASE WHEN x IS NULL THEN 'NULL' ELSE '"' || replace(replace(x, '\\', '\\\\'), '"', '\\"') || '"' END), ',') || '}'`,
      );
      break;
    case "bytes":
      value = `'\\\\x' || hex(${c})`;
      break;
    default:
      value = `CAST(${c} AS VARCHAR)`;
  }
  return `CASE WHEN ${c} IS NULL THEN '\\N' ELSE ${value} END`;
}

/**
 * The DuckDB expression producing a whole COPY text line of `spec` (without the newline).
 * `concat_ws` (no column is NULL any more) builds it in one step, cheaper than chained `||`.
 *
 * @example
 * ```ts
 * import { duckCopyLine } from "./migrate_sources.ts";
 * import { TABLES } from "../adapters/storage/schema.ts";
 * duckCopyLine(TABLES.ticks).startsWith("concat_ws(chr(9), "); // true
 * ```
 */
export function duckCopyLine(spec: TableSpec): string {
  return `concat_ws(chr(9), ${spec.columns.map(duckCopyExpression).join(", ")})`;
}

/**
 * Parse `--tables a,b` against the migrate allowlist (order follows {@linkcode MIGRATE_TABLES}).
 *
 * @example
 * ```ts
 * import { parseTables } from "./migrate_sources.ts";
 * parseTables("signals,snapshots"); // ["snapshots", "signals"]
 * ```
 */
export function parseTables(value: string | undefined): MigrateTable[] {
  if (value === undefined || value.trim() === "") return [...MIGRATE_TABLES];
  const wanted = value.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  for (const name of wanted) {
    if (!(MIGRATE_TABLES as readonly string[]).includes(name)) {
      throw new UsageError(
        `--tables: expected a comma-separated list of ${MIGRATE_TABLES.join(", ")}, received ${
          JSON.stringify(name)
        }`,
      );
    }
  }
  return MIGRATE_TABLES.filter((t) => wanted.includes(t));
}

/** The UTC day index of an epoch-µs instant. */
export function dayIndex(micros: number): number {
  return Math.floor(micros / DAY_US);
}

/** `YYYY-MM-DD` of a day index. */
export function dayName(index: number): string {
  return new Date(index * 86_400_000).toISOString().slice(0, 10);
}

/** The range of day `index` clipped to `range`. */
export function dayRange(index: number, range: TimeRange): TimeRange {
  return {
    start: Math.max(index * DAY_US, range.start),
    end: Math.min((index + 1) * DAY_US, range.end),
  };
}
