/**
 * The data set of {@linkcode generateStore} written into a DuckDB file mostly by DuckDB itself:
 * snapshots, trades and features (the bulk: 1.35 of every 1.37 rows) are generated with
 * `INSERT … SELECT … FROM range()` using the same formulas — the same IEEE-754 operations, so
 * the same doubles, and the same text — in a few seconds instead of a minute; signals,
 * manipulation flags, contexts and ticks go through the store as before. The integration
 * test checks the two files are identical, row for row.
 *
 * @example
 * ```ts
 * import { generateDuckDbFile } from "./migrate_data_sql.ts";
 * const counts = await generateDuckDbFile("/tmp/bench.duckdb", { snapshots: 1_000_000 });
 * ```
 * @module
 */
import { DuckDbStore } from "../../adapters/storage/duckdb_store.ts";
import { FEATURE_CODEC } from "../../adapters/storage/codec.ts";
import { MetricsRegistry } from "../../adapters/observability/metrics.ts";
import { createLogger } from "../../adapters/observability/logger.ts";
import { StorageFileSchema } from "../../config/schemas/storage.ts";
import { type MigrateOptions, type MigrateReport, runMigrate } from "../../runtime/migrate.ts";
import { openDuckDbSource } from "../../runtime/migrate_duckdb.ts";
import {
  GEN_DAY,
  GEN_T0,
  type GeneratedCounts,
  type GenerateOptions,
  generateStore,
  genFeature,
  genSnapshot,
  withDefaults,
} from "./migrate_data.ts";

const quote = (text: string) => `'${text.replaceAll("'", "''")}'`;
const double = (literal: string) => `${quote(literal)}::DOUBLE`;

/** The 39 feature payloads: they depend only on i mod 13 and i mod 3 (i a multiple of 4). */
function featurePayloads(): string[] {
  const out: string[] = [];
  const s = genSnapshot(0, { snapshots: 1, days: 1, markets: 1 });
  for (let r13 = 0; r13 < 13; r13++) {
    for (let r3 = 0; r3 < 3; r3++) {
      let i = 0;
      while (i % 13 !== r13 || i % 3 !== r3) i += 4;
      out.push(FEATURE_CODEC.encode(genFeature(s, i))[2] as string);
    }
  }
  return out;
}

/** Snapshot columns computed per `i` (the same formulas as genSnapshot). */
function baseSql(options: Required<GenerateOptions>): string {
  const perMarket = Math.ceil(options.setSize / options.markets);
  const step = Math.floor((options.days * GEN_DAY) / perMarket);
  const m = options.markets;
  return `SELECT i, i % ${m} AS m, ${GEN_T0} + (i // ${m}) * ${step} + i % ${m} AS t,
    printf('gen_market_%03x', i % ${m}) AS mk,
    CASE WHEN (i % ${m}) % 2 = 0 THEN 'kalshi' ELSE 'polymarket' END AS pf,
    ${double("0.05")} + CAST((i * 7919) % 900 AS DOUBLE) / ${double("1000")} AS price
    FROM range(${options.first}, ${options.first + options.snapshots}) r(i)`;
}

/**
 * Write the generated data set into a new DuckDB store file at `path`.
 *
 * @example
 * ```ts
 * import { generateDuckDbFile } from "./migrate_data_sql.ts";
 * await generateDuckDbFile("/tmp/a.duckdb", { snapshots: 1000, days: 3 });
 * ```
 */
