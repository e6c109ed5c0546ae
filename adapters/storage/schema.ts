/**
 * Table definitions shared by both SQL backends, the identifier allowlists, and the DDL
 * generators: {@linkcode duckdbSchemaStatements}, {@linkcode postgresSchemaStatements} and
 * {@linkcode timescaleStatements} (hypertables, compression, policies).
 *
 * Every identifier that reaches SQL text comes from {@linkcode TABLES}; configurable
 * identifiers (`hypertable.compress_segmentby`) are validated against a per-table allowlist
 * by {@linkcode segmentByColumns} before any SQL is generated.
 *
 * Times are BIGINT epoch microseconds. TimescaleDB hypertables therefore use integer time
 * columns: `chunk_time_interval` is given in µs and `augur_now_us()` is registered with
 * `set_integer_now_func` so that compression and retention policies (also in µs) work.
 *
 * @example
 * ```ts
 * import { timescaleStatements } from "./schema.ts";
 * import { StorageFileSchema } from "../../config/schemas/storage.ts";
 * const statements = timescaleStatements(StorageFileSchema.parse({}));
 * console.log(statements.join(";\n"));
 * ```
 * @module
 */

import { ConfigError } from "../../config/errors.ts";
import type { StorageConfig } from "../../config/schemas/storage.ts";
import { StoreInputError } from "./types.ts";

/** The current schema version recorded in `schema_version`. */
export const STORE_SCHEMA_VERSION = "1";

/** Column storage types (mapped per backend). */
export type ColumnType = "text" | "bigint" | "double" | "int" | "bool" | "text_array" | "bytes";

/** One column. */
export interface ColumnSpec {
  readonly name: string;
  readonly type: ColumnType;
  readonly nullable?: boolean;
}

/** One table. */
export interface TableSpec {
  readonly name: string;
  readonly columns: readonly ColumnSpec[];
  /** Primary key columns (the natural key; upserts conflict on it; batches sorted by it). */
  readonly key: readonly string[];
  /** Time column (epoch µs) for range reads, digests and hypertables. */
  readonly time?: string;
  /** Secondary indexes: name → ordered columns (`-` prefix = DESC). */
  readonly indexes?: Readonly<Record<string, readonly string[]>>;
  /** Columns allowed in `compress_segmentby` (hypertables only). */
  readonly segmentBy?: readonly string[];
}

const c = (name: string, type: ColumnType, nullable = false): ColumnSpec => ({
  name,
  type,
  nullable,
});

