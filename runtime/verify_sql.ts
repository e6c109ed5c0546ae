/**
 * Group digests computed inside the databases for `augur verify`: DuckDB (its own threads)
 * and PostgreSQL (its own backend) each hash their rows with the same SQL definition, so
 * augur never decodes a row — it only compares one (count, digest) per (table, market, UTC
 * day).
 *
 * The definition (`sql-md5-v1`), identical on both engines:
 *
 * - a row's canonical text joins its columns (in {@linkcode TABLES} order) with `,`: text as
 *   `<UTF-8 byte length>:<text>`; bigint and int in decimal; double as the decimal of its
 *   IEEE-754 bit pattern read as a signed 64-bit integer (exact: no float formatting, which
 *   differs between the engines); bool as `t`/`f`; a text array as `<n>[e1,e2,…]` with each
 *   element encoded like text; SQL NULL as `N`. Every field is self-delimiting, so two
 *   different rows never share a text. A signal's text ends with its manipulation flags in
 *   the range (`<n>[<flag>,<detected_at>,…]`, by flag in byte order), as the Store digest
 *   includes them;
 * - the group digest is Σ (first 8 bytes of md5(text), big-endian) mod 2^64 over the group's
 *   rows (16 hex digits): order-independent, and any changed, missing or extra row changes
 *   it (the count is compared too).
 *
 * Stores compare with {@linkcode Store.groupDigests} (sha256 of decoded records); the two
 * definitions are different and never compared with each other ({@linkcode DigestReader}).
 *
 * @example
 * ```ts
 * import { openDuckDbDigests, openPgDigests } from "./verify_sql.ts";
 * import { verifyStores } from "./verify.ts";
 * const source = await openDuckDbDigests("data/augur.duckdb");
 * const target = await openPgDigests("postgres://postgres@127.0.0.1:5432/augur");
 * const report = await verifyStores(source, target, { start: 0, end: Date.now() * 1000 });
 * await source.close();
 * await target.close();
 * ```
 * @module
 */
