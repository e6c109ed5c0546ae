/**
 * Sources of `augur migrate`: the tables it copies, the source contract (day partitions with
 * row counts, rows of one partition in batches) and the DuckDB file source, opened read-only.
 * The Parquet source (adapters/parquet_source.ts) implements the same contract.
 *
 * Rows are positional, in `TABLES[table].columns` order, with JS values per column type:
 * text → string, bigint → bigint | number, double/int → number, bool → boolean,
 * text_array → string[], bytes → Uint8Array; null for SQL NULL.
 *
 * @example
 * ```ts
 * import { openDuckDbSource } from "./migrate_sources.ts";
 * const source = await openDuckDbSource("data/augur.duckdb");
 * const days = await source.partitions("snapshots", { start: 0, end: Date.now() * 1000 });
 * await source.close();
 * ```
 * @module
 */
import type { DuckDBConnection, DuckDBInstance, DuckDBValue } from "@duckdb/node-api";
import { ConnectionError, UsageError } from "../config/errors.ts";
import { DAY_US, type TableName, TABLES, type TableSpec } from "../adapters/storage/schema.ts";
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
  close(): Promise<void>;
}

/** A batch encoded as COPY text. */
export interface CopyBatch {
  rows: number;
  /** COPY text, one `\n`-terminated line per row. */
  text: string;
}

/** DuckDB SQL escaping a VARCHAR expression for COPY text format. */
function duckCopyEscape(expr: string): string {
  return `replace(replace(replace(replace(${expr}, '\\', '\\\\'), chr(10), '\\n'), chr(13), '\\r'), chr(9), '\\t')`;
}

/**
 * The DuckDB expression producing the COPY text of one column (identifiers come from the
 * {@linkcode TABLES} allowlist). DuckDB prints doubles as shortest round-trip text.
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
        `'{' || array_to_string(list_transform(${c}, lambda x: '"' || replace(replace(x, '\\', '\\\\'), '"', '\\"') || '"'), ',') || '}'`,
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

type DuckModule = typeof import("@duckdb/node-api");

/** The DuckDB file source (read-only; the engine must be drained, or use a copy). */
class DuckDbSource implements MigrateSource {
  readonly description: string;
  constructor(
    readonly path: string,
    private readonly duck: DuckModule,
    private readonly instance: DuckDBInstance,
    private readonly conn: DuckDBConnection,
    private readonly present: Set<string>,
  ) {
    this.description = `duckdb:${path}`;
  }

  async partitions(table: MigrateTable, range: TimeRange): Promise<Partition[]> {
    if (!this.present.has(table)) return [];
    const spec: TableSpec = TABLES[table];
    const time = `"${spec.time}"`;
    const reader = await this.conn.runAndReadAll(
      `SELECT CAST(floor(${time} / ${DAY_US}) AS BIGINT) AS d, count(*) AS n FROM "${table}" WHERE ${time} >= $1 AND ${time} < $2 GROUP BY d ORDER BY d`,
      [BigInt(range.start), BigInt(range.end)],
    );
    return reader.getRows().map(([d, n]) => {
      const index = Number(d);
      return { table, day: dayName(index), range: dayRange(index, range), rows: Number(n) };
    });
  }

  async *read(partition: Partition, batchSize: number): AsyncIterable<RowValue[][]> {
    const spec: TableSpec = TABLES[partition.table];
    const cols = spec.columns.map((c) => `"${c.name}"`).join(", ");
    const time = `"${spec.time}"`;
    const order = spec.key.map((k) => `"${k}"`).join(", ");
    const result = await this.conn.stream(
      `SELECT ${cols} FROM "${spec.name}" WHERE ${time} >= $1 AND ${time} < $2 ORDER BY ${order}`,
      [BigInt(partition.range.start), BigInt(partition.range.end)],
    );
    const listIdx = spec.columns.flatMap((c, i) => c.type === "text_array" ? [i] : []);
    const blobIdx = spec.columns.flatMap((c, i) => c.type === "bytes" ? [i] : []);
    let batch: RowValue[][] = [];
    for (;;) {
      const chunk = await result.fetchChunk();
      if (chunk === null || chunk.rowCount === 0) break;
      const rows = chunk.getRows() as unknown as RowValue[][];
      if (listIdx.length || blobIdx.length) {
        for (const row of rows) {
          for (const i of listIdx) row[i] = listItems(row[i] as unknown as DuckDBValue);
          for (const i of blobIdx) row[i] = blobBytes(row[i] as unknown as DuckDBValue);
        }
      }
      for (const row of rows) {
        batch.push(row);
        if (batch.length >= batchSize) {
          yield batch;
          batch = [];
        }
      }
    }
    if (batch.length) yield batch;
    void this.duck;
  }

  async *readCopy(partition: Partition, batchSize: number): AsyncIterable<CopyBatch> {
    const spec: TableSpec = TABLES[partition.table];
    const line = spec.columns.map(duckCopyExpression).join(" || chr(9) || ");
    const time = `"${spec.time}"`;
    const order = spec.key.map((k) => `"${k}"`).join(", ");
    const result = await this.conn.stream(
      `SELECT ${line} AS line FROM "${spec.name}" WHERE ${time} >= $1 AND ${time} < $2 ORDER BY ${order}`,
      [BigInt(partition.range.start), BigInt(partition.range.end)],
    );
    let parts: string[] = [];
    let rows = 0;
    for (;;) {
      const chunk = await result.fetchChunk();
      if (chunk === null || chunk.rowCount === 0) break;
      const lines = chunk.getColumns()[0] as string[];
      parts.push(lines.join("\n") + "\n");
      rows += lines.length;
      if (rows >= batchSize) {
        yield { rows, text: parts.join("") };
        parts = [];
        rows = 0;
      }
    }
    if (rows) yield { rows, text: parts.join("") };
  }

  close(): Promise<void> {
    this.conn.closeSync();
    this.instance.closeSync();
    return Promise.resolve();
  }
}

function listItems(value: DuckDBValue): string[] | null {
  if (value === null) return null;
  const items = (value as { items?: unknown[] }).items;
  return Array.isArray(items) ? items.map(String) : [];
}

function blobBytes(value: DuckDBValue): Uint8Array | null {
  if (value === null) return null;
  const bytes = (value as { bytes?: Uint8Array }).bytes;
  return bytes instanceof Uint8Array ? bytes : new Uint8Array();
}

/**
 * Open a DuckDB store file read-only as a migrate source.
 *
 * @example
 * ```ts
 * import { openDuckDbSource } from "./migrate_sources.ts";
 * const source = await openDuckDbSource("/tmp/copy.duckdb");
 * await source.close();
 * ```
 * @throws {ConnectionError} when the file is missing or locked by a writer.
 */
export async function openDuckDbSource(path: string): Promise<MigrateSource> {
  try {
    await Deno.stat(path);
  } catch {
    throw new ConnectionError(`DuckDB source ${path} does not exist`);
  }
  const duck = await import("@duckdb/node-api");
  let instance: DuckDBInstance;
  try {
    instance = await duck.DuckDBInstance.create(path, { access_mode: "READ_ONLY" });
  } catch (error) {
    const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new ConnectionError(
      `cannot open DuckDB source ${path} read-only: ${message} (drain the engine or migrate from a copy of the file)`,
      { cause: error },
    );
  }
  const conn = await instance.connect();
  const tables = await conn.runAndReadAll(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'`,
  );
  const present = new Set(tables.getRows().map((r) => String(r[0])));
  return new DuckDbSource(path, duck, instance, conn, present);
}
