/**
 * The shared {@linkcode Store} on PostgreSQL / TimescaleDB through postgres.js.
 *
 * - `initialize()` runs the plain DDL under an advisory lock (concurrent workers are safe),
 *   inserts the schema_version row only if absent, then — when the `timescaledb` extension
 *   is available — the statements of {@linkcode timescaleStatements}; otherwise it keeps the
 *   plain tables (same keys and indexes) and logs that once per process.
 * - Upserts are set-based: `INSERT … SELECT FROM unnest($1::text[], …) ON CONFLICT (key) DO
 *   UPDATE … WHERE row IS DISTINCT FROM EXCLUDED`, rows deduped and sorted by key (no
 *   deadlocks between writers), ≤ 5 000 rows per statement (up to 4 in parallel); no client-side transactions
 *   (each statement is atomic; signals and their flags go in one statement).
 * - A lost connection surfaces as {@linkcode StoreUnavailableError} (retryable).
 *
 * @example
 * ```ts
 * import { TimescaleStore } from "./timescale_store.ts";
 * import { StorageFileSchema } from "../../config/schemas/storage.ts";
 * const store = new TimescaleStore({
 *   url: "postgres://postgres@127.0.0.1:5432/augur",
 *   config: StorageFileSchema.parse({}),
 * });
 * await store.initialize();
 * await store.close();
 * ```
 * @module
 */

import postgres from "postgres";
import type { WireValue } from "./codec.ts";
import {
  postgresSchemaStatements,
  sqlType,
  STORE_SCHEMA_VERSION,
  type TableName,
  TABLES,
  type TableSpec,
  type TimescaleConfig,
  timescaleStatements,
} from "./schema.ts";
import {
  type QueryOperation,
  type QueryTable,
  SqlStore,
  type SqlStoreOptions,
} from "./sql_store.ts";
import { StoreUnavailableError } from "./types.ts";

/** Options of {@linkcode TimescaleStore}. */
export interface TimescaleStoreOptions extends SqlStoreOptions {
  /** PostgreSQL DSN (a secret: never logged). */
  url: string;
  /** Hypertable / compression / retention settings of `storage.toml`. */
  config: TimescaleConfig;
  /** Pool size (`connection.pool_size` + `connection.max_overflow`; default 20). */
  poolSize?: number;
  /** Connect timeout in seconds (`connection.pool_timeout_seconds`; default 30). */
  connectTimeoutSeconds?: number;
}

/** Rows per upsert statement. */
const STATEMENT_ROWS = 5_000;
/** Advisory lock key serialising DDL across processes ("augurddl"). */
const DDL_LOCK = 0x6175677572646c;

let loggedPlain = false;

type Sql = postgres.Sql<Record<string, never>>;

/** {@linkcode Store} on PostgreSQL with optional TimescaleDB hypertables. */
export class TimescaleStore extends SqlStore {
  readonly backend = "timescaledb" as const;
  readonly #sql: Sql;
  readonly #timescale: string[];
  #hypertables = false;
  readonly #parallel: number;

