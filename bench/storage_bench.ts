/**
 * Storage benchmarks (issue 4), figures measured in the same run:
 * - PostgreSQL: `upsertSnapshots` of N snapshot rows (set-based unnest upsert into the
 *   indexed, logged `snapshots` table) vs a raw `COPY … FROM STDIN` of the same rows into an
 *   UNLOGGED table without indexes (postgres.js `.writable()`); target ratio ≥ 0.5.
 * - DuckDB: `upsertSnapshots` rows/s into a fresh file vs DuckDB's own Appender on the same
 *   data; target ≥ 200 000 rows/s.
 * - PostgreSQL read: latest 500 snapshots of one market among M markets × 500 rows, median
 *   ms over 50 markets; target < 5 ms; the EXPLAIN ANALYZE plan is printed.
 *
 * PostgreSQL comes from `AUGUR_BENCH_PG_URL` (a database the bench may write to) or a fresh
 * database on the local server (tests/helpers/servers.ts `pgDatabase`). `--quick` shrinks
 * the sizes (20 000 rows; 1 000 markets × 500).
 *
 * @example
 * ```ts
 * import { run } from "./storage_bench.ts";
 * const rows = await run({ quick: true });
 * console.table(rows);
 * ```
 * @module
 */

import postgres from "postgres";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { TimescaleStore } from "../adapters/storage/timescale_store.ts";
import { DuckDbStore } from "../adapters/storage/duckdb_store.ts";
import { SNAPSHOT_CODEC } from "../adapters/storage/codec.ts";
import { TABLES } from "../adapters/storage/schema.ts";
import { MetricsRegistry } from "../adapters/observability/metrics.ts";
import { createLogger } from "../adapters/observability/logger.ts";
import { StorageFileSchema } from "../config/schemas/storage.ts";
import type { MarketSnapshot } from "../adapters/storage/types.ts";
import { pgDatabase } from "../tests/helpers/servers.ts";

/** One benchmark result row. */
export interface BenchRow {
  name: string;
  augur: number;
  baseline: number | null;
  unit: string;
  ratio: number | null;
  target: string;
  pass: boolean | null;
}

const T0 = Date.UTC(2026, 2, 15) * 1000;
const STEP = 15_000_000;
const logger = createLogger({ sink: () => {} });

function snapshots(n: number, markets: number): MarketSnapshot[] {
  const out: MarketSnapshot[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      market_id: `bench_${i % markets}`,
      platform: i % 2 ? "kalshi" : "polymarket",
      timestamp: T0 + Math.floor(i / markets) * STEP,
      last_price: (i % 997) / 997,
      bid: i % 5 ? 0.39 : null,
      ask: 0.41,
      spread: 0.02,
      volume_24h: 1000 + i,
      liquidity: 5000.5,
      question: `Will market ${i % markets} resolve YES?`,
      resolution_source: null,
      resolution_criteria: "Per the official source.",
      closes_at: T0 + 90 * 86_400_000_000,
      raw_json: { id: i % markets, outcomePrices: ["0.4", "0.6"] },
      schema_version: "1.0.0",
    });
  }
  return out;
}

function copyField(value: unknown): string {
  if (value === null) return "\\N";
  return String(value).replace(/\\/g, "\\\\").replace(/\t/g, "\\t").replace(/\n/g, "\\n")
    .replace(/\r/g, "\\r");
}

async function postgresWrite(url: string, rows: MarketSnapshot[]): Promise<BenchRow> {
  const sql = postgres(url, { max: 2, onnotice: () => {} });
  const store = new TimescaleStore({
    url,
    config: StorageFileSchema.parse({}),
    poolSize: 8,
    registry: new MetricsRegistry(),
    logger,
  });
  try {
    await store.initialize();
    const cols = TABLES.snapshots.columns.map((c) => `"${c.name}"`).join(", ");
    await sql.unsafe(`DROP TABLE IF EXISTS bench_copy`);
    await sql.unsafe(
      `CREATE UNLOGGED TABLE bench_copy AS SELECT ${cols} FROM "snapshots" WITH NO DATA`,
    );
    // Baseline: raw COPY of the same encoded rows.
    const encoded = rows.map((r) => SNAPSHOT_CODEC.encode(r));
    let start = performance.now();
    const writable = await sql.unsafe(`COPY bench_copy (${cols}) FROM STDIN`).writable();
    await pipeline(
      Readable.from((function* () {
        let chunk = "";
        for (const row of encoded) {
          chunk += row.map(copyField).join("\t") + "\n";
          if (chunk.length > 1 << 16) {
            yield chunk;
            chunk = "";
          }
        }
        if (chunk) yield chunk;
      })()),
      writable,
    );
    const copyRate = rows.length / ((performance.now() - start) / 1000);
    // augur: the store's upsert into the empty, indexed snapshots table.
    start = performance.now();
    await store.upsertSnapshots(rows);
    const upsertRate = rows.length / ((performance.now() - start) / 1000);
    const ratio = upsertRate / copyRate;
    return {
      name: `postgres upsert ${rows.length} snapshots vs raw COPY (unlogged)`,
      augur: Math.round(upsertRate),
      baseline: Math.round(copyRate),
      unit: "rows/s",
      ratio: round(ratio),
      target: "ratio >= 0.5",
      pass: ratio >= 0.5,
    };
  } finally {
    await sql.unsafe(`DROP TABLE IF EXISTS bench_copy`).catch(() => {});
    await sql.end({ timeout: 5 });
    await store.close();
  }
}

