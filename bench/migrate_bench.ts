/**
 * Migrate / verify benchmark on the local PostgreSQL (AUGUR_TEST_PG_URL or 127.0.0.1:5432):
 *
 * - backfill rows/s of `augur migrate` (DuckDB file → PostgreSQL, every table, progress
 *   records, parity checks, default 2 sessions) vs a raw single-session `COPY … FROM STDIN`
 *   of the same snapshot rows, pre-encoded, into an identical (same keys and indexes,
 *   logged) table, measured in the same run;
 * - `augur verify` time over the migrated store (counts + content digests, each database
 *   hashing its own rows).
 *
 * Full: 1,000,000 snapshots over 30 days (+ 100k trades, 250k features, 10k signals, flags,
 * contexts); `--quick`: 100,000 snapshots. The DuckDB file is generated mostly by DuckDB
 * (tests/helpers/migrate_data_sql.ts: the same rows as the tests' generator). Targets:
 * ≥ 100,000 rows/s; verify of 1,000,000 rows < 30 s.
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
import { openDuckDbSource } from "../runtime/migrate_duckdb.ts";
import { verifyStores } from "../runtime/verify.ts";
import { openDuckDbDigests, openPgDigests } from "../runtime/verify_sql.ts";
import { pgDatabase } from "../tests/helpers/servers.ts";
import { generateDuckDbFile, migrateFile } from "../tests/helpers/migrate_data_sql.ts";

import type { BenchRow } from "./bench_row.ts";

export type { BenchRow };

const ALL = { start: 0, end: 8e15 };

/** Run the benchmark. */
export async function run(options: { quick: boolean }): Promise<BenchRow[]> {
  const n = options.quick ? 100_000 : 1_000_000;
  const dir = await Deno.makeTempDir({ prefix: "augur-migrate-bench-" });
  const path = `${dir}/augur.duckdb`;
  const db = await pgDatabase("augur_bench");
  try {
    await generateDuckDbFile(path, { snapshots: n, days: 30, markets: 200 });

    // augur migrate (all tables).
    const report = await migrateFile(path, db.url);
    const augurRate = report.rows / report.seconds;
    const baselineRate = await rawCopyRate(path, db.url, n);

    // verify over everything migrated, as `augur verify` runs it.
    const src = await openDuckDbDigests(path);
    const dst = await openPgDigests(db.url, { poolSize: 2 });
    let verify;
    try {
      verify = await verifyStores(src, dst, { ...ALL, concurrency: 2 });
    } finally {
      await src.close();
      await dst.close();
    }
    const verified = verify.tables.reduce((s, t) => s + t.source_rows, 0);
    const per1M = verify.seconds * (1_000_000 / verified);
    return [
      {
        name:
          `migrate backfill ${report.rows} rows (${n} snapshots + derived tables, 2 sessions) vs raw 1-session COPY of the same ${n} snapshot rows`,
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

/**
 * Rows/s of a raw single-session COPY of the snapshot rows (encoded beforehand, not timed)
 * into a table like `snapshots` (same keys and indexes, logged): no progress records, no
 * parity checks, no pipeline.
 */
async function rawCopyRate(path: string, url: string, n: number): Promise<number> {
  // The very bytes augur sends, day by day in the same order (an export, not timed).
  const batches: Uint8Array[] = [];
  let rows = 0;
  const source = await openDuckDbSource(path);
  try {
    const days = await source.partitions("snapshots", ALL);
    source.prepare!(days);
    for (const day of days) {
      for await (const batch of source.readCopy!(day, 50_000)) {
        batches.push(batch.data as Uint8Array);
        rows += batch.rows;
      }
    }
  } finally {
    await source.close();
  }
  if (rows !== n) throw new Error(`raw COPY baseline: expected ${n} snapshot rows, read ${rows}`);
  const sql = postgres(url, {
    max: 1,
    onnotice: () => {},
    socket: (o: { host: string[]; port: number[] }) => {
      const s = net.connect(o.port[0], o.host[0]);
      s.setNoDelay(true);
      return s;
    },
  } as postgres.Options<Record<string, never>>);
  try {
    await sql.unsafe(`CREATE TABLE "bench_raw_copy" (LIKE "snapshots" INCLUDING ALL)`);
    const started = performance.now();
    for (const batch of batches) {
      const writable = await sql.unsafe(`COPY "bench_raw_copy" FROM STDIN`).writable();
      await pipeline(Readable.from([batch]), writable);
    }
    return n / ((performance.now() - started) / 1000);
  } finally {
    await sql.end();
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