  constructor(options: TimescaleStoreOptions) {
    super(options);
    // Validate every configurable identifier before any connection or SQL.
    this.#timescale = timescaleStatements(options.config);
    this.#parallel = Math.max(1, Math.min(4, Math.floor((options.poolSize ?? 20) / 2)));
    this.#sql = postgres(options.url, {
      max: options.poolSize ?? 20,
      connect_timeout: options.connectTimeoutSeconds ?? 30,
      idle_timeout: 60,
      onnotice: () => {},
      prepare: true,
    }) as unknown as Sql;
  }

  /** True when the last initialize() created TimescaleDB hypertables. */
  get hypertables(): boolean {
    return this.#hypertables;
  }

  async initialize(): Promise<void> {
    // One simple-protocol query = one implicit transaction: the advisory lock serialises
    // concurrent initializers, and no client-side ROLLBACK is ever needed (postgres.js
    // crashes under Deno when it writes a ROLLBACK to a connection that was just lost).
    await this.#script([
      `SELECT pg_advisory_xact_lock(${DDL_LOCK})`,
      ...postgresSchemaStatements(),
      `INSERT INTO "schema_version" ("version", "applied_at") VALUES ('${STORE_SCHEMA_VERSION}', (extract(epoch FROM now()) * 1000000)::bigint) ON CONFLICT ("version") DO NOTHING`,
    ]);
    const available = await this.query(
      "*",
      "ddl",
      `SELECT 1 AS ok FROM pg_available_extensions WHERE name = 'timescaledb'`,
    );
    if (available.length === 0) {
      this.#hypertables = false;
      if (!loggedPlain) {
        loggedPlain = true;
        this.logger.info(
          "timescaledb extension not available: using plain PostgreSQL tables (same keys and indexes, no hypertables, compression or retention policies)",
        );
      }
      return;
    }
    await this.#script([
      `SELECT pg_advisory_xact_lock(${DDL_LOCK})`,
      `CREATE EXTENSION IF NOT EXISTS timescaledb`,
      ...this.#timescale,
    ]);
    this.#hypertables = true;
  }

  /** Run generated DDL statements as one simple-protocol script (one implicit transaction). */
  #script(statements: readonly string[]): Promise<void> {
    return this.timed("*", "ddl", () =>
      this.#guard("*", "ddl", async () => {
        await this.#sql.unsafe(statements.join(";\n")).simple();
      }));
  }

  /** Map driver/network failures to {@linkcode StoreUnavailableError}. */
  async #guard<T>(table: QueryTable, operation: QueryOperation, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (isConnectionFailure(error)) {
        throw new StoreUnavailableError(
          `PostgreSQL unavailable during ${operation} on ${table}: ${describe(error)}`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  protected query(
    table: QueryTable,
    operation: QueryOperation,
    sql: string,
    params: readonly WireValue[] = [],
  ): Promise<Record<string, unknown>[]> {
    return this.timed(
      table,
      operation,
      () =>
        this.#guard(
          table,
          operation,
          async () =>
            [...await this.#sql.unsafe(sql, params as postgres.ParameterOrJSON<never>[])] as Record<
              string,
              unknown
            >[],
        ),
    );
  }

  protected stream(
    table: QueryTable,
    sql: string,
    params: readonly WireValue[],
    onBatch: (rows: Record<string, unknown>[]) => void,
  ): Promise<void> {
    return this.timed(table, "digest", () =>
      this.#guard(table, "digest", async () => {
        await this.#sql.unsafe(sql, params as postgres.ParameterOrJSON<never>[]).cursor(
          5000,
          (rows) => {
            onBatch(rows as unknown as Record<string, unknown>[]);
          },
        );
      }));
  }

  protected writeRows(table: TableName, rows: readonly WireValue[][]): Promise<void> {
    // Each statement is atomic and idempotent; chunks of a large batch hold disjoint, sorted
    // key ranges, so a retry after a failure part-way re-applies the batch without harm.
    return this.timed(table, "upsert", () =>
      this.#guard(table, "upsert", async () => {
        const spec: TableSpec = TABLES[table];
        const parts: WireValue[][][] = [];
        for (let i = 0; i < rows.length; i += STATEMENT_ROWS) {
          parts.push(rows.slice(i, i + STATEMENT_ROWS));
        }
        // Disjoint sorted key ranges never wait on each other: run a few in parallel.
        let next = 0;
        const worker = async () => {
          while (next < parts.length) {
            const part = parts[next++];
            await this.#sql.unsafe(upsertSql(spec), columnParams(spec, part));
          }
        };
        await Promise.all(
          Array.from({ length: Math.min(this.#parallel, parts.length) }, worker),
        );
      }));
  }

  protected writeSignals(
    signals: readonly WireValue[][],
    ids: readonly string[],
    flags: readonly WireValue[][],
  ): Promise<void> {
    // One statement (data-modifying CTEs) keeps signals and their flags atomic without a
    // client-side transaction: upsert signals, delete the flags no longer present, upsert
    // the new flags (delete and insert touch disjoint rows).
    return this.timed("signals", "upsert", () =>
      this.#guard("signals", "upsert", async () => {
        for (let i = 0; i < signals.length; i += STATEMENT_ROWS) {
          const part = signals.slice(i, i + STATEMENT_ROWS);
          const partIds = new Set(part.map((row) => String(row[0])));
          const partFlags = flags.filter((row) => partIds.has(String(row[0])));
          await this.#sql.unsafe(signalsSql(), [
            ...columnParams(TABLES.signals, part),
            [...partIds].sort(),
            ...columnParams(TABLES.manipulation_flags, partFlags),
          ] as postgres.ParameterOrJSON<never>[]);
        }
        void ids;
      }));
  }

  async close(): Promise<void> {
    await this.#sql.end({ timeout: 2 });
  }
}

/**
 * One array parameter per column, each pre-serialised as a PostgreSQL array literal
 * (`{"a","b",NULL}`; booleans as text, `bytes` columns left to the driver). Building the
 * literal here is several times cheaper than the driver's per-element regex escaping, which
 * dominated the client's CPU on large batches.
 */
function columnParams(
  spec: TableSpec,
  rows: readonly WireValue[][],
): postgres.ParameterOrJSON<never>[] {
  return spec.columns.map((col, i) =>
    col.type === "bytes" ? rows.map((row) => row[i]) : arrayLiteral(rows, i, spec.name, col.name)
  ) as postgres.ParameterOrJSON<never>[];
}

