/**
 * Storage benchmarks (issue 4), every baseline measured in the same run:
 * - PostgreSQL write: `upsertSnapshots` of N snapshot rows (into the indexed, logged
 *   `snapshots` table, after a warm-up batch that opens the store's connections) vs a raw
 *   text `COPY … FROM STDIN` of the same rows, already encoded, into an UNLOGGED table
 *   without indexes (postgres.js `.writable()`, escaping only the fields that need it);
 *   target ratio ≥ 0.5. A second row compares the upsert with the same raw COPY into the
 *   real table (logged, three B-tree indexes): what storing the rows costs at all.
 * - DuckDB write: `upsertSnapshots` rows/s into a fresh file (after a warm-up batch) vs
 *   DuckDB's own Appender on the same data; target ≥ 200 000 rows/s. A second row shows
 *   DuckDB's own ceiling: `INSERT … SELECT` of the same rows, already inside DuckDB, into
 *   the same table definition.
 * - PostgreSQL read: latest 500 snapshots of one market among M markets × 500 rows (rows
 *   interleaved by time, as ticks write them), median ms after a warm-up; target < 5 ms.
 *   Two rows: 50 markets each read once (cold: their pages are read for the first time,
 *   from the OS cache once the table outgrows shared buffers) and 50 reads cycling over 10
 *   markets (warm). The EXPLAIN ANALYZE plan is printed.
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
import { SNAPSHOT_CODEC, type WireValue } from "../adapters/storage/codec.ts";
import { duckdbSchemaStatements, TABLES } from "../adapters/storage/schema.ts";
import { MetricsRegistry } from "../adapters/observability/metrics.ts";
import { createLogger } from "../adapters/observability/logger.ts";
import { StorageFileSchema } from "../config/schemas/storage.ts";
import type { MarketSnapshot } from "../adapters/storage/types.ts";
import type { BenchRow } from "./bench_row.ts";
import { pgDatabase } from "../tests/helpers/servers.ts";

const T0 = Date.UTC(2026, 2, 15) * 1000;
const STEP = 15_000_000;
const logger = createLogger({ sink: () => {} });

function snapshots(n: number, markets: number, prefix = "bench"): MarketSnapshot[] {
  const out: MarketSnapshot[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      market_id: `${prefix}_${i % markets}`,
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

const COPY_SPECIAL = /[\\\t\n\r]/;

/** A field of COPY text format (escaped only when it holds a special character). */
function copyField(value: WireValue): string {
  if (value === null) return "\\N";
  const text = String(value);
  return COPY_SPECIAL.test(text)
    ? text.replace(/\\/g, "\\\\").replace(/\t/g, "\\t").replace(/\n/g, "\\n").replace(/\r/g, "\\r")
    : text;
}

function* copyText(rows: readonly WireValue[][]): Generator<string> {
  let lines: string[] = [];
  let size = 0;
  for (const row of rows) {
    let line = copyField(row[0]);
    for (let i = 1; i < row.length; i++) line += "\t" + copyField(row[i]);
    lines.push(line);
    size += line.length;
    if (size > 1 << 18) {
      yield lines.join("\n") + "\n";
      lines = [];
      size = 0;
    }
  }
  if (lines.length) yield lines.join("\n") + "\n";
}

async function postgresWrite(url: string, rows: MarketSnapshot[]): Promise<BenchRow[]> {
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
    // Baseline: raw COPY of the same rows, encoded before the clock starts.
    const encoded = rows.map((r) => SNAPSHOT_CODEC.encode(r));
    let start = performance.now();
    const writable = await sql.unsafe(`COPY bench_copy (${cols}) FROM STDIN`).writable();
    await pipeline(Readable.from(copyText(encoded)), writable);
    const copyRate = rows.length / ((performance.now() - start) / 1000);
    // augur: the store's upsert into the empty, indexed snapshots table, once its
    // connections are open (a warm-up batch of other markets, then emptied).
    await store.upsertSnapshots(snapshots(2_000, 100, "warm"));
    await sql.unsafe(`TRUNCATE "snapshots"`);
    start = performance.now();
    await store.upsertSnapshots(rows);
    const upsertRate = rows.length / ((performance.now() - start) / 1000);
    // What storing the rows costs whatever the client: the same raw COPY into the real
    // table (logged, primary key and two secondary indexes).
    await sql.unsafe(`TRUNCATE "snapshots"`);
    start = performance.now();
    const indexed = await sql.unsafe(`COPY "snapshots" (${cols}) FROM STDIN`).writable();
    await pipeline(Readable.from(copyText(encoded)), indexed);
    const indexedRate = rows.length / ((performance.now() - start) / 1000);
    const ratio = upsertRate / copyRate;
    return [{
      name: `postgres upsert ${rows.length} snapshots vs raw COPY (unlogged)`,
      augur: Math.round(upsertRate),
      baseline: Math.round(copyRate),
      unit: "rows/s",
      ratio: round(ratio),
      target: "ratio >= 0.5",
      pass: ratio >= 0.5,
    }, {
      name: `postgres upsert vs raw COPY into the indexed, logged snapshots table`,
      augur: Math.round(upsertRate),
      baseline: Math.round(indexedRate),
      unit: "rows/s",
      ratio: round(upsertRate / indexedRate),
      target: "report (the table's ceiling)",
      pass: null,
    }];
  } finally {
    await sql.unsafe(`DROP TABLE IF EXISTS bench_copy`).catch(() => {});
    await sql.end({ timeout: 5 });
    await store.close();
  }
}

