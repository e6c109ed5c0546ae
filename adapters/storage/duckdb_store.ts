/**
 * The embedded {@linkcode Store}: one DuckDB file (default `data/augur.duckdb`), created on
 * first use, safe for one writer process. Batches are appended with DuckDB's Appender
 * (vectorised data chunks) into a temporary staging table, deduped there (the last row of a
 * key wins), then merged in one transaction: time-keyed tables (no primary key, see
 * `duckdbSchemaStatements`) by a delete of changed rows and an insert of new ones, both
 * joins bounded to the batch's time span; the others by `INSERT OR REPLACE` on their key.
 * A batch of snapshots, features or ticks that holds only new keys (each later than what is
 * stored for its market and platform: a live engine's usual batch) skips all that and is
 * appended straight into the table (see `AppendWatermarks`).
 * The native addon is loaded with a dynamic import in {@linkcode DuckDbStore.initialize},
 * so processes on TimescaleDB never load it.
 *
 * @example
 * ```ts
 * import { DuckDbStore } from "./duckdb_store.ts";
 * const store = new DuckDbStore({ path: "data/augur.duckdb" });
 * await store.initialize();
 * await store.close();
 * ```
 * @module
 */

import type { DuckDBConnection, DuckDBInstance, DuckDBType, DuckDBValue } from "@duckdb/node-api";
import { dirname } from "node:path";
import { ConnectionError } from "../../config/errors.ts";
import type { TableCodec, WireValue } from "./codec.ts";
import {
  duckdbSchemaStatements,
  STORE_SCHEMA_VERSION,
  type TableName,
  TABLES,
  type TableSpec,
  timeKeyed,
} from "./schema.ts";
import { AppendWatermarks } from "./append_watermarks.ts";
import {
  type QueryOperation,
  type QueryTable,
  type SnapshotReadBatch,
  SqlStore,
  type SqlStoreOptions,
} from "./sql_store.ts";

type DuckModule = typeof import("@duckdb/node-api");

/** Options of {@linkcode DuckDbStore}. */
export interface DuckDbStoreOptions extends SqlStoreOptions {
  /** Database file (parent directories are created); `:memory:` for a throwaway database. */
  path: string;
}

/** Tables written through staging + appender. */
const STAGED: readonly TableName[] = [
  "snapshots",
  "trades",
  "features",
  "signals",
  "manipulation_flags",
  "contexts",
  "ticks",
];

/**
 * Time-keyed tables whose batches are appended straight into the table when they hold only
 * new keys ({@linkcode AppendWatermarks}): their entities (markets, platforms) are bounded,
 * so the marks stay small. Signals and contexts (one entity per signal) are always merged.
 */
const APPEND_TABLES: ReadonlySet<TableName> = new Set(["snapshots", "features", "ticks"]);

/** Rows per appended data chunk (DuckDB's vector size). */
const CHUNK_ROWS = 2048;

/** Staging column holding each row's position in its batch (the last of a key wins). */
const SEQ = "_seq";

/** A write queued for a group transaction. */
interface GroupedWrite {
  readonly tables: readonly TableName[];
  /** Runs inside the transaction; returns what to do once it committed. */
  readonly write: (conn: DuckDBConnection) => Promise<(() => void) | undefined>;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** {@linkcode Store} on an embedded DuckDB file. */
export class DuckDbStore extends SqlStore {
  readonly backend = "duckdb" as const;
  readonly path: string;
  #duck: DuckModule | undefined;
  #instance: DuckDBInstance | undefined;
  #conn: DuckDBConnection | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #initialized = false;
  readonly #watermarks = new Map<TableName, AppendWatermarks>();
  /** Writes waiting for the next group transaction (see `#transact`). */
  readonly #group: GroupedWrite[] = [];

  constructor(options: DuckDbStoreOptions) {
    super(options);
    this.path = options.path;
  }

