/**
 * Migrate / verify benchmark on the local PostgreSQL (AUGUR_TEST_PG_URL or 127.0.0.1:5432):
 *
 * - backfill rows/s of `augur migrate` (DuckDB file → PostgreSQL, every table, progress
 *   records, parity checks) vs a raw `COPY … FROM STDIN` of the same snapshot rows into an
 *   identical (same keys and indexes, logged) table, measured in the same run;
 * - `augur verify` time over the migrated store (counts + content digests on both sides).
 *
 * Full: 1,000,000 snapshots over 30 days (+ 100k trades, 250k features, 10k signals, flags,
 * contexts); `--quick`: 100,000 snapshots. Targets: ≥ 100,000 rows/s; verify of 1,000,000
 * rows < 30 s.
 *
 * @example
 * ```ts
 * import { run } from "./migrate_bench.ts";
 * const rows = await run({ quick: true });
 * ```
 * @module
 */
import postgres from "postgres";
import net from "node:net";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DuckDbStore } from "../adapters/storage/duckdb_store.ts";
import { TimescaleStore } from "../adapters/storage/timescale_store.ts";
import { MetricsRegistry } from "../adapters/observability/metrics.ts";
import { createLogger } from "../adapters/observability/logger.ts";
import { StorageFileSchema } from "../config/schemas/storage.ts";
import { runMigrate } from "../runtime/migrate.ts";
import { openDuckDbSource } from "../runtime/migrate_sources.ts";
import { verifyStores } from "../runtime/verify.ts";
import { pgDatabase } from "../tests/helpers/servers.ts";
import { generateStore } from "../tests/helpers/migrate_data.ts";

import type { BenchRow } from "./bench_row.ts";

export type { BenchRow };

const ALL = { start: 0, end: 8e15 };

/** Run the benchmark. */
export async function run(options: { quick: boolean }): Promise<BenchRow[]> {
  const n = options.quick ? 100_000 : 1_000_000;
  const registry = new MetricsRegistry();
  const logger = createLogger({ sink: () => {} });
  const storage = StorageFileSchema.parse({});
  const dir = await Deno.makeTempDir({ prefix: "augur-migrate-bench-" });
  const path = `${dir}/augur.duckdb`;
  const db = await pgDatabase("augur_bench");
  try {
    const primary = new DuckDbStore({ path, registry, logger });
    await primary.initialize();
    await generateStore(primary, { snapshots: n, days: 30, markets: 200 });
    await primary.close();

    // augur migrate (all tables).
    const source = await openDuckDbSource(path);
    let report;
    try {
      report = await runMigrate({
        source,
        targetUrl: db.url,
        storage,
        range: ALL,
        registry,
        logger,
        write: () => {},
      });
    } finally {
      await source.close();
    }
    const augurRate = report.rows / report.seconds;

    // Baseline: raw COPY of the same snapshot rows (pre-encoded) into an identical table.
    const texts: string[] = [];
    const again = await openDuckDbSource(path);
    try {
      for await (
        const batch of again.readCopy!({
          table: "snapshots",
          day: "all",
          range: ALL,
          rows: n,
        }, 50_000)
      ) texts.push(batch.text);
    } finally {
      await again.close();
    }
    const sql = postgres(db.url, {
      max: 1,
      onnotice: () => {},
      socket: (o: { host: string[]; port: number[] }) => {
        const s = net.connect(o.port[0], o.host[0]);
        s.setNoDelay(true);
        return s;
      },
    } as postgres.Options<Record<string, never>>);
    let baselineRate: number;
    try {
      await sql.unsafe(`CREATE TABLE "bench_raw_copy" (LIKE "snapshots" INCLUDING ALL)`);
      const started = performance.now();
      for (const text of texts) {
        const writable = await sql.unsafe(`COPY "bench_raw_copy" FROM STDIN`).writable();
        await pipeline(Readable.from([text]), writable);
      }
      baselineRate = n / ((performance.now() - started) / 1000);
    } finally {
      await sql.end();
    }

    // verify over everything migrated.
    const src = new DuckDbStore({ path, registry, logger });
    const dst = new TimescaleStore({ url: db.url, config: storage, poolSize: 4, registry, logger });
    await src.initialize();
    await dst.initialize();
    let verify;
    try {
      verify = await verifyStores(src, dst, ALL);
    } finally {
      await src.close();
      await dst.close();
    }
    const verified = verify.tables.reduce((s, t) => s + t.source_rows, 0);
    const per1M = verify.seconds * (1_000_000 / verified);
    return [
      {
        name: `migrate backfill ${report.rows} rows (${n} snapshots + derived tables) vs raw COPY`,
        augur: Math.round(augurRate),
        baseline: Math.round(baselineRate),
        unit: "rows/s",
        ratio: Number((augurRate / baselineRate).toFixed(3)),
        target: "≥ 100000 rows/s",
        pass: augurRate >= 100_000,
      },
      {
        name: `verify ${verified} rows (parity ${verify.parity}), seconds per 1,000,000 rows`,
        augur: Number(per1M.toFixed(2)),
        baseline: null,
        unit: "s",
        ratio: null,
        target: "< 30 s per 1,000,000 rows",
        pass: verify.parity && per1M < 30,
      },
    ];
  } finally {
    await db.drop();
    await Deno.remove(dir, { recursive: true });
  }
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