async function duckdbWrite(rows: MarketSnapshot[]): Promise<BenchRow[]> {
  const dir = await Deno.makeTempDir({ prefix: "augur-bench-duck-" });
  try {
    const store = new DuckDbStore({ path: `${dir}/store.duckdb`, registry: new MetricsRegistry() });
    await store.initialize();
    await store.upsertSnapshots(snapshots(2_000, 100, "warm"));
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
    // DuckDB's own ceiling for these rows in this table: no client, no transfer.
    for (const statement of duckdbSchemaStatements()) await conn.run(statement);
    start = performance.now();
    await conn.run(`INSERT INTO "snapshots" SELECT * FROM raw`);
    const insertRate = rows.length / ((performance.now() - start) / 1000);
    conn.closeSync();
    instance.closeSync();
    return [{
      name: `duckdb upsertSnapshots ${rows.length} rows vs DuckDB Appender`,
      augur: Math.round(storeRate),
      baseline: Math.round(appenderRate),
      unit: "rows/s",
      ratio: round(storeRate / appenderRate),
      target: "augur >= 200000 rows/s",
      pass: storeRate >= 200_000,
    }, {
      name: `duckdb upsertSnapshots vs DuckDB's own INSERT … SELECT of the rows into the table`,
      augur: Math.round(storeRate),
      baseline: Math.round(insertRate),
      unit: "rows/s",
      ratio: round(storeRate / insertRate),
      target: "report (the engine's ceiling)",
      pass: null,
    }];
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

async function postgresRead(url: string, markets: number, perMarket: number): Promise<BenchRow[]> {
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
    /** Median ms of 50 reads after 10 warm-up reads; `market(k)` picks the k-th market. */
    const median = async (market: (k: number) => string) => {
      const times: number[] = [];
      for (let k = 0; k < 60; k++) {
        const start = performance.now();
        const got = await store.latestSnapshots(market(k), 500);
        const ms = performance.now() - start;
        if (got.length !== Math.min(500, perMarket)) throw new Error(`read ${got.length} rows`);
        if (k >= 10) times.push(ms);
      }
      times.sort((a, b) => a - b);
      return times[Math.floor(times.length / 2)];
    };
    const cold = await median((k) => `read_${(k * 7919) % markets}`);
    const warm = await median((k) => `read_${((k % 10) * 7919 + 1) % markets}`);
    const plan = await sql.unsafe(
      `EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM "snapshots" WHERE "market_id" = $1 AND "timestamp" <= $2 ORDER BY "timestamp" DESC LIMIT 500`,
      ["read_42", Number.MAX_SAFE_INTEGER],
    );
    console.log(
      `EXPLAIN latest 500 of one market among ${markets} × ${perMarket}:\n` +
        plan.map((r) => "  " + r["QUERY PLAN"]).join("\n"),
    );
    const row = (label: string, ms: number): BenchRow => ({
      name: `postgres latest 500 of 1 market among ${markets} x ${perMarket}, ${label}`,
      augur: round(ms),
      baseline: null,
      unit: "ms",
      ratio: null,
      target: "< 5 ms",
      pass: ms < 5,
    });
    return [
      row("median of 50 markets each read once (cold)", cold),
      row("median of 50 reads cycling over 10 markets (warm)", warm),
    ];
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
  // Full: 50k rows written, reads among 2,000 markets × 500 (1M rows; 10k markets took 3 min
  // to load for the same medians).
  const n = options.quick ? 20_000 : 50_000;
  const markets = options.quick ? 1_000 : 2_000;
  const rows = snapshots(n, 1_000);
  const out: BenchRow[] = [];
  out.push(...await duckdbWrite(rows));
  const external = Deno.env.get("AUGUR_BENCH_PG_URL");
  const db = external ? undefined : await pgDatabase("augur_bench");
  const url = external ?? db!.url;
  try {
    out.push(...await postgresWrite(url, rows));
    out.push(...await postgresRead(url, markets, 500));
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
      }, target ${r.target} → ${r.pass === null ? "report" : r.pass ? "PASS" : "FAIL"}`,
    );
  }
}