  /** Serialise every operation on the single connection (transactions never interleave). */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn, fn);
    this.#chain = run.catch(() => {});
    return run;
  }

  async #open(): Promise<DuckDBConnection> {
    if (this.#conn) return this.#conn;
    this.#duck ??= await import("@duckdb/node-api");
    if (this.path !== ":memory:") await Deno.mkdir(dirname(this.path), { recursive: true });
    try {
      this.#instance = await this.#duck.DuckDBInstance.create(this.path);
    } catch (error) {
      throw openError(this.path, error);
    }
    this.#conn = await this.#instance.connect();
    return this.#conn;
  }

  /** Open (or create) the file, create tables and staging tables. Idempotent. */
  initialize(): Promise<void> {
    return this.#exclusive(async () => {
      const conn = await this.#open();
      await this.timed("*", "ddl", async () => {
        for (const statement of duckdbSchemaStatements()) await conn.run(statement);
        for (const table of STAGED) await conn.run(stagingDdl(TABLES[table]));
        await conn.run(`CREATE TEMP TABLE IF NOT EXISTS "stage_signal_ids" ("signal_id" VARCHAR)`);
        await conn.run(
          `INSERT INTO "schema_version" ("version", "applied_at") VALUES ($1, $2) ON CONFLICT DO NOTHING`,
          [STORE_SCHEMA_VERSION, BigInt(Date.now()) * 1000n],
        );
      });
      this.#initialized = true;
    });
  }

  #connection(): DuckDBConnection {
    if (!this.#conn || !this.#initialized) {
      throw new Error("DuckDbStore is not initialized: call initialize() first");
    }
    return this.#conn;
  }

  protected query(
    table: QueryTable,
    operation: QueryOperation,
    sql: string,
    params: readonly WireValue[] = [],
  ): Promise<Record<string, unknown>[]> {
    return this.#exclusive(() =>
      this.timed(table, operation, async () => {
        const reader = await this.#connection().runAndReadAll(sql, this.#bind(params));
        return reader.getRowObjects() as Record<string, unknown>[];
      })
    );
  }

  protected snapshotReads(batch: SnapshotReadBatch): Promise<Record<string, unknown>[]> {
    return this.#exclusive(() =>
      this.timed("snapshots", "select", async () => {
        const duck = this.#duck!;
        const times = (values: number[]) => duck.listValue(values.map((v) => BigInt(v)));
        const lists = batch.kind === "oldest"
          ? [times(batch.start), times(batch.end)]
          : [times(batch.asOf)];
        const window = batch.kind === "latest_prior" ? [BigInt(batch.window)] : [];
        const reader = await this.#connection().runAndReadAll(
          duckdbSnapshotReadSql(batch.kind),
          [duck.listValue(batch.marketIds), ...lists, ...window],
          [
            duck.LIST(duck.VARCHAR),
            ...lists.map(() => duck.LIST(duck.BIGINT)),
            ...window.map(() => duck.BIGINT),
          ],
        );
        return reader.getRowObjects() as Record<string, unknown>[];
      })
    );
  }

  protected stream(
    table: QueryTable,
    sql: string,
    params: readonly WireValue[],
    onBatch: (rows: Record<string, unknown>[]) => void,
  ): Promise<void> {
    return this.#exclusive(() =>
      this.timed(table, "digest", async () => {
        const result = await this.#connection().stream(sql, this.#bind(params));
        for await (const rows of result.yieldRowObjects()) {
          onBatch(rows as Record<string, unknown>[]);
        }
      })
    );
  }

  #bind(params: readonly WireValue[]): DuckDBValue[] {
    const duck = this.#duck!;
    return params.map((p) => {
      if (typeof p === "number" && Number.isSafeInteger(p)) return BigInt(p);
      if (p instanceof Uint8Array) return duck.blobValue(p);
      return p as DuckDBValue;
    });
  }

  protected writeRows(table: TableName, rows: readonly WireValue[][]): Promise<void> {
    return this.#transact(
      [table],
      (conn) => this.timed(table, "upsert", () => this.#merge(conn, table, rows)),
    );
  }

  protected writeSignals(
    signals: readonly WireValue[][],
    ids: readonly string[],
    flags: readonly WireValue[][],
  ): Promise<void> {
    return this.#transact(
      ["signals", "manipulation_flags"],
      (conn) =>
        this.timed("signals", "upsert", async () => {
          const written = await this.#merge(conn, "signals", signals);
          await conn.run(`DELETE FROM "stage_signal_ids"`);
          await this.#append(
            conn,
            "stage_signal_ids",
            [{ name: "signal_id", type: "text" }],
            ids.map((id) => [id]),
          );
          await conn.run(
            `DELETE FROM "manipulation_flags" WHERE "signal_id" IN (SELECT "signal_id" FROM "stage_signal_ids")`,
          );
          await this.#merge(conn, "manipulation_flags", flags);
          return written;
        }),
    );
  }

  /**
   * Run a write inside a transaction shared with the writes queued together with it (group
   * commit): a store sink writes a commit's tables concurrently, and one `COMMIT` for all of
   * them costs a fraction of one per table (DuckDB's commit is most of a small batch's
   * time). If any write of the group fails, the group is rolled back and every write in it
   * fails (writes are idempotent upserts: their callers retry them).
   */
  #transact(
    tables: readonly TableName[],
    write: (conn: DuckDBConnection) => Promise<(() => void) | undefined>,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#group.push({ tables, write, resolve, reject });
      if (this.#group.length === 1) void this.#exclusive(() => this.#commitGroup());
    });
  }

  async #commitGroup(): Promise<void> {
    const writes = this.#group.splice(0);
    if (writes.length === 0) return;
    const done: ((() => void) | undefined)[] = [];
    try {
      const conn = this.#connection();
      await conn.run("BEGIN TRANSACTION");
      try {
        for (const { write } of writes) done.push(await write(conn));
        await this.timed("*", "commit", () => conn.run("COMMIT"));
      } catch (error) {
        await conn.run("ROLLBACK").catch(() => {});
        throw error;
      }
    } catch (error) {
      // The marks never rose for this group; reload them in case the failure left a table
      // in a state they do not describe (a rollback that did not happen).
      for (const { tables } of writes) for (const t of tables) this.#watermarks.get(t)?.reset();
      for (const { reject } of writes) reject(error);
      return;
    }
    for (const written of done) written?.();
    for (const { resolve } of writes) resolve();
  }

  /** Rows in batch order: the merge dedupes them in SQL (the last row of a key wins). */
  protected override encodeBatch<R>(codec: TableCodec<R>, records: readonly R[]): WireValue[][] {
    return records.map((record) => codec.encode(record));
  }

  /**
   * Append rows to the staging table and merge them into `table` (inside a transaction):
   * the last row of each key wins; time-keyed tables take a join merge bounded to the
   * batch's time span (see {@linkcode mergeStatements}), the others `INSERT OR REPLACE`.
   */
  async #merge(
    conn: DuckDBConnection,
    table: TableName,
    rows: readonly WireValue[][],
  ): Promise<(() => void) | undefined> {
    if (rows.length === 0) return;
    const spec: TableSpec = TABLES[table];
    // New keys only (a live engine's usual batch): the batch goes straight into the table.
    const marks = await this.#watermarksOf(conn, table);
    const batch = marks?.inspect(rows);
    const written = batch && (() => marks!.commit(batch));
    if (batch?.fresh) {
      await this.#append(conn, { table, schema: "main" }, spec.columns, rows);
      return written;
    }
    const stage = `stage_${table}`;
    await conn.run(`DELETE FROM "${stage}"`);
    await this.#append(conn, stage, spec.columns, rows, { seq: true });
    const merge = mergeStatements(spec);
    // A key twice in one batch is rare: find out with one aggregate, and only then keep
    // the last row of each key (a window over every batch would cost more than the merge).
    const dupes = await conn.runAndReadAll(merge.duplicates);
    if (Number(dupes.getRows()[0][0]) > 0) await conn.run(merge.dedupe);
    if (merge.span) {
      const at = spec.columns.findIndex((col) => col.name === spec.time);
      let lo = Infinity, hi = -Infinity;
      for (const row of rows) {
        const t = row[at] as number;
        if (t < lo) lo = t;
        if (t > hi) hi = t;
      }
      const span = [BigInt(lo), BigInt(hi)];
      for (const statement of merge.statements) await conn.run(statement, span);
    } else {
      for (const statement of merge.statements) await conn.run(statement);
    }
    await conn.run(`DELETE FROM "${stage}"`);
    return written;
  }

  /**
   * The high-water marks of a table written by appends when its batches hold new keys
   * (loaded from the table on first use), or undefined for the tables always merged.
   */
  async #watermarksOf(
    conn: DuckDBConnection,
    table: TableName,
  ): Promise<AppendWatermarks | undefined> {
    if (!APPEND_TABLES.has(table)) return undefined;
    let marks = this.#watermarks.get(table);
    if (marks === undefined) {
      marks = new AppendWatermarks(TABLES[table]);
      this.#watermarks.set(table, marks);
    }
    if (!marks.loaded) {
      const entity = marks.entityColumns.map((col) => `"${col}"`).join(", ");
      const reader = await conn.runAndReadAll(
        `SELECT ${entity}, max("${marks.timeColumn}") FROM "${table}" GROUP BY ${entity}`,
      );
      marks.load(reader.getRows());
    }
    return marks;
  }

  async #append(
    conn: DuckDBConnection,
    stage: string | { table: string; schema: string; catalog?: string },
    columns: TableSpec["columns"],
    rows: readonly WireValue[][],
    options: { seq?: boolean } = {},
  ): Promise<void> {
    const duck = this.#duck!;
    const types: DuckDBType[] = columns.map((col) =>
      col.type === "bigint"
        ? duck.BIGINT
        : col.type === "double"
        ? duck.DOUBLE
        : col.type === "int"
        ? duck.INTEGER
        : col.type === "bool"
        ? duck.BOOLEAN
        : duck.VARCHAR
    );
    if (options.seq) types.push(duck.INTEGER);
    const target = typeof stage === "string"
      ? { table: stage, schema: "main", catalog: "temp" }
      : stage;
    const appender = await conn.createAppender(target.table, target.schema, target.catalog);
    try {
      for (let offset = 0; offset < rows.length; offset += CHUNK_ROWS) {
        const part = rows.slice(offset, offset + CHUNK_ROWS);
        const chunk = duck.DuckDBDataChunk.create(types, part.length);
        const columnValues = columns.map((col, i) =>
          col.type === "bigint"
            ? part.map((r) => (r[i] === null ? null : BigInt(r[i] as number)))
            : part.map((r) => r[i] as DuckDBValue)
        );
        if (options.seq) columnValues.push(part.map((_, i) => offset + i));
        chunk.setColumns(columnValues as DuckDBValue[][]);
        appender.appendDataChunk(chunk);
      }
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
  }

  /** Close the connection and the file (releases the lock). Idempotent. */
  close(): Promise<void> {
    return this.#exclusive(() => {
      this.#conn?.closeSync();
      this.#instance?.closeSync();
      this.#conn = undefined;
      this.#instance = undefined;
      this.#initialized = false;
      this.#watermarks.clear();
      return Promise.resolve();
    });
  }
}