/** All tables, in creation order. */
export const TABLES = {
  schema_version: {
    name: "schema_version",
    columns: [c("version", "text"), c("applied_at", "bigint")],
    key: ["version"],
  },
  snapshots: {
    name: "snapshots",
    columns: [
      c("market_id", "text"),
      c("platform", "text"),
      c("timestamp", "bigint"),
      c("last_price", "double"),
      c("bid", "double", true),
      c("ask", "double", true),
      c("spread", "double", true),
      c("volume_24h", "double"),
      c("liquidity", "double"),
      c("question", "text"),
      c("resolution_source", "text", true),
      c("resolution_criteria", "text", true),
      c("closes_at", "bigint", true),
      c("raw_json", "text"),
      c("schema_version", "text"),
    ],
    // Key order (market, time, platform): the key index also answers "latest of a market
    // as of t" (a backward scan), so no separate (market_id, timestamp DESC) index is kept:
    // one index fewer to maintain makes bulk writes ~18 % faster. Databases created with the
    // earlier (market_id, platform, timestamp) key keep working: ON CONFLICT matches a
    // unique index by its set of columns, not their order.
    key: ["market_id", "timestamp", "platform"],
    time: "timestamp",
    indexes: {
      snapshots_time_idx: ["-timestamp"],
    },
    segmentBy: ["market_id", "platform"],
  },
  trades: {
    name: "trades",
    columns: [
      c("market_id", "text"),
      c("platform", "text"),
      c("trade_key", "text"),
      c("timestamp", "bigint"),
      c("price", "double"),
      c("size", "double"),
      c("side", "text"),
      c("counterparty", "text", true),
      c("trade_id", "text", true),
    ],
    key: ["market_id", "platform", "trade_key"],
    time: "timestamp",
    indexes: {
      trades_market_time_idx: ["market_id", "-timestamp"],
      trades_time_idx: ["timestamp"],
    },
  },
  features: {
    name: "features",
    columns: [
      c("market_id", "text"),
      c("computed_at", "bigint"),
      c("payload", "text"),
      c("schema_version", "text"),
    ],
    key: ["market_id", "computed_at"],
    time: "computed_at",
    indexes: { features_time_idx: ["computed_at"] },
    segmentBy: ["market_id"],
  },
  signals: {
    name: "signals",
    columns: [
      c("signal_id", "text"),
      c("market_id", "text"),
      c("platform", "text"),
      c("signal_type", "text"),
      c("magnitude", "double"),
      c("direction", "int"),
      c("confidence", "double"),
      c("fdr_adjusted", "bool"),
      c("detected_at", "bigint"),
      c("window_seconds", "int"),
      c("liquidity_tier", "text"),
      c("related_market_ids", "text_array"),
      c("raw_features", "text"),
      c("schema_version", "text"),
    ],
    key: ["signal_id", "detected_at"],
    time: "detected_at",
    indexes: {
      signals_time_idx: ["detected_at"],
      signals_market_time_idx: ["market_id", "-detected_at"],
    },
    segmentBy: ["market_id", "platform", "signal_type", "liquidity_tier"],
  },
  manipulation_flags: {
    name: "manipulation_flags",
    columns: [c("signal_id", "text"), c("flag", "text"), c("detected_at", "bigint")],
    key: ["signal_id", "flag"],
    time: "detected_at",
    indexes: { manipulation_flags_time_idx: ["detected_at"] },
  },
  contexts: {
    name: "contexts",
    columns: [
      c("signal_id", "text"),
      c("detected_at", "bigint"),
      c("market_id", "text"),
      c("payload", "text"),
    ],
    key: ["signal_id", "detected_at"],
    time: "detected_at",
    indexes: { contexts_time_idx: ["detected_at"] },
  },
  ticks: {
    name: "ticks",
    columns: [c("platform", "text"), c("t", "bigint"), c("announced", "int")],
    key: ["platform", "t"],
    time: "t",
  },
  worker_state: {
    name: "worker_state",
    columns: [
      c("kind", "text"),
      c("partition", "int"),
      c("state_key", "text"),
      c("position", "text"),
      c("state", "bytes"),
      c("token", "bigint"),
    ],
    key: ["kind", "partition", "state_key"],
  },
  calibration_fpr: {
    name: "calibration_fpr",
    columns: [
      c("detector_id", "text"),
      c("market_id", "text"),
      c("fpr", "double"),
      c("sample_size", "int"),
      c("computed_at", "bigint"),
      c("label_protocol_version", "text"),
    ],
    key: ["detector_id", "market_id", "computed_at"],
    time: "computed_at",
  },
  reliability_curves: {
    name: "reliability_curves",
    columns: [
      c("detector_id", "text"),
      c("liquidity_tier", "text"),
      c("curve_version", "text"),
      c("deciles", "text"),
      c("built_at", "bigint"),
    ],
    key: ["detector_id", "liquidity_tier", "curve_version"],
    time: "built_at",
  },
} as const satisfies Record<string, TableSpec>;

/** Table names (the table allowlist). */
export type TableName = keyof typeof TABLES;

const IDENT = /^[a-z_][a-z0-9_]*$/;

/**
 * The spec of an allowlisted table, or a {@linkcode StoreInputError} naming the candidates.
 *
 * @example
 * ```ts
 * import { tableSpec } from "./schema.ts";
 * tableSpec("snapshots").key; // ["market_id", "timestamp", "platform"]
 * ```
 */
export function tableSpec(name: string): TableSpec {
  if (!Object.hasOwn(TABLES, name)) {
    throw new StoreInputError(
      `unknown table: expected one of ${Object.keys(TABLES).join(", ")}, received ${
        JSON.stringify(name)
      }`,
    );
  }
  return TABLES[name as TableName];
}

/**
 * Quote an identifier after checking it names a column of `table` (or the table itself).
 *
 * @example
 * ```ts
 * import { quoteIdent } from "./schema.ts";
 * quoteIdent("snapshots", "timestamp"); // "\"timestamp\""
 * ```
 */
export function quoteIdent(table: string, identifier: string): string {
  const spec = tableSpec(table);
  const allowed = identifier === spec.name || spec.columns.some((col) => col.name === identifier);
  if (!allowed || !IDENT.test(identifier)) {
    throw new StoreInputError(
      `unknown column of ${spec.name}: expected one of ${
        spec.columns.map((col) => col.name).join(", ")
      }, received ${JSON.stringify(identifier)}`,
    );
  }
  return `"${identifier}"`;
}

