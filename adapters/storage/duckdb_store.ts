/**
 * The embedded {@linkcode Store}: one DuckDB file (default `data/augur.duckdb`), created on
 * first use, safe for one writer process. Batches are appended with DuckDB's Appender
 * (vectorised data chunks) into a temporary staging table, then merged with one
 * `INSERT OR REPLACE … SELECT` on the natural key. The native addon is loaded with a dynamic
 * import in {@linkcode DuckDbStore.initialize}, so processes on TimescaleDB never load it.
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
import type { WireValue } from "./codec.ts";
import {
  duckdbSchemaStatements,
  STORE_SCHEMA_VERSION,
  type TableName,
  TABLES,
  type TableSpec,
} from "./schema.ts";
import {
  type QueryOperation,
  type QueryTable,
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

/** Rows per appended data chunk (DuckDB's vector size). */
const CHUNK_ROWS = 2048;

/** {@linkcode Store} on an embedded DuckDB file. */
export class DuckDbStore extends SqlStore {
  readonly backend = "duckdb" as const;
  readonly path: string;
  #duck: DuckModule | undefined;
  #instance: DuckDBInstance | undefined;
  #conn: DuckDBConnection | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #initialized = false;

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
    return this.#exclusive(() =>
      this.timed(table, "upsert", async () => {
        const conn = this.#connection();
        await conn.run("BEGIN TRANSACTION");
        try {
          await this.#merge(conn, table, rows);
          await conn.run("COMMIT");
        } catch (error) {
          await conn.run("ROLLBACK").catch(() => {});
          throw error;
        }
      })
    );
  }

  protected writeSignals(
    signals: readonly WireValue[][],
    ids: readonly string[],
    flags: readonly WireValue[][],
  ): Promise<void> {
    return this.#exclusive(() =>
      this.timed("signals", "upsert", async () => {
        const conn = this.#connection();
        await conn.run("BEGIN TRANSACTION");
        try {
          await this.#merge(conn, "signals", signals);
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
          await conn.run("COMMIT");
        } catch (error) {
          await conn.run("ROLLBACK").catch(() => {});
          throw error;
        }
      })
    );
  }

  /** Append rows to the staging table and merge them into `table` (inside a transaction). */
  async #merge(conn: DuckDBConnection, table: TableName, rows: readonly WireValue[][]) {
    if (rows.length === 0) return;
    const spec: TableSpec = TABLES[table];
    const stage = `stage_${table}`;
    await conn.run(`DELETE FROM "${stage}"`);
    await this.#append(conn, stage, spec.columns, rows);
    const select = spec.columns.map((col) =>
      col.type === "text_array" ? `CAST(CAST("${col.name}" AS JSON) AS VARCHAR[])` : `"${col.name}"`
    ).join(", ");
    await conn.run(`INSERT OR REPLACE INTO "${table}" SELECT ${select} FROM "${stage}"`);
    await conn.run(`DELETE FROM "${stage}"`);
  }

  async #append(
    conn: DuckDBConnection,
    stage: string,
    columns: TableSpec["columns"],
    rows: readonly WireValue[][],
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
    const appender = await conn.createAppender(stage, "main", "temp");
    try {
      for (let offset = 0; offset < rows.length; offset += CHUNK_ROWS) {
        const part = rows.slice(offset, offset + CHUNK_ROWS);
        const chunk = duck.DuckDBDataChunk.create(types, part.length);
        const columnValues = columns.map((col, i) =>
          col.type === "bigint"
            ? part.map((r) => (r[i] === null ? null : BigInt(r[i] as number)))
            : part.map((r) => r[i] as DuckDBValue)
        );
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
      return Promise.resolve();
    });
  }
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
  return `CREATE TEMP TABLE IF NOT EXISTS "stage_${spec.name}" (${cols.join(", ")})`;
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
