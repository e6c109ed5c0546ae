/**
 * The PostgreSQL side of `augur migrate`: set-based bulk writes and the progress record.
 *
 * A batch travels as `COPY … FROM STDIN` (text format) into a session-local staging table
 * (`migrate_stage_<table>`, `LIKE <table>`), then one `INSERT INTO <table> SELECT … FROM
 * stage ON CONFLICT (key) DO UPDATE …`. The INSERT's command tag is the number of rows the
 * database reports as written (inserted or updated — every row of the batch when all went
 * in), which is what the partition parity check compares with the source count.
 *
 * Finished partitions are recorded in `migrate_progress` (table, range, source rows, written
 * rows); a rerun skips a partition whose record matches the source's current count. Every
 * identifier comes from the {@linkcode TABLES} allowlist; every value is bound or travels
 * in COPY data. No client-side transactions (postgres.js under Deno can crash when writing
 * ROLLBACK to a lost connection): each statement is atomic on its own.
 *
 * @example
 * ```ts
 * import { PgMigrateTarget } from "./migrate_copy.ts";
 * const target = await PgMigrateTarget.open("postgres://postgres@127.0.0.1:5432/augur");
 * await target.close();
 * ```
 * @module
 */
import postgres from "postgres";
import net from "node:net";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { TABLES, type TableSpec } from "../adapters/storage/schema.ts";
import type { TimeRange } from "../adapters/storage/types.ts";
import { isConnectionFailure } from "../adapters/storage/timescale_store.ts";
import { StoreUnavailableError } from "../adapters/storage/types.ts";
import { AugurError } from "../config/errors.ts";
import type { MigrateTable, Partition, RowValue } from "./migrate_sources.ts";

/** A write was refused by PostgreSQL for a reason other than a lost connection. */
export class MigrateWriteError extends AugurError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "MigrateWriteError";
  }
}

/** DDL of the progress table (identifiers are constants). */
export const PROGRESS_DDL =
  `CREATE TABLE IF NOT EXISTS "migrate_progress" ("table_name" text NOT NULL, "range_start" bigint NOT NULL, "range_end" bigint NOT NULL, "day" text NOT NULL, "source" text NOT NULL, "source_rows" bigint NOT NULL, "written_rows" bigint NOT NULL, "finished_at" bigint NOT NULL, PRIMARY KEY ("table_name", "range_start", "range_end"))`;

/** A recorded finished partition. */
export interface ProgressRecord {
  table: string;
  range: TimeRange;
  day: string;
  source: string;
  sourceRows: number;
  writtenRows: number;
  finishedAt: number;
}

type Sql = postgres.Sql<Record<string, never>>;
type Reserved = postgres.ReservedSql<Record<string, never>>;

const ESCAPE = /[\\\n\r\t]/;

/** Escape a text value for COPY text format. */
function escapeText(value: string): string {
  if (!ESCAPE.test(value)) return value;
  let out = "";
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    out += c === "\\" ? "\\\\" : c === "\n" ? "\\n" : c === "\r" ? "\\r" : c === "\t" ? "\\t" : c;
  }
  return out;
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Encode one value of a column for COPY text format. */
function copyValue(type: TableSpec["columns"][number]["type"], value: RowValue): string {
  if (value === null || value === undefined) return "\\N";
  switch (type) {
    case "text":
      return escapeText(value as string);
    case "bool":
      return value ? "t" : "f";
    case "text_array": {
      const items = value as string[];
      const body = items.map((s) => `"${String(s).replace(/[\\"]/g, "\\$&")}"`).join(",");
      return escapeText(`{${body}}`);
    }
    case "bytes": {
      let hex = "\\\\x";
      for (const b of value as Uint8Array) hex += HEX[b];
      return hex;
    }
    default:
      return String(value);
  }
}

/**
 * COPY text of rows of `table` (one line per row, tab-separated, `\N` for NULL).
 *
 * @example
 * ```ts
 * import { copyText } from "./migrate_copy.ts";
 * copyText("ticks", [["kalshi", 1n, 3]]); // "kalshi\t1\t3\n"
 * ```
 */
export function copyText(table: MigrateTable, rows: readonly RowValue[][]): string {
  const spec: TableSpec = TABLES[table];
  const types = spec.columns.map((c) => c.type);
  const n = types.length;
  const lines: string[] = new Array(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r];
    let line = copyValue(types[0], row[0]);
    for (let i = 1; i < n; i++) line += "\t" + copyValue(types[i], row[i]);
    lines[r] = line;
  }
  return lines.join("\n") + "\n";
}