/**
 * The batched snapshot point reads of {@linkcode SqlStore.snapshotReads} on DuckDB (no
 * index on `snapshots`): the reads are unnested from list parameters (`$1` market ids, then
 * `$2` asOf, or `$2`/`$3` start/end) next to their 1-based `ord`, joined to the snapshots
 * of their market and time bound (one scan for the whole batch, pruned by the batch's time
 * span), and the first row per read by timestamp is kept. `latest_prior` (`$3` the window)
 * joins the latest rows found once more for their priors (`"prior"` 0 and 1).
 *
 * @example
 * ```ts
 * import { duckdbSnapshotReadSql } from "./duckdb_store.ts";
 * duckdbSnapshotReadSql("oldest").includes("QUALIFY"); // true
 * ```
 */
export function duckdbSnapshotReadSql(kind: SnapshotReadBatch["kind"]): string {
  const first = (order: string) =>
    `QUALIFY row_number() OVER (PARTITION BY r."ord" ORDER BY s."timestamp" ${order}) = 1`;
  const reads = (bounds: string) =>
    `WITH r AS (SELECT unnest($1::VARCHAR[]) AS "market_id", ${bounds}, unnest(range(1, len($1::VARCHAR[]) + 1)) AS "ord")`;
  if (kind === "oldest") {
    return `${
      reads(`unnest($2::BIGINT[]) AS "start", unnest($3::BIGINT[]) AS "end"`)
    } SELECT r."ord", s.* FROM r JOIN "snapshots" AS s ON s."market_id" = r."market_id" AND s."timestamp" >= r."start" AND s."timestamp" < r."end" WHERE s."timestamp" >= (SELECT min("start") FROM r) AND s."timestamp" < (SELECT max("end") FROM r) ${
      first("ASC")
    }`;
  }
  const latest =
    `SELECT r."ord", s.* FROM r JOIN "snapshots" AS s ON s."market_id" = r."market_id" AND s."timestamp" <= r."as_of" WHERE s."timestamp" <= (SELECT max("as_of") FROM r) ${
      first("DESC")
    }`;
  if (kind === "latest") return `${reads(`unnest($2::BIGINT[]) AS "as_of"`)} ${latest}`;
  return `${
    reads(`unnest($2::BIGINT[]) AS "as_of"`)
  }, l AS (${latest}) SELECT 0 AS "prior", l.* FROM l UNION ALL SELECT 1 AS "prior", r."ord", s.* FROM l AS r JOIN "snapshots" AS s ON s."market_id" = r."market_id" AND s."timestamp" >= r."timestamp" - $3 AND s."timestamp" < r."timestamp" WHERE s."timestamp" >= (SELECT min("timestamp") FROM l) - $3 ${
    first("ASC")
  }`;
}