import postgres from "postgres";
import type { DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { DAY_US, TABLES, type TableSpec } from "../adapters/storage/schema.ts";
import {
  type DigestQuery,
  type DigestTable,
  type GroupDigest,
  StoreUnavailableError,
} from "../adapters/storage/types.ts";
import { isConnectionFailure } from "../adapters/storage/timescale_store.ts";
import { dayName } from "./migrate_sources.ts";
import { openReadOnly } from "./migrate_duckdb.ts";

/** The digest definition both readers implement. */
export const SQL_DIGEST_KIND = "sql-md5-v1";

/** Something that yields per-group digests: a Store, or a SQL digest reader. */
export interface DigestReader {
  /** Digest definition; both sides of a verify must use the same (Stores: undefined). */
  readonly digestKind?: string;
  groupDigests(query: DigestQuery): Promise<GroupDigest[]>;
}

/** A SQL digest reader holding a connection. */
export interface SqlDigestReader extends DigestReader {
  readonly digestKind: typeof SQL_DIGEST_KIND;
  close(): Promise<void>;
}

type Engine = "postgres" | "duckdb";
type Column = TableSpec["columns"][number];

/** The canonical text of a text value `v` (non-NULL). */
function textField(engine: Engine, v: string): string {
  return `${engine === "postgres" ? "octet_length" : "strlen"}(${v}) || ':' || ${v}`;
}

/** The canonical text of one column (`N` for NULL). Identifiers come from TABLES. */
function fieldSql(engine: Engine, column: Column, alias: string): string {
  const c = `${alias}."${column.name}"`;
  const pg = engine === "postgres";
  let value: string;
  switch (column.type) {
    case "text":
      value = textField(engine, c);
      break;
    case "bigint":
    case "int":
      value = pg ? `${c}::text` : `CAST(${c} AS VARCHAR)`;
      break;
    case "double":
      value = pg
        ? `(('x' || encode(float8send(${c}), 'hex'))::bit(64)::bigint)::text`
        : `CAST(CAST(CAST(${c} AS BIT) AS BIGINT) AS VARCHAR)`;
      break;
    case "bool":
      value = `CASE WHEN ${c} THEN 't' ELSE 'f' END`;
      break;
    case "text_array": {
      const item = (e: string) =>
        `CASE WHEN ${e} IS NULL THEN 'N' ELSE ${textField(engine, e)} END`;
      value = pg
        ? `cardinality(${c}) || '[' || coalesce((SELECT string_agg(${
          item("e")
        }, ',' ORDER BY i) FROM unnest(${c}) WITH ORDINALITY AS u(e, i)), '') || ']'`
        : `len(${c}) || '[' || array_to_string(list_transform(${c}, lambda e: ${
          item("e")
        }), ',') || ']'`;
      break;
    }
    default:
      throw new TypeError(`no canonical text for column type ${column.type}`);
  }
  // Every non-NULL field starts with a digit, '-', 't', 'f' or is length-prefixed: 'N' is
  // unambiguous.
  return `coalesce(${value}, 'N')`;
}

/**
 * The SQL of one digest table's group digests on one engine: columns `m` (market), `d` (day
 * index), `n` (rows), `s` (Σ of the rows' 64-bit hashes, not yet reduced mod 2^64); `$1`,
 * `$2` bind the half-open time range.
 *
 * @example
 * ```ts
 * import { digestSql } from "./verify_sql.ts";
 * digestSql("postgres", "features").includes("md5("); // true
 * ```
 */
export function digestSql(engine: Engine, table: DigestTable): string {
  const spec: TableSpec = TABLES[table];
  const pg = engine === "postgres";
  const time = `t."${spec.time}"`;
  let text = spec.columns.map((c) => fieldSql(engine, c, "t")).join(" || ',' || ");
  let join = "";
  if (table === "signals") {
    const item = `${textField(engine, `f."flag"`)} || ',' || f."detected_at"`;
    const order = pg ? `f."flag" COLLATE "C"` : `f."flag"`;
    join =
      ` LEFT JOIN (SELECT f."signal_id", count(*) || '[' || string_agg(${item}, ',' ORDER BY ${order}) || ']' AS flags FROM "manipulation_flags" f WHERE f."detected_at" >= $1 AND f."detected_at" < $2 GROUP BY f."signal_id") g ON g."signal_id" = t."signal_id"`;
    text += ` || ',' || coalesce(g.flags, '0[]')`;
  }
  const hex = `substr(md5(${text}), 1, 16)`;
  const hash = pg ? `('x' || ${hex})::bit(64)::bigint` : `CAST('0x' || ${hex} AS UBIGINT)`;
  // floor(t / day) with truncating integer division on both engines.
  const div = pg ? "/" : "//";
  const day = `(${time} - ((${time} % ${DAY_US}) + ${DAY_US}) % ${DAY_US}) ${div} ${DAY_US}`;
  return `SELECT t."market_id" AS m, ${day} AS d, count(*) AS n, sum(${hash}) AS s FROM "${spec.name}" t${join} WHERE ${time} >= $1 AND ${time} < $2 GROUP BY 1, 2`;
}

const MOD = 1n << 64n;

/** Group digests from `[market, day index, count, sum]` rows. */
function toDigests(table: DigestTable, rows: Iterable<readonly unknown[]>): GroupDigest[] {
  const out: GroupDigest[] = [];
  for (const [m, d, n, s] of rows) {
    const sum = ((BigInt(s as bigint | string) % MOD) + MOD) % MOD;
    out.push({
      table,
      market_id: String(m),
      day: dayName(Number(d)),
      count: Number(n),
      digest: sum.toString(16).padStart(16, "0"),
    });
  }
  return out.sort((a, b) =>
    a.market_id === b.market_id
      ? (a.day < b.day ? -1 : a.day > b.day ? 1 : 0)
      : a.market_id < b.market_id
      ? -1
      : 1
  );
}

class DuckDbDigests implements SqlDigestReader {
  readonly digestKind = SQL_DIGEST_KIND;
  constructor(private readonly instance: DuckDBInstance, private readonly present: Set<string>) {}

  async groupDigests(query: DigestQuery): Promise<GroupDigest[]> {
    if (!this.present.has(query.table)) return [];
    if (query.table === "signals" && !this.present.has("manipulation_flags")) return [];
    const conn: DuckDBConnection = await this.instance.connect();
    try {
      const reader = await conn.runAndReadAll(digestSql("duckdb", query.table), [
        BigInt(query.start),
        BigInt(query.end),
      ]);
      return toDigests(query.table, reader.getRows());
    } finally {
      conn.closeSync();
    }
  }

  close(): Promise<void> {
    this.instance.closeSync();
    return Promise.resolve();
  }
}

/**
 * Digests of a DuckDB store file, opened read-only.
 *
 * @example
 * ```ts
 * import { openDuckDbDigests } from "./verify_sql.ts";
 * const reader = await openDuckDbDigests("/tmp/copy.duckdb");
 * await reader.close();
 * ```
 * @throws {ConnectionError} when the file is missing or locked by a writer.
 */
export async function openDuckDbDigests(path: string): Promise<SqlDigestReader> {
  const instance = await openReadOnly(path);
  const conn = await instance.connect();
  try {
    const tables = await conn.runAndReadAll(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'`,
    );
    return new DuckDbDigests(instance, new Set(tables.getRows().map((r) => String(r[0]))));
  } finally {
    conn.closeSync();
  }
}

type Sql = postgres.Sql<Record<string, never>>;

class PgDigests implements SqlDigestReader {
  readonly digestKind = SQL_DIGEST_KIND;
  constructor(private readonly sql: Sql) {}

  async groupDigests(query: DigestQuery): Promise<GroupDigest[]> {
    try {
      const rows = await this.sql.unsafe(digestSql("postgres", query.table), [
        query.start,
        query.end,
      ]).values();
      return toDigests(query.table, rows as unknown as unknown[][]);
    } catch (error) {
      if ((error as { code?: string }).code === "42P01") return []; // no such table yet
      if (isConnectionFailure(error)) {
        throw new StoreUnavailableError(
          `PostgreSQL unavailable during verify of ${query.table}: ${
            error instanceof Error ? error.message : String(error)
          }`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.sql.end({ timeout: 2 });
  }
}

/**
 * Digests of a PostgreSQL / TimescaleDB store (`url` is a secret: never logged). Up to
 * `poolSize` tables are hashed at once, each by its own backend.
 *
 * @example
 * ```ts
 * import { openPgDigests } from "./verify_sql.ts";
 * const reader = await openPgDigests("postgres://postgres@127.0.0.1:5432/augur");
 * await reader.close();
 * ```
 */
export function openPgDigests(
  url: string,
  options: { poolSize?: number } = {},
): Promise<SqlDigestReader> {
  const sql = postgres(url, {
    max: options.poolSize ?? 2,
    onnotice: () => {},
    prepare: false,
  } as postgres.Options<Record<string, never>>) as unknown as Sql;
  return Promise.resolve(new PgDigests(sql));
}