function quotedColumns(spec: TableSpec): string {
  return spec.columns.map((c) => `"${c.name}"`).join(", ");
}

/** `INSERT … SELECT FROM stage ON CONFLICT (key) DO UPDATE` for one table. */
export function mergeSql(table: MigrateTable): string {
  const spec: TableSpec = TABLES[table];
  const cols = quotedColumns(spec);
  const rest = spec.columns.filter((c) => !spec.key.includes(c.name)).map((c) => c.name);
  // Always DO UPDATE (never DO NOTHING): every row of the batch is reported as written.
  const set = (rest.length ? rest : [spec.key[0]]).map((c) => `"${c}" = EXCLUDED."${c}"`);
  return `INSERT INTO "${spec.name}" (${cols}) SELECT ${cols} FROM "migrate_stage_${spec.name}" ON CONFLICT (${
    spec.key.map((k) => `"${k}"`).join(", ")
  }) DO UPDATE SET ${set.join(", ")}`;
}

/** The PostgreSQL target of a migration: bulk writes, counts, progress records. */
export class PgMigrateTarget {
  readonly #sql: Sql;
  readonly #conn: Reserved;
  readonly #staged = new Set<string>();

  private constructor(sql: Sql, conn: Reserved) {
    this.#sql = sql;
    this.#conn = conn;
  }

  /** Connect (one reserved session for the staging tables) and create `migrate_progress`. */
  static async open(
    url: string,
    options: { connectTimeoutSeconds?: number; create?: boolean } = {},
  ): Promise<PgMigrateTarget> {
    const sql = postgres(url, {
      max: 2,
      connect_timeout: options.connectTimeoutSeconds ?? 30,
      onnotice: () => {},
      prepare: true,
      socket: noDelaySocket,
    } as postgres.Options<Record<string, never>>) as unknown as Sql;
    try {
      const conn = await sql.reserve();
      // Later commits durable ⇒ earlier ones durable (WAL order): the progress record is
      // written after its data, so relaxing the per-commit flush cannot lose a partition.
      await conn.unsafe(`SET synchronous_commit = off`);
      if (options.create !== false) await conn.unsafe(PROGRESS_DDL);
      return new PgMigrateTarget(sql, conn);
    } catch (error) {
      await sql.end({ timeout: 1 }).catch(() => {});
      throw wrap(error, "connect");
    }
  }

  /**
   * Write one batch of `table` (COPY into staging, then merge); resolves to the number of
   * rows PostgreSQL reports written.
   */
  writeBatch(table: MigrateTable, rows: readonly RowValue[][]): Promise<number> {
    if (rows.length === 0) return Promise.resolve(0);
    return this.writeCopy(table, copyText(table, rows));
  }