function stagingDdl(spec: TableSpec): string {
  const cols = spec.columns.map((col) =>
    `"${col.name}" ${
      col.type === "bigint"
        ? "BIGINT"
        : col.type === "double"
        ? "DOUBLE"
        : col.type === "int"
        ? "INTEGER"
        : col.type === "bool"
        ? "BOOLEAN"
        : "VARCHAR"
    }`
  );
  cols.push(`"${SEQ}" INTEGER`);
  // Recreated per process: an older process's staging layout never lingers.
  return `CREATE OR REPLACE TEMP TABLE "stage_${spec.name}" (${cols.join(", ")})`;
}

/** The merge of a staging table into its table. */
interface MergePlan {
  /** Count of keys that occur more than once in the staging table. */
  duplicates: string;
  /** Delete every staging row but the last of its key. */
  dedupe: string;
  /** Statements in order; with `span`, each takes $1/$2 = the batch's first/last time. */
  statements: string[];
  span: boolean;
}

const MERGES = new Map<string, MergePlan>();

/**
 * The statements merging `stage_<table>` (deduped first: the last row of each key, by the
 * staging sequence, wins) into `<table>`:
 *
 * - Time-keyed tables (no primary key in DuckDB): delete the stored rows whose key is in
 *   the batch and whose content differs, then insert the batch rows whose key is not
 *   stored. Both joins are bounded to the batch's time span, which DuckDB's zone maps
 *   turn into a scan of just those row groups; unchanged rows are not rewritten, so a
 *   re-applied batch changes nothing.
 * - Other tables: `INSERT OR REPLACE` on the primary key.
 */