const NEEDS_ESCAPE = /["\\]/;

/**
 * The PostgreSQL array literal of column `i` of `rows`: strings double-quoted with `"` and
 * `\\` backslash-escaped, numbers as JavaScript prints them (shortest round trip; `NaN`,
 * `Infinity` as PostgreSQL spells them), booleans as `true`/`false`, null as `NULL`.
 *
 * @example
 * ```ts
 * import { arrayLiteral } from "./timescale_store.ts";
 * arrayLiteral([["a\"b", 1], [null, 2.5]], 0, "t", "c"); // '{"a\\"b",NULL}'
 * ```
 */
export function arrayLiteral(
  rows: readonly (readonly WireValue[])[],
  i: number,
  table: string,
  column: string,
): string {
  // Parts joined once (a `+=` rope of 100k pieces is slow to flatten when sent).
  const parts: string[] = new Array(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const v = rows[r][i];
    if (v === null) parts[r] = "NULL";
    else if (typeof v === "number") parts[r] = String(v);
    else if (typeof v === "string") {
      parts[r] = NEEDS_ESCAPE.test(v)
        ? '"' + v.replace(/\\/g, "\\\\").replace(/"/g, '\\"') + '"'
        : '"' + v + '"';
    } else if (typeof v === "boolean") parts[r] = v ? "true" : "false";
    else {
      throw new TypeError(
        `${table}.${column}: expected a string, number, boolean or null, received ${
          v === undefined ? "undefined" : typeof v
        }`,
      );
    }
  }
  return "{" + parts.join(",") + "}";
}

/**
 * The set-based upsert statement of a table: one array parameter per column (numbered from
 * `offset + 1`), unnested; rows whose content is unchanged are not rewritten.
 *
 * @example
 * ```ts
 * import { upsertSql } from "./timescale_store.ts";
 * import { TABLES } from "./schema.ts";
 * upsertSql(TABLES.ticks).startsWith('INSERT INTO "ticks"'); // true
 * ```
 */
export function upsertSql(spec: TableSpec, options: { offset?: number } = {}): string {
  const offset = options.offset ?? 0;
  const names = spec.columns.map((col) => `"${col.name}"`);
  const arrays = spec.columns.map((col, i) =>
    `$${offset + i + 1}::${col.type === "text_array" ? "text" : sqlType("postgres", col.type)}[]`
  );
  const select = spec.columns.map((col) =>
    col.type === "text_array"
      ? `ARRAY(SELECT json_array_elements_text(u."${col.name}"::json))`
      : `u."${col.name}"`
  );
  const rest = spec.columns.filter((col) => !spec.key.includes(col.name));
  const conflict = `ON CONFLICT (${spec.key.map((k) => `"${k}"`).join(", ")})`;
  const action = rest.length === 0
    ? "DO NOTHING"
    : `DO UPDATE SET ${
      rest.map((col) => `"${col.name}" = EXCLUDED."${col.name}"`).join(", ")
    } WHERE (${rest.map((col) => `"${spec.name}"."${col.name}"`).join(", ")}) IS DISTINCT FROM (${
      rest.map((col) => `EXCLUDED."${col.name}"`).join(", ")
    })`;
  return `INSERT INTO "${spec.name}" (${names.join(", ")}) SELECT ${
    select.join(", ")
  } FROM unnest(${arrays.join(", ")}) AS u(${names.join(", ")}) ${conflict} ${action}`;
}

/**
 * Signals + flags in one statement: `$1..$14` signal columns, `$15` the signal ids,
 * `$16..$18` the flag columns.
 *
 * @example
 * ```ts
 * import { signalsSql } from "./timescale_store.ts";
 * signalsSql().startsWith("WITH"); // true
 * ```
 */
export function signalsSql(): string {
  const n = TABLES.signals.columns.length;
  return `WITH "sig" AS (${
    upsertSql(TABLES.signals)
  }), "gone" AS (DELETE FROM "manipulation_flags" f WHERE f."signal_id" = ANY($${
    n + 1
  }::text[]) AND NOT EXISTS (SELECT 1 FROM unnest($${n + 2}::text[], $${
    n + 3
  }::text[]) AS k("signal_id", "flag") WHERE k."signal_id" = f."signal_id" AND k."flag" = f."flag")) ${
    upsertSql(TABLES.manipulation_flags, { offset: n + 1 })
  }`;
}

const CONNECTION_CODES = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "53300", // too_many_connections
  "40001", // serialization_failure
  "40P01", // deadlock_detected
]);

/**
 * Whether an error means the server was unreachable or the connection was lost (or the
 * transaction must simply be retried): the caller may re-apply the idempotent batch.
 *
 * @example
 * ```ts
 * import { isConnectionFailure } from "./timescale_store.ts";
 * isConnectionFailure(Object.assign(new Error("x"), { code: "ECONNREFUSED" })); // true
 * ```
 */
export function isConnectionFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = String((error as { code?: unknown }).code ?? "");
  if (CONNECTION_CODES.has(code) || code.startsWith("08")) return true;
  const name = error.name ?? "";
  if (name === "ConnectionRefused" || name === "ConnectionReset" || name === "BrokenPipe") {
    return true;
  }
  return /ECONNREFUSED|ECONNRESET|connection (?:closed|ended|terminated)|socket hang up/i.test(
    error.message,
  );
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return code ? `${code} (${error.message.split("\n")[0]})` : error.message.split("\n")[0];
}