export async function generateDuckDbFile(
  path: string,
  options: GenerateOptions,
): Promise<GeneratedCounts> {
  const full = withDefaults(options);
  const store = new DuckDbStore({
    path,
    registry: new MetricsRegistry(),
    logger: createLogger({ sink: () => {} }),
  });
  await store.initialize();
  let counts: GeneratedCounts;
  try {
    counts = await generateStore(store, {
      ...full,
      chunk: Math.max(full.chunk, full.snapshots),
      tables: ["signals", "contexts", "ticks"],
    });
  } finally {
    await store.close();
  }
  const base = baseSql(full);
  const payloads = `[${featurePayloads().map(quote).join(", ")}]`;
  const tradeJson =
    `'{"counterparty":' || CASE WHEN i % 30 = 0 THEN 'null' ELSE '"' || cp || '"' END
    || ',"market_id":"' || mk || '","platform":"' || pf || '","price":' || CAST(price AS VARCHAR)
    || ',"side":"' || side || '","size":' || (10 + i % 50) || ',"timestamp":' || t || '}'`;
  const duck = await import("@duckdb/node-api");
  const instance = await duck.DuckDBInstance.create(path);
  const conn = await instance.connect();
  try {
    await conn.run(
      `INSERT INTO "snapshots" ("market_id", "platform", "timestamp", "last_price", "bid", "ask", "spread", "volume_24h", "liquidity", "question", "resolution_source", "resolution_criteria", "closes_at", "raw_json", "schema_version")
      SELECT mk, pf, t, price,
        CASE WHEN i % 11 = 0 THEN NULL ELSE price - ${double("0.01")} END,
        CASE WHEN i % 11 = 0 THEN NULL ELSE price + ${double("0.01")} END,
        CASE WHEN i % 11 = 0 THEN NULL ELSE ${double("0.020000000000000018")} END,
        ${double("1000")} + CAST(i % 5000 AS DOUBLE) * ${double("1.5")},
        ${double("250.25")} + CAST(i % 97 AS DOUBLE),
        'Will market ' || m || ' resolve "yes"?' || chr(9) || 'line\\two',
        CASE WHEN m % 3 = 0 THEN NULL ELSE 'Official source' END,
        'Per the official announcement',
        ${GEN_T0 + 90 * GEN_DAY},
        '{"id":"m' || m || '","nested":{"p":' || CAST(price AS VARCHAR) || '},"seq":' || i || ',"tags":["a","ü"]}',
        '1.0.0'
      FROM (${base})`,
    );
    await conn.run(
      `INSERT INTO "trades" ("market_id", "platform", "trade_key", "timestamp", "price", "size", "side", "counterparty", "trade_id")
      SELECT mk, pf,
        CASE WHEN i % 40 = 0 THEN 'sha256:' || substr(sha256(${tradeJson}), 1, 32) ELSE 'id:t' || i END,
        t, price, CAST(10 + i % 50 AS DOUBLE), side,
        CASE WHEN i % 30 = 0 THEN NULL ELSE cp END,
        CASE WHEN i % 40 = 0 THEN NULL ELSE 't' || i END
      FROM (SELECT *, CASE WHEN i % 20 = 0 THEN 'buy' ELSE 'sell' END AS side,
        printf('0x%08x', i) AS cp FROM (${base}) WHERE i % 10 = 0)`,
    );
    await conn.run(
      `INSERT INTO "features" ("market_id", "computed_at", "payload", "schema_version")
      SELECT mk, t, list_extract(${payloads}, (i % 13) * 3 + i % 3 + 1), '1.0.0'
      FROM (${base}) WHERE i % 4 = 0`,
    );
    await conn.run("CHECKPOINT");
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
  return counts;
}

/**
 * `augur migrate` of a whole DuckDB file into `url`, quietly (tests and the benchmark).
 *
 * @example
 * ```ts
 * import { migrateFile } from "./migrate_data_sql.ts";
 * const report = await migrateFile("/tmp/a.duckdb", "postgres://postgres@127.0.0.1:5432/x");
 * ```
 */
export async function migrateFile(
  path: string,
  url: string,
  options: Partial<MigrateOptions> = {},
): Promise<MigrateReport> {
  const source = await openDuckDbSource(path);
  try {
    return await runMigrate({
      source,
      targetUrl: url,
      storage: StorageFileSchema.parse({}),
      range: { start: 0, end: 8e15 },
      registry: new MetricsRegistry(),
      logger: createLogger({ sink: () => {} }),
      write: () => {},
      ...options,
    });
  } finally {
    await source.close();
  }
}
