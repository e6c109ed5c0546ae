/**
 * The shared {@linkcode Store} on PostgreSQL / TimescaleDB through postgres.js.
 *
 * - `initialize()` runs the plain DDL under an advisory lock (concurrent workers are safe),
 *   inserts the schema_version row only if absent, then — when the `timescaledb` extension
 *   is available — the statements of {@linkcode timescaleStatements}; otherwise it keeps the
 *   plain tables (same keys and indexes) and logs that once per process.
 * - Batches are deduped and sorted by key (writers lock rows in one order: no deadlocks),
 *   split into parts of ≤ 10 000 rows, each written by one atomic statement on one of up to
 *   4 writer connections in parallel: a binary `COPY` straight into the table (new rows,
 *   the usual case: no text escaping or parsing, no speculative insertion), and when a key
 *   already exists (the COPY failed whole) a `COPY` into a session-temporary staging table
 *   merged by `INSERT … SELECT … ON CONFLICT (key) DO UPDATE … WHERE row IS DISTINCT FROM
 *   EXCLUDED` (unchanged rows are not rewritten). No client-side transactions. Signals and
 *   their flags go in one `unnest` statement.
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
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { WireValue } from "./codec.ts";
import { copyBinary } from "./pg_copy.ts";
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
  type SnapshotReadBatch,
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
  /**
   * Connections in all (`connection.pool_size` + `connection.max_overflow`; default 20,
   * at least 2): up to 4, half of them, write bulk batches; the rest serve the others.
   */
  poolSize?: number;
  /** Connect timeout in seconds (`connection.pool_timeout_seconds`; default 30). */
  connectTimeoutSeconds?: number;
}