/**
 * Validate `compress_segmentby` (comma-separated column list) for a hypertable; every
 * column must be in that table's allowlist. Throws a {@linkcode ConfigError} otherwise.
 *
 * @example
 * ```ts
 * import { segmentByColumns } from "./schema.ts";
 * segmentByColumns("snapshots", "market_id, platform"); // ["market_id", "platform"]
 * ```
 */
export function segmentByColumns(table: TableName, value: string): string[] {
  const spec: TableSpec = TABLES[table];
  const allowed = spec.segmentBy ?? [];
  const parts = value.split(",").map((part) => part.trim());
  if (value.trim() === "") return [];
  for (const part of parts) {
    if (!allowed.includes(part) || !IDENT.test(part)) {
      throw new ConfigError(
        `storage.toml: hypertable.compress_segmentby: expected a comma-separated list of ${table} columns from [${
          allowed.join(", ")
        }], received ${JSON.stringify(part)}`,
      );
    }
  }
  if (new Set(parts).size !== parts.length) {
    throw new ConfigError(
      `storage.toml: hypertable.compress_segmentby: expected distinct columns, received ${
        JSON.stringify(value)
      }`,
    );
  }
  return parts;
}

const PG_TYPES: Record<ColumnType, string> = {
  text: "text",
  bigint: "bigint",
  double: "double precision",
  int: "integer",
  bool: "boolean",
  text_array: "text[]",
  bytes: "bytea",
};

const DUCK_TYPES: Record<ColumnType, string> = {
  text: "VARCHAR",
  bigint: "BIGINT",
  double: "DOUBLE",
  int: "INTEGER",
  bool: "BOOLEAN",
  text_array: "VARCHAR[]",
  bytes: "BLOB",
};

/** SQL type of a column per backend. */
export function sqlType(backend: "postgres" | "duckdb", type: ColumnType): string {
  return (backend === "postgres" ? PG_TYPES : DUCK_TYPES)[type];
}

function createTable(
  backend: "postgres" | "duckdb",
  spec: TableSpec,
  options: { primaryKey?: boolean } = {},
): string {
  const cols = spec.columns.map((col) =>
    `"${col.name}" ${sqlType(backend, col.type)}${col.nullable ? "" : " NOT NULL"}`
  );
  if (options.primaryKey ?? true) {
    cols.push(`PRIMARY KEY (${spec.key.map((k) => `"${k}"`).join(", ")})`);
  }
  return `CREATE TABLE IF NOT EXISTS "${spec.name}" (${cols.join(", ")})`;
}

/**
 * Whether a table's natural key contains its time column: then every row with a given key
 * lies at one instant, and a batch's keys can only match rows inside the batch's time span.
 *
 * @example
 * ```ts
 * import { TABLES, timeKeyed } from "./schema.ts";
 * timeKeyed(TABLES.snapshots); // true
 * timeKeyed(TABLES.trades); // false (keyed by trade id or content hash)
 * ```
 */
export function timeKeyed(spec: TableSpec): boolean {
  return spec.time !== undefined && spec.key.includes(spec.time);
}

function createIndexes(spec: TableSpec): string[] {
  return Object.entries(spec.indexes ?? {}).map(([name, cols]) =>
    `CREATE INDEX IF NOT EXISTS "${name}" ON "${spec.name}" (${
      cols.map((col) => col.startsWith("-") ? `"${col.slice(1)}" DESC` : `"${col}"`).join(", ")
    })`
  );
}

function schemaStatements(backend: "postgres" | "duckdb"): string[] {
  const out: string[] = [];
  for (const spec of Object.values(TABLES) as TableSpec[]) {
    out.push(createTable(backend, spec));
    out.push(...createIndexes(spec));
  }
  return out;
}

/**
 * Plain-PostgreSQL DDL (tables, keys, indexes); idempotent (`IF NOT EXISTS`).
 *
 * @example
 * ```ts
 * import { postgresSchemaStatements } from "./schema.ts";
 * postgresSchemaStatements()[0].startsWith("CREATE TABLE IF NOT EXISTS"); // true
 * ```
 */
export function postgresSchemaStatements(): string[] {
  return schemaStatements("postgres");
}