  /** Like {@linkcode PgMigrateTarget.writeBatch} with rows already encoded as COPY text. */
  async writeCopy(table: MigrateTable, text: string): Promise<number> {
    if (text.length === 0) return 0;
    const spec: TableSpec = TABLES[table];
    const stage = `"migrate_stage_${spec.name}"`;
    try {
      if (!this.#staged.has(table)) {
        await this.#conn.unsafe(
          `CREATE TEMP TABLE IF NOT EXISTS ${stage} (LIKE "${spec.name}")`,
        );
        this.#staged.add(table);
      }
      await this.#conn.unsafe(`TRUNCATE ${stage}`);
      const writable = await this.#conn.unsafe(
        `COPY ${stage} (${quotedColumns(spec)}) FROM STDIN`,
      ).writable();
      await pipeline(Readable.from([text]), writable);
      const result = await this.#conn.unsafe(mergeSql(table));
      return result.count ?? 0;
    } catch (error) {
      throw wrap(error, `write ${table}`);
    }
  }

  /**
   * COPY encoded rows straight into `table` (one atomic statement; fails as a whole on a key
   * conflict). Used only for partitions that were empty in the target.
   */
  async copyInto(table: MigrateTable, text: string): Promise<void> {
    if (text.length === 0) return;
    const spec: TableSpec = TABLES[table];
    try {
      const writable = await this.#conn.unsafe(
        `COPY "${spec.name}" (${quotedColumns(spec)}) FROM STDIN`,
      ).writable();
      await pipeline(Readable.from([text]), writable);
    } catch (error) {
      throw wrap(error, `copy ${table}`);
    }
  }

  /** Rows of `table` in `range` as PostgreSQL counts them. */
  async count(table: MigrateTable, range: TimeRange): Promise<number> {
    const spec: TableSpec = TABLES[table];
    const time = `"${spec.time}"`;
    try {
      const rows = await this.#conn.unsafe(
        `SELECT count(*) AS n FROM "${spec.name}" WHERE ${time} >= $1 AND ${time} < $2`,
        [range.start, range.end],
      );
      return Number(rows[0].n);
    } catch (error) {
      throw wrap(error, `count ${table}`);
    }
  }

  /** The progress record of a partition, or null. */
  async progress(partition: Partition): Promise<ProgressRecord | null> {
    try {
      const rows = await this.#conn.unsafe(
        `SELECT "table_name", "range_start", "range_end", "day", "source", "source_rows", "written_rows", "finished_at" FROM "migrate_progress" WHERE "table_name" = $1 AND "range_start" = $2 AND "range_end" = $3`,
        [partition.table, partition.range.start, partition.range.end],
      );
      if (rows.length === 0) return null;
      return toRecord(rows[0]);
    } catch (error) {
      if ((error as { code?: string }).code === "42P01") return null; // no table yet (dry run)
      throw wrap(error, "read migrate_progress");
    }
  }

  /** All progress records (tests, `--dry-run`). */
  async allProgress(): Promise<ProgressRecord[]> {
    const rows = await this.#conn.unsafe(
      `SELECT * FROM "migrate_progress" ORDER BY "table_name", "range_start"`,
    );
    return rows.map(toRecord);
  }

  /** Record a finished partition (upsert). */
  async recordProgress(
    partition: Partition,
    source: string,
    written: number,
    finishedAtUs: number,
  ): Promise<void> {
    try {
      await this.#conn.unsafe(
        `INSERT INTO "migrate_progress" ("table_name", "range_start", "range_end", "day", "source", "source_rows", "written_rows", "finished_at") VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT ("table_name", "range_start", "range_end") DO UPDATE SET "day" = EXCLUDED."day", "source" = EXCLUDED."source", "source_rows" = EXCLUDED."source_rows", "written_rows" = EXCLUDED."written_rows", "finished_at" = EXCLUDED."finished_at"`,
        [
          partition.table,
          partition.range.start,
          partition.range.end,
          partition.day,
          source,
          partition.rows,
          written,
          finishedAtUs,
        ],
      );
    } catch (error) {
      throw wrap(error, "write migrate_progress");
    }
  }

  async close(): Promise<void> {
    try {
      this.#conn.release();
    } catch { /* already released */ }
    await this.#sql.end({ timeout: 2 });
  }
}

/**
 * A TCP socket with Nagle's algorithm off. postgres.js never calls `setNoDelay`, and under
 * Deno's node:net its small back-to-back writes (COPY data then CopyDone, Parse then
 * Execute) otherwise wait for the peer's delayed ACK: ~40 ms per statement.
 */
function noDelaySocket(options: { host: string[]; port: number[]; path?: string }): net.Socket {
  const socket = options.path
    ? net.connect(options.path)
    : net.connect(options.port[0], options.host[0]);
  socket.setNoDelay(true);
  return socket;
}

function toRecord(row: Record<string, unknown>): ProgressRecord {
  return {
    table: String(row.table_name),
    range: { start: Number(row.range_start), end: Number(row.range_end) },
    day: String(row.day),
    source: String(row.source),
    sourceRows: Number(row.source_rows),
    writtenRows: Number(row.written_rows),
    finishedAt: Number(row.finished_at),
  };
}

function wrap(error: unknown, what: string): Error {
  if (error instanceof AugurError) return error;
  const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
  const code = (error as { code?: string }).code;
  if (isConnectionFailure(error)) {
    return new StoreUnavailableError(`PostgreSQL unavailable during ${what}: ${message}`, {
      cause: error,
    });
  }
  const where = (error as { where?: string }).where;
  return new MigrateWriteError(
    `PostgreSQL refused ${what}${code ? ` (${code})` : ""}: ${message}${
      where ? ` [${String(where).split("\n")[0]}]` : ""
    }`,
    { cause: error },
  );
}