async function duckdbWrite(rows: MarketSnapshot[]): Promise<BenchRow> {
  const dir = await Deno.makeTempDir({ prefix: "augur-bench-duck-" });
  try {
    const store = new DuckDbStore({ path: `${dir}/store.duckdb`, registry: new MetricsRegistry() });
    await store.initialize();
    let start = performance.now();
    await store.upsertSnapshots(rows);
    const storeRate = rows.length / ((performance.now() - start) / 1000);
    await store.close();

    const duck = await import("@duckdb/node-api");
    const instance = await duck.DuckDBInstance.create(`${dir}/raw.duckdb`);
    const conn = await instance.connect();
    const cols = TABLES.snapshots.columns;
    await conn.run(
      `CREATE TABLE raw (${
        cols.map((c) =>
          `"${c.name}" ${
            c.type === "bigint" ? "BIGINT" : c.type === "double" ? "DOUBLE" : "VARCHAR"
          }`
        ).join(", ")
      })`,
    );
    start = performance.now();
    const appender = await conn.createAppender("raw");
    for (const r of rows) {
      SNAPSHOT_CODEC.encode(r).forEach((v, i) => {
        if (v === null) appender.appendNull();
        else if (cols[i].type === "bigint") appender.appendBigInt(BigInt(v as number));
        else if (cols[i].type === "double") appender.appendDouble(v as number);
        else appender.appendVarchar(String(v));
      });
      appender.endRow();
    }
    appender.flushSync();
    appender.closeSync();
    const appenderRate = rows.length / ((performance.now() - start) / 1000);
    conn.closeSync();
    instance.closeSync();
    return {
      name: `duckdb upsertSnapshots ${rows.length} rows vs DuckDB Appender`,
      augur: Math.round(storeRate),
      baseline: Math.round(appenderRate),
      unit: "rows/s",
      ratio: round(storeRate / appenderRate),
      target: "augur >= 200000 rows/s",
      pass: storeRate >= 200_000,
    };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

async function postgresRead(url: string, markets: number, perMarket: number): Promise<BenchRow> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  const store = new TimescaleStore({
    url,
    config: StorageFileSchema.parse({}),
    poolSize: 2,
    registry: new MetricsRegistry(),
    logger,
  });
  try {
    await store.initialize();
    await sql.unsafe(`TRUNCATE "snapshots"`);
    await sql.unsafe(
      `INSERT INTO "snapshots" SELECT 'read_' || m, 'kalshi', ${T0}::bigint + i::bigint * ${STEP},
       0.5, 0.49, 0.51, 0.02, 1000, 5000, 'Will it?', NULL, 'criteria', NULL, '{"id":1}', '1.0.0'
       FROM generate_series(0, ${markets - 1}) AS m, generate_series(0, ${perMarket - 1}) AS i`,
    );
    await sql.unsafe(`VACUUM ANALYZE "snapshots"`);
    const times: number[] = [];
    for (let k = 0; k < 60; k++) {
      const market = `read_${(k * 7919) % markets}`;
      const start = performance.now();
      const got = await store.latestSnapshots(market, 500);
      const ms = performance.now() - start;
      if (got.length !== Math.min(500, perMarket)) throw new Error(`read ${got.length} rows`);
      if (k >= 10) times.push(ms); // first 10 warm the plan cache
    }
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)];
    const plan = await sql.unsafe(
      `EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM "snapshots" WHERE "market_id" = $1 ORDER BY "timestamp" DESC LIMIT 500`,
      ["read_42"],
    );
    console.log(
      `EXPLAIN latest 500 of one market among ${markets} × ${perMarket}:\n` +
        plan.map((r) => "  " + r["QUERY PLAN"]).join("\n"),
    );
    return {
      name: `postgres latest 500 of 1 market among ${markets} x ${perMarket} (median)`,
      augur: round(median),
      baseline: null,
      unit: "ms",
      ratio: null,
      target: "< 5 ms",
      pass: median < 5,
    };
  } finally {
    await sql.end({ timeout: 5 });
    await store.close();
  }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** Run the storage benchmarks. */
export async function run(options: { quick: boolean }): Promise<BenchRow[]> {
  const n = options.quick ? 20_000 : 100_000;
  const markets = options.quick ? 1_000 : 10_000;
  const rows = snapshots(n, 1_000);
  const out: BenchRow[] = [];
  out.push(await duckdbWrite(rows));
  const external = Deno.env.get("AUGUR_BENCH_PG_URL");
  const db = external ? undefined : await pgDatabase("augur_bench");
  const url = external ?? db!.url;
  try {
    out.push(await postgresWrite(url, rows));
    out.push(await postgresRead(url, markets, 500));
  } finally {
    await db?.drop();
  }
  return out;
}

if (import.meta.main) {
  const rows = await run({ quick: Deno.args.includes("--quick") });
  for (const r of rows) {
    console.log(
      `${r.name}: augur ${r.augur} ${r.unit}, baseline ${r.baseline ?? "-"}, ratio ${
        r.ratio ?? "-"
      }, target ${r.target} → ${r.pass ? "PASS" : "FAIL"}`,
    );
  }
}