/** Statement texts prepared per store (each connection prepares those it runs). */
const PREPARED_MAX = 256;
/** Rows per statement (a staged part stays well inside the default 8 MB temp_buffers). */
const STATEMENT_ROWS = 10_000;
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
  readonly #prepared = new Set<string>();
  /**
   * Single-connection clients for bulk writes, one per part in flight: a part's
   * statements must share a session (its temporary staging table). postgres.js 3.4's
   * `reserve()` / `begin()` would give that too, but after a dropped connection a waiting
   * reservation is lost (the caller hangs) and a released dead connection is handed out
   * again (the next write to its null socket crashes the process); a `max: 1` client just
   * reconnects on its next query.
   */
  readonly #writers: Sql[];
  readonly #idle: Sql[];
  readonly #waiting: ((writer: Sql) => void)[] = [];

  constructor(options: TimescaleStoreOptions) {
    super(options);
    // Validate every configurable identifier before any connection or SQL.
    this.#timescale = timescaleStatements(options.config);
    const poolSize = Math.max(2, options.poolSize ?? 20);
    // Up to 4 writer connections (half the pool), the rest for reads and other statements.
    const writers = Math.min(4, Math.floor(poolSize / 2));
    const connect = (max: number) =>
      postgres(options.url, {
        max,
        connect_timeout: options.connectTimeoutSeconds ?? 30,
        idle_timeout: 60,
        onnotice: () => {},
        prepare: true,
      }) as unknown as Sql;
    this.#sql = connect(poolSize - writers);
    this.#writers = Array.from({ length: writers }, () => connect(1));
    this.#idle = [...this.#writers];
  }

  /** Run `fn` with a writer connection of its own (waits for one to be free). */
  async #withWriter<T>(fn: (writer: Sql) => Promise<T>): Promise<T> {
    const writer = this.#idle.pop() ??
      await new Promise<Sql>((resolve) => this.#waiting.push(resolve));
    try {
      return await fn(writer);
    } finally {
      const next = this.#waiting.shift();
      if (next) next(writer);
      else this.#idle.push(writer);
    }
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
    // A prepared statement skips the describe round trip and re-planning; the statement
    // texts are a small fixed set, except range reads over a list of markets (one text per
    // list length), hence the cap.
    const prepare = this.#prepared.has(sql) ||
      (this.#prepared.size < PREPARED_MAX && this.#prepared.add(sql) !== undefined);
    return this.timed(table, operation, () =>
      this.#guard(table, operation, async () => {
        const result = await this.#sql.unsafe(
          sql,
          params as postgres.ParameterOrJSON<never>[],
          { prepare },
        );
        return [...result] as Record<string, unknown>[];
      }));
  }

  protected snapshotReads(batch: SnapshotReadBatch): Promise<Record<string, unknown>[]> {
    // Array parameters: one prepared statement whatever the batch size.
    const params = batch.kind === "latest"
      ? [batch.marketIds, batch.asOf]
      : batch.kind === "oldest"
      ? [batch.marketIds, batch.start, batch.end]
      : [batch.marketIds, batch.asOf, batch.window];
    return this.query("snapshots", "select", snapshotReadSql(batch.kind), params as never);
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
    // Each part is staged and merged by one atomic, idempotent statement; parts of a large
    // batch hold disjoint, sorted key ranges, so they never wait on each other (one per
    // writer connection run in parallel) and a retry after a failure part-way re-applies
    // the batch without harm.
    return this.timed(table, "upsert", () =>
      this.#guard(table, "upsert", async () => {
        const spec: TableSpec = TABLES[table];
        const parts: WireValue[][][] = [];
        for (let i = 0; i < rows.length; i += STATEMENT_ROWS) {
          parts.push(rows.slice(i, i + STATEMENT_ROWS));
        }
        // After a failure, parts not yet started are skipped, and the call settles only
        // when none of its parts is still writing (a retry never overlaps this attempt).
        let failed = false;
        const results = await Promise.allSettled(parts.map((part) =>
          this.#withWriter(async (writer) => {
            if (failed) return;
            try {
              await this.#writePart(writer, spec, part);
            } catch (error) {
              failed = true;
              throw error;
            }
          })
        ));
        const failure = results.find((r): r is PromiseRejectedResult =>
          r.status === "rejected"
        );
        if (failure) throw failure.reason;
      }));
  }

  /**
   * Write one part: binary `COPY` straight into the table (new rows, the usual case); when
   * a key already exists (unique violation: the COPY changed nothing), `COPY` into this
   * session's temporary staging table and merge with `INSERT … ON CONFLICT DO UPDATE`.
   * Tables with array columns always take the staging path (arrays are staged as JSON).
   */
  async #writePart(
    writer: Sql,
    spec: TableSpec,
    rows: readonly WireValue[][],
  ): Promise<void> {
    const chunks = copyBinary(spec, rows);
    const direct = !spec.columns.some((col) => col.type === "text_array");
    if (direct) {
      try {
        await this.#copy(writer, copySql(spec, { target: "table" }), chunks);
        return;
      } catch (error) {
        if ((error as { code?: unknown }).code !== UNIQUE_VIOLATION) throw error;
      }
    }
    await writer.unsafe(stageSql(spec));
    await this.#copy(writer, copySql(spec), chunks);
    await writer.unsafe(mergeSql(spec));
  }

  /** Stream `chunks` into `COPY … FROM STDIN` on the writer's connection. */
  async #copy(writer: Sql, sql: string, chunks: Uint8Array[]): Promise<void> {
    const query = writer.unsafe(sql);
    // postgres.js resolves a COPY query with its stream, and once the last byte is sent
    // it detaches the stream: a server error after that (a duplicate key found at the
    // end) or a connection lost then settles neither. Both still pass through the
    // query's reject function, already spent by then: listen there.
    const hooked = query as unknown as { reject: (error: unknown) => unknown };
    const spent = hooked.reject;
    const failed = new Promise<never>((_, reject) => {
      hooked.reject = (error) => {
        reject(error);
        return spent(error);
      };
    });
    await Promise.race([
      (async () => await pipeline(Readable.from(chunks), await query.writable()))(),
      failed,
    ]);
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
    await Promise.all(
      [this.#sql, ...this.#writers].map((sql) => sql.end({ timeout: 2 })),
    );
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

const UNIQUE_VIOLATION = "23505";

const stageName = (spec: TableSpec) => `pg_temp."stage_${spec.name}"`;

/**
 * Create this session's staging table of `spec` if needed and empty it (one simple-protocol
 * script). Array columns are staged as their JSON text.
 *
 * @example
 * ```ts
 * import { stageSql } from "./timescale_store.ts";
 * import { TABLES } from "./schema.ts";
 * stageSql(TABLES.ticks).startsWith('CREATE TEMP TABLE IF NOT EXISTS pg_temp."stage_ticks"'); // true
 * ```
 */
export function stageSql(spec: TableSpec): string {
  const cols = spec.columns.map((col) =>
    `"${col.name}" ${col.type === "text_array" ? "text" : sqlType("postgres", col.type)}`
  );
  return `CREATE TEMP TABLE IF NOT EXISTS ${stageName(spec)} (${cols.join(", ")}); TRUNCATE ${
    stageName(spec)
  }`;
}

/**
 * The binary `COPY … FROM STDIN` into the staging table of `spec` (default) or, with
 * `target: "table"`, into the table itself.
 *
 * @example
 * ```ts
 * import { copySql } from "./timescale_store.ts";
 * import { TABLES } from "./schema.ts";
 * copySql(TABLES.ticks); // 'COPY pg_temp."stage_ticks" ("platform", "t", "announced") FROM STDIN (FORMAT binary)'
 * copySql(TABLES.ticks, { target: "table" }).startsWith('COPY "ticks"'); // true
 * ```
 */
export function copySql(spec: TableSpec, options: { target?: "stage" | "table" } = {}): string {
  return `COPY ${options.target === "table" ? `"${spec.name}"` : stageName(spec)} (${
    spec.columns.map((col) => `"${col.name}"`).join(", ")
  }) FROM STDIN (FORMAT binary)`;
}

/**
 * The batched snapshot point reads of {@linkcode SqlStore.snapshotReads} on PostgreSQL: the
 * reads are unnested from array parameters (`$1` market ids, then `$2` asOf, or `$2`/`$3`
 * start/end) `WITH ORDINALITY`, and each takes one index probe through a `LATERAL … ORDER
 * BY "timestamp" LIMIT 1`; a read without a snapshot has no row. `latest_prior` (`$3` the
 * window) probes once more from each latest row found, and answers it and its prior as
 * two rows (`"prior"` 0 and 1; no prior row when none is older than the latest).
 *
 * @example
 * ```ts
 * import { snapshotReadSql } from "./timescale_store.ts";
 * snapshotReadSql("latest").includes("WITH ORDINALITY"); // true
 * ```
 */
export function snapshotReadSql(kind: SnapshotReadBatch["kind"]): string {
  const columns = TABLES.snapshots.columns.map((col) => `s."${col.name}"`).join(", ");
  const probe = (where: string, order: string) =>
    `SELECT ${columns} FROM "snapshots" AS s WHERE s."market_id" = r."market_id" AND ${where} ORDER BY s."timestamp" ${order} LIMIT 1`;
  if (kind === "oldest") {
    return `SELECT r."ord", s.* FROM unnest($1::text[], $2::bigint[], $3::bigint[]) WITH ORDINALITY AS r("market_id", "start", "end", "ord") CROSS JOIN LATERAL (${
      probe(`s."timestamp" >= r."start" AND s."timestamp" < r."end"`, "ASC")
    }) AS s`;
  }
  const reads =
    `unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS r("market_id", "as_of", "ord") CROSS JOIN LATERAL (${
      probe(`s."timestamp" <= r."as_of"`, "DESC")
    })`;
  if (kind === "latest") return `SELECT r."ord", s.* FROM ${reads} AS s`;
  return `SELECT r."ord", x.* FROM ${reads} AS l CROSS JOIN LATERAL (SELECT 0 AS "prior", l.* UNION ALL (SELECT 1, ${columns} FROM "snapshots" AS s WHERE s."market_id" = r."market_id" AND s."timestamp" >= l."timestamp" - $3::bigint AND s."timestamp" < l."timestamp" ORDER BY s."timestamp" ASC LIMIT 1)) AS x`;
}

/**
 * Merge the staging table of `spec` into the table: `INSERT … SELECT` with the table's
 * `ON CONFLICT` clause (see {@linkcode upsertSql}).
 *
 * @example
 * ```ts
 * import { mergeSql } from "./timescale_store.ts";
 * import { TABLES } from "./schema.ts";
 * mergeSql(TABLES.ticks).includes("ON CONFLICT"); // true
 * ```
 */
export function mergeSql(spec: TableSpec): string {
  const names = spec.columns.map((col) => `"${col.name}"`);
  return `INSERT INTO "${spec.name}" (${names.join(", ")}) SELECT ${selectList(spec)} FROM ${
    stageName(spec)
  } AS u ${conflictClause(spec)}`;
}

/** The select list turning staged / unnested columns `u."…"` into table columns. */
function selectList(spec: TableSpec): string {
  return spec.columns.map((col) =>
    col.type === "text_array"
      ? `ARRAY(SELECT json_array_elements_text(u."${col.name}"::json))`
      : `u."${col.name}"`
  ).join(", ");
}

/** `ON CONFLICT (key) DO UPDATE …` rewriting only rows whose content changed. */
function conflictClause(spec: TableSpec): string {
  const rest = spec.columns.filter((col) => !spec.key.includes(col.name));
  const conflict = `ON CONFLICT (${spec.key.map((k) => `"${k}"`).join(", ")})`;
  const action = rest.length === 0
    ? "DO NOTHING"
    : `DO UPDATE SET ${
      rest.map((col) => `"${col.name}" = EXCLUDED."${col.name}"`).join(", ")
    } WHERE (${rest.map((col) => `"${spec.name}"."${col.name}"`).join(", ")}) IS DISTINCT FROM (${
      rest.map((col) => `EXCLUDED."${col.name}"`).join(", ")
    })`;
  return `${conflict} ${action}`;
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
  return `INSERT INTO "${spec.name}" (${names.join(", ")}) SELECT ${selectList(spec)} FROM unnest(${
    arrays.join(", ")
  }) AS u(${names.join(", ")}) ${conflictClause(spec)}`;
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
