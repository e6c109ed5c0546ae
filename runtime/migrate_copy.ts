/**
 * The PostgreSQL side of `augur migrate`: set-based bulk writes and the progress record.
 *
 * Into a day the target holds no row of, a batch is one `COPY <table> FROM STDIN` (text
 * format); its command tag is the number of rows written, and a key conflict refuses the
 * whole batch. Otherwise a batch travels as COPY into a session-local staging table
 * (`migrate_stage_<table>`, `LIKE <table>`), then one `INSERT INTO <table> SELECT … FROM
 * stage ON CONFLICT (key) DO UPDATE …`, whose command tag is the number of rows the database
 * reports as written (inserted or updated — every row of the batch when all went in). Those
 * counts are what the partition parity check compares with the source count.
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
import { Readable, type Writable } from "node:stream";
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

const PROGRESS_COLUMNS =
  `"table_name", "range_start", "range_end", "day", "source", "source_rows", "written_rows", "finished_at"`;
const PROGRESS_CONFLICT =
  `ON CONFLICT ("table_name", "range_start", "range_end") DO UPDATE SET "day" = EXCLUDED."day", "source" = EXCLUDED."source", "source_rows" = EXCLUDED."source_rows", "written_rows" = EXCLUDED."written_rows", "finished_at" = EXCLUDED."finished_at"`;

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
  async writeCopy(table: MigrateTable, data: Uint8Array | string): Promise<number> {
    if (data.length === 0) return 0;
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
      await sendCopy(this.#conn, `COPY ${stage} (${quotedColumns(spec)}) FROM STDIN`, data);
      const result = await this.#conn.unsafe(mergeSql(table));
      return result.count ?? 0;
    } catch (error) {
      throw wrap(error, `write ${table}`);
    }
  }

  /**
   * COPY encoded rows straight into `table` (one atomic statement; fails as a whole on a key
   * conflict). Used only for partitions that were empty in the target. Resolves to the rows
   * PostgreSQL reports copied (null if the driver did not tell).
   */
  async copyInto(table: MigrateTable, data: Uint8Array | string): Promise<number | null> {
    if (data.length === 0) return 0;
    const spec: TableSpec = TABLES[table];
    try {
      return await sendCopy(
        this.#conn,
        `COPY "${spec.name}" (${quotedColumns(spec)}) FROM STDIN`,
        data,
      );
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

  /** All progress records (none before the first run created the table). */
  async allProgress(): Promise<ProgressRecord[]> {
    try {
      const rows = await this.#conn.unsafe(
        `SELECT * FROM "migrate_progress" ORDER BY "table_name", "range_start"`,
      );
      return rows.map(toRecord);
    } catch (error) {
      if ((error as { code?: string }).code === "42P01") return []; // no table yet (dry run)
      throw wrap(error, "read migrate_progress");
    }
  }

  /**
   * Which of `ranges` of `table` already hold at least one row (one round trip for all).
   * Used to pick the direct-COPY path; a range filled meanwhile is caught after the write.
   */
  async occupied(table: MigrateTable, ranges: readonly TimeRange[]): Promise<boolean[]> {
    if (ranges.length === 0) return [];
    const spec: TableSpec = TABLES[table];
    const time = `"${spec.time}"`;
    try {
      const rows = await this.#conn.unsafe(
        `SELECT r.i, EXISTS (SELECT 1 FROM "${spec.name}" WHERE ${time} >= r.s AND ${time} < r.e) AS used FROM unnest($1::bigint[], $2::bigint[]) WITH ORDINALITY AS r(s, e, i) ORDER BY r.i`,
        [ranges.map((r) => String(r.start)), ranges.map((r) => String(r.end))] as never,
      );
      return rows.map((row) => row.used === true);
    } catch (error) {
      throw wrap(error, `check ${table}`);
    }
  }

  /**
   * Count the partition's range and, in the same statement, record the partition as finished
   * when the count allows: with `written` null (direct COPY into an empty range) the count is
   * what PostgreSQL wrote and must equal the source rows; with `written` given (upserts, already
   * equal to the source rows) the range must hold at least the source rows.
   */
  async finish(
    partition: Partition,
    source: string,
    written: number | null,
    finishedAtUs: number,
  ): Promise<{ present: number; recorded: boolean }> {
    const spec: TableSpec = TABLES[partition.table];
    const time = `"${spec.time}"`;
    try {
      const rows = await this.#conn.unsafe(
        `WITH c AS (SELECT count(*) AS n FROM "${spec.name}" WHERE ${time} >= $2::bigint AND ${time} < $3::bigint),
        ins AS (INSERT INTO "migrate_progress" (${PROGRESS_COLUMNS}) SELECT $1::text, $2::bigint, $3::bigint, $4::text, $5::text, $6::bigint, coalesce($7::bigint, c.n), $8::bigint FROM c WHERE c.n = $6::bigint OR ($7::bigint IS NOT NULL AND c.n >= $6::bigint) ${PROGRESS_CONFLICT} RETURNING 1)
        SELECT c.n, (SELECT count(*) FROM ins) AS recorded FROM c`,
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
      return { present: Number(rows[0].n), recorded: Number(rows[0].recorded) === 1 };
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

/** Bytes per CopyData message (postgres.js copies each chunk into one message). */
const COPY_CHUNK = 1 << 20;

/** The parts of a postgres.js query object {@linkcode sendCopy} hooks. */
interface CopyQuery extends Promise<unknown> {
  resolve?: (value: unknown) => unknown;
  reject?: (error: unknown) => unknown;
  writable(): Promise<Writable>;
}

/**
 * Run `COPY … FROM STDIN` on `conn` with `data` as its whole input; resolves to the number
 * of rows PostgreSQL reports copied (its command tag), or null if the driver did not say.
 *
 * postgres.js resolves a COPY query with its input stream, so it has no way left to report
 * the command tag — nor an error PostgreSQL raises after the last byte was sent (a key
 * conflict, a bad value): that stream then never finishes and the COPY would wait forever.
 * The query object's own `resolve`/`reject` (instance properties in postgres.js 3.4, pinned
 * in deno.json) still receive both, so they are observed here.
 */
async function sendCopy(
  conn: Reserved,
  statement: string,
  data: Uint8Array | string,
): Promise<number | null> {
  const chunks: (Uint8Array | string)[] = [];
  if (typeof data === "string") chunks.push(data);
  else {for (let i = 0; i < data.length; i += COPY_CHUNK) {
      chunks.push(data.subarray(i, i + COPY_CHUNK));
    }}
  const query = conn.unsafe(statement) as unknown as CopyQuery;
  const { resolve, reject } = query;
  let outcome: Promise<number | null> | undefined;
  if (typeof resolve === "function" && typeof reject === "function") {
    outcome = new Promise<number | null>((done, fail) => {
      query.resolve = (value) => {
        const result = value as { command?: unknown; count?: unknown } | null;
        if (result?.command === "COPY") {
          done(typeof result.count === "number" ? result.count : null);
        }
        return resolve(value);
      };
      query.reject = (error) => {
        fail(error);
        return reject(error);
      };
    });
    outcome.catch(() => {}); // observed below; never an unhandled rejection
  }
  const writable = await query.writable();
  const sent = pipeline(Readable.from(chunks), writable);
  if (!outcome) {
    await sent;
    return null;
  }
  sent.catch(() => {});
  await Promise.race([sent, outcome]);
  return await outcome;
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