/**
 * DuckDB DDL: the same tables and columns as PostgreSQL, without secondary indexes (DuckDB
 * ART indexes cost insert time; its scans use min/max zone maps instead). Tables whose key
 * contains their time column ({@linkcode timeKeyed}: snapshots, features, signals,
 * contexts, ticks) carry no PRIMARY KEY either: the store merges each batch with a join
 * bounded to the batch's time span (zone maps prune everything else), which stays flat as
 * the table grows, while maintaining the ART key index made each insert slower as the
 * index grew (measured on 100k snapshot rows: 2× the cost of the merge into an empty table,
 * 3–5× with 1M rows stored).
 * Uniqueness holds because one process writes the file (DuckDB's file lock) and every
 * write goes through that merge. The other tables keep their primary key (`ON CONFLICT`).
 *
 * @example
 * ```ts
 * import { duckdbSchemaStatements } from "./schema.ts";
 * duckdbSchemaStatements().length > 0; // true
 * ```
 */
export function duckdbSchemaStatements(): string[] {
  const out: string[] = [];
  for (const spec of Object.values(TABLES) as TableSpec[]) {
    out.push(createTable("duckdb", spec, { primaryKey: !timeKeyed(spec) }));
  }
  return out;
}

/** Microseconds per day. */
export const DAY_US = 86_400_000_000;

/** The hypertables with their config keys. */
const HYPERTABLES = [
  {
    table: "snapshots",
    chunk: "snapshot_chunk_days",
    compress: "snapshot_after_days",
    retain: "snapshot_days",
  },
  {
    table: "features",
    chunk: "feature_chunk_days",
    compress: "feature_after_days",
    retain: "feature_days",
  },
  {
    table: "signals",
    chunk: "signal_chunk_days",
    compress: "signal_after_days",
    retain: "signal_days",
  },
] as const;

/** The subset of `storage.toml` that {@linkcode timescaleStatements} reads. */
export type TimescaleConfig = Pick<StorageConfig, "hypertable" | "compression" | "retention">;

function days(field: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new ConfigError(
      `storage.toml: ${field}: expected an integer ≥ ${min}, received ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/**
 * The exact TimescaleDB statements for `storage.toml`: the integer-now function, one
 * hypertable per time-series table (snapshots, features, signals) with its chunk interval,
 * compression settings (`compress_segmentby` validated against the allowlist, `orderby` the
 * time column DESC) and compression / retention policies — each policy skipped at 0 days
 * (compression settings are skipped too when compression is off). Idempotent
 * (`if_not_exists`). Runs after {@linkcode postgresSchemaStatements} and `CREATE EXTENSION`.
 *
 * @example
 * ```ts
 * import { timescaleStatements } from "./schema.ts";
 * import { StorageFileSchema } from "../../config/schemas/storage.ts";
 * timescaleStatements(StorageFileSchema.parse({})).length; // 14
 * ```
 */
export function timescaleStatements(config: TimescaleConfig): string[] {
  const out: string[] = [
    `CREATE OR REPLACE FUNCTION augur_now_us() RETURNS bigint LANGUAGE sql STABLE AS $$ SELECT (extract(epoch FROM now()) * 1000000)::bigint $$`,
  ];
  // Validate everything first: nothing is generated when any identifier is bad.
  const segment = HYPERTABLES.map(({ table }) =>
    segmentByColumns(table, config.hypertable.compress_segmentby)
  );
  HYPERTABLES.forEach(({ table, chunk, compress, retain }, i) => {
    const spec: TableSpec = TABLES[table];
    const time = spec.time!;
    const chunkDays = days(`hypertable.${chunk}`, config.hypertable[chunk], 1);
    const compressDays = days(`compression.${compress}`, config.compression[compress], 0);
    const retainDays = days(`retention.${retain}`, config.retention[retain], 0);
    out.push(
      `SELECT create_hypertable('${table}', '${time}', chunk_time_interval => ${
        chunkDays * DAY_US
      }::bigint, if_not_exists => TRUE, migrate_data => TRUE)`,
    );
    out.push(
      `SELECT set_integer_now_func('${table}', 'augur_now_us', replace_if_exists => TRUE)`,
    );
    if (compressDays > 0) {
      const seg = segment[i].length
        ? `, timescaledb.compress_segmentby = '${segment[i].join(", ")}'`
        : "";
      out.push(
        `ALTER TABLE "${table}" SET (timescaledb.compress${seg}, timescaledb.compress_orderby = '"${time}" DESC')`,
      );
      out.push(
        `SELECT add_compression_policy('${table}', compress_after => ${
          compressDays * DAY_US
        }::bigint, if_not_exists => TRUE)`,
      );
    }
    if (retainDays > 0) {
      out.push(
        `SELECT add_retention_policy('${table}', drop_after => ${
          retainDays * DAY_US
        }::bigint, if_not_exists => TRUE)`,
      );
    }
  });
  return out;
}