function mergeStatements(spec: TableSpec): MergePlan {
  const cached = MERGES.get(spec.name);
  if (cached) return cached;
  const q = (name: string) => `"${name}"`;
  const table = q(spec.name);
  const stage = q(`stage_${spec.name}`);
  const keys = spec.key.map((k) => `s.${q(k)}`).join(", ");
  const value = (col: TableSpec["columns"][number]) =>
    col.type === "text_array"
      ? `CAST(CAST(s.${q(col.name)} AS JSON) AS VARCHAR[])`
      : `s.${q(col.name)}`;
  const select = spec.columns.map(value).join(", ");
  const into = `${table} (${spec.columns.map((col) => q(col.name)).join(", ")})`;
  const plan: MergePlan = {
    duplicates:
      `SELECT count(*) FROM (SELECT 1 FROM ${stage} AS s GROUP BY ${keys} HAVING count(*) > 1)`,
    dedupe: `DELETE FROM ${stage} WHERE ${q(SEQ)} NOT IN (SELECT max(s.${
      q(SEQ)
    }) FROM ${stage} AS s GROUP BY ${keys})`,
    statements: [],
    span: timeKeyed(spec),
  };
  if (plan.span) {
    const match = spec.key.map((k) => `t.${q(k)} = s.${q(k)}`).join(" AND ");
    const inSpan = `t.${q(spec.time!)} BETWEEN $1 AND $2`;
    const rest = spec.columns.filter((col) => !spec.key.includes(col.name));
    if (rest.length > 0) {
      plan.statements.push(
        `DELETE FROM ${table} AS t USING ${stage} AS s WHERE ${match} AND ${inSpan} AND (${
          rest.map((col) => `t.${q(col.name)}`).join(", ")
        }) IS DISTINCT FROM (${rest.map(value).join(", ")})`,
      );
    }
    plan.statements.push(
      `INSERT INTO ${into} SELECT ${select} FROM ${stage} AS s WHERE NOT EXISTS (SELECT 1 FROM ${table} AS t WHERE ${match} AND ${inSpan})`,
    );
  } else {
    plan.statements.push(`INSERT OR REPLACE INTO ${into} SELECT ${select} FROM ${stage} AS s`);
  }
  MERGES.set(spec.name, plan);
  return plan;
}

/** One-line error for a file that cannot be opened (lock held by another process, …). */
function openError(path: string, error: unknown): ConnectionError {
  const message = error instanceof Error ? error.message : String(error);
  const lock = /Conflicting lock is held in .*?\(PID (\d+)\)/.exec(message);
  if (lock) {
    return new ConnectionError(
      `${path} is locked by another process (pid ${
        lock[1]
      }); DuckDB allows one writer process — stop it or use a copy`,
      { cause: error },
    );
  }
  return new ConnectionError(`cannot open DuckDB file ${path}: ${message.split("\n")[0]}`, {
    cause: error,
  });
}
