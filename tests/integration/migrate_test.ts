/**
 * augur migrate / verify against real PostgreSQL (pgDatabase) and a real DuckDB file:
 * backfill of a generated store → full parity; a rerun adds nothing; tampered and deleted
 * target rows are named by (table, market, day); Parquet archives with unknown, malicious
 * or mistyped columns are rejected before anything is written.
 */
import { parquetWriteBuffer } from "npm:hyparquet-writer@0.17.0";
import { DuckDbStore } from "../../adapters/storage/duckdb_store.ts";
import { TimescaleStore } from "../../adapters/storage/timescale_store.ts";
import { StorageFileSchema } from "../../config/schemas/storage.ts";
import { MetricsRegistry } from "../../adapters/observability/metrics.ts";
import { createLogger } from "../../adapters/observability/logger.ts";
import { openParquetSource, ParquetSourceError } from "../../adapters/parquet_source.ts";
import { runMigrate } from "../../runtime/migrate.ts";
import { copyText, MigrateWriteError, PgMigrateTarget } from "../../runtime/migrate_copy.ts";
import type { MigrateTable } from "../../runtime/migrate_sources.ts";
import { verifyStores } from "../../runtime/verify.ts";
import { assert, assertEquals, assertMatch, assertRejects } from "../helpers/assert.ts";
import { needs } from "../helpers/servers.ts";
import { waitForSettled } from "../helpers/wait.ts";
import { verifyPair, withMigratePair } from "../helpers/migrate_pair.ts";
import { GEN_DAY, GEN_T0, generateStore, genSnapshot } from "../helpers/migrate_data.ts";
import { migrateFile } from "../helpers/migrate_data_sql.ts";

const storage = StorageFileSchema.parse({});
const ALL = { start: 0, end: 8e15 };
const logs: string[] = [];
const quiet = { write: () => {}, logger: createLogger({ sink: (line) => logs.push(line) }) };

Deno.test("copyText escapes tabs, newlines, backslashes, NULLs, arrays and bytes", () => {
  assertEquals(copyText("ticks", [["kalshi", 1n, 3]]), "kalshi\t1\t3\n");
  const row = genSnapshot(0, { snapshots: 1, days: 1, markets: 1 });
  const text = copyText("snapshots", [[
    row.market_id,
    row.platform,
    row.timestamp,
    row.last_price,
    null,
    null,
    null,
    row.volume_24h,
    row.liquidity,
    "a\tb\nc\\d\re",
    null,
    null,
    null,
    "{}",
    "1.0.0",
  ]]);
  assertMatch(text, /\ta\\tb\\nc\\\\d\\re\t\\N\t/);
  const sig = copyText("signals", [[
    "id",
    "m",
    "kalshi",
    "volume_spike",
    0.5,
    1,
    0.5,
    true,
    1,
    60,
    "mid",
    ['a"b', "c\\d"],
    "{}",
    "1.0.0",
  ]]);
  assertMatch(sig, /\tt\t1\t60\tmid\t\{"a\\\\"b","c\\\\\\\\d"\}\t/);
});

Deno.test({
  name: "migrate a generated DuckDB store: parity, idempotent rerun, verify names tampering",
  ...needs("postgres"),
  fn: (t) =>
    withMigratePair("augur-migrate-", async (pair) => {
      const { path, db, sql } = pair;
      const registry = new MetricsRegistry();
      const primary = new DuckDbStore({ path, registry });
      await primary.initialize();
      const counts = await generateStore(primary, { snapshots: 12_000, days: 30, markets: 40 });
      await primary.close();

      let first!: Awaited<ReturnType<typeof runMigrate>>;
      await t.step("first run copies every partition with reported-row parity", async () => {
        // A target trade with the key of source trade 10 (id:t10) on another day (2000-01-01):
        // its day looks empty, the direct COPY hits the key and the partition falls back to
        // the upsert, which moves the row to the source's content.
        const target = new TimescaleStore({ url: db.url, config: storage, registry });
        await target.initialize();
        await target.close();
        await sql.unsafe(
          `INSERT INTO "trades" VALUES ('gen_market_00a', 'kalshi', 'id:t10', 946684800000000, 0.5, 1, 'buy', NULL, 't10')`,
        );
        first = await migrateFile(path, db.url, {
          batchSize: 150, // ≈ 400 rows a day: several COPY batches per partition
          registry,
          ...quiet,
        });
        const expected = counts.snapshots + counts.trades + counts.features + counts.signals +
          counts.contexts + counts.ticks +
          // manipulation flags: i % 3 flags per signal i (i multiple of 100)
          Array.from({ length: counts.signals }, (_, k) => (k * 100) % 3).reduce(
            (a, b) => a + b,
            0,
          );
        assertEquals(first.rows, expected);
        assertEquals(first.written, expected);
        assert(
          logs.some((l) => l.includes("direct COPY refused") && l.includes('"table":"trades"')),
          "the trades partition did not fall back to the upsert",
        );
        assertEquals(first.tables.find((x) => x.table === "snapshots")?.partitions, 30);
        // chronological per table
        const snaps = first.plan.filter((p) => p.table === "snapshots").map((p) => p.day);
        assertEquals(snaps, [...snaps].sort());
      });

      await t.step("verify: full parity (in-database digests, and the stores' own)", async () => {
        const report = await verifyPair(pair);
        assert(report.parity, JSON.stringify(report.first));
        assertEquals(report.tables.find((x) => x.table === "snapshots")?.target_rows, 12_000);
        const source = new DuckDbStore({ path, registry });
        const target = new TimescaleStore({ url: db.url, config: storage, poolSize: 4, registry });
        await source.initialize();
        await target.initialize();
        try {
          const stores = await verifyStores(source, target, ALL);
          assert(stores.parity, JSON.stringify(stores.first));
        } finally {
          await source.close();
          await target.close();
        }
      });

      await t.step("a second run adds nothing", async () => {
        const again = await migrateFile(path, db.url, { registry, ...quiet });
        assertEquals(again.rows, 0);
        assertEquals(again.written, 0);
        assert(again.plan.every((p) => p.done));
      });

      await t.step(
        "a half-written partition (killed run) is upserted back to parity",
        async () => {
          const start = GEN_T0 + 5 * GEN_DAY;
          const range = [start, start + GEN_DAY];
          const deleted = await sql.unsafe(
            `DELETE FROM "snapshots" WHERE "timestamp" >= $1 AND "timestamp" < $2 AND "timestamp" % 2 = 0`,
            range,
          );
          assert(deleted.count > 0);
          await sql.unsafe(
            `DELETE FROM "migrate_progress" WHERE "table_name" = 'snapshots' AND "range_start" = $1`,
            [start],
          );
          const rerun = await migrateFile(path, db.url, { batchSize: 150, registry, ...quiet });
          const day = rerun.plan.filter((p) => !p.done);
          assertEquals(day.map((p) => [p.table, p.range.start]), [["snapshots", start]]);
          assertEquals(rerun.written, day[0].rows);
          const rows = await sql.unsafe(
            `SELECT count(*) AS n, count(DISTINCT ("market_id", "platform", "timestamp")) AS d FROM "snapshots"`,
          );
          assertEquals([Number(rows[0].n), Number(rows[0].d)], [12_000, 12_000]);
          assert((await verifyPair(pair)).parity);
        },
      );

      const day = new Date((GEN_T0 + 3 * GEN_DAY) / 1000).toISOString().slice(0, 10);
      const victim = await sql.unsafe(
        `SELECT "market_id", "timestamp" FROM "snapshots" WHERE "timestamp" >= $1 ORDER BY "timestamp" LIMIT 1`,
        [GEN_T0 + 3 * GEN_DAY],
      );
      const market = String(victim[0].market_id);
      await t.step("tamper one row: verify names (table, market, day)", async () => {
        await sql.unsafe(
          `UPDATE "snapshots" SET "last_price" = "last_price" + 0.001 WHERE "market_id" = $1 AND "timestamp" = $2`,
          [market, victim[0].timestamp],
        );
        const report = await verifyPair(pair);
        assert(!report.parity);
        assertEquals(report.mismatches, 1);
        assertEquals(report.first[0].table, "snapshots");
        assertEquals(report.first[0].market_id, market);
        assertEquals(report.first[0].day, day);
        assertEquals(report.first[0].kind, "digest");
      });
      await t.step("delete one row: verify names it as a count mismatch", async () => {
        await sql.unsafe(
          `DELETE FROM "snapshots" WHERE "market_id" = $1 AND "timestamp" = $2`,
          [market, victim[0].timestamp],
        );
        const report = await verifyPair(pair);
        assert(!report.parity);
        assertEquals(report.first[0].market_id, market);
        assertEquals(report.first[0].day, day);
        assertEquals(report.first[0].kind, "count");
        assertEquals(report.first[0].target_count + 1, report.first[0].source_count);
      });
    }),
});

/** A valid snapshots Parquet column set for `n` rows on GEN_T0's day. */
function snapshotColumns(n: number) {
  const rows = Array.from(
    { length: n },
    (_, i) => genSnapshot(i, { snapshots: n, days: 1, markets: 3 }),
  );
  return [
    { name: "market_id", data: rows.map((r) => r.market_id), type: "STRING" },
    { name: "platform", data: rows.map((r) => r.platform), type: "STRING" },
    { name: "timestamp", data: rows.map((r) => BigInt(r.timestamp)), type: "INT64" },
    { name: "last_price", data: rows.map((r) => r.last_price), type: "DOUBLE" },
    { name: "bid", data: rows.map((r) => r.bid), type: "DOUBLE" },
    { name: "volume_24h", data: rows.map((r) => r.volume_24h), type: "DOUBLE" },
    { name: "liquidity", data: rows.map((r) => r.liquidity), type: "DOUBLE" },
    { name: "question", data: rows.map((r) => r.question), type: "STRING" },
    { name: "raw_json", data: rows.map((r) => JSON.stringify(r.raw_json)), type: "STRING" },
    { name: "schema_version", data: rows.map((r) => r.schema_version), type: "STRING" },
  ];
}

async function writeParquet(dir: string, table: string, day: string, columns: unknown[]) {
  await Deno.mkdir(`${dir}/${table}`, { recursive: true });
  const buffer = parquetWriteBuffer({ columnData: columns as never });
  await Deno.writeFile(`${dir}/${table}/${day}.parquet`, new Uint8Array(buffer));
}

Deno.test({
  name:
    "migrate from Parquet: valid archive copies; unknown, malicious, mistyped columns rejected, nothing written",
  ...needs("postgres"),
  fn: (t) =>
    withMigratePair("augur-parquet-", async ({ dir: root, db, sql }) => {
      const day = new Date(GEN_T0 / 1000).toISOString().slice(0, 10);
      const registry = new MetricsRegistry();
      const snapshotRows = async () => {
        const exists = await sql.unsafe(`SELECT to_regclass('public.snapshots') AS t`);
        if (exists[0].t === null) return 0;
        return Number((await sql.unsafe(`SELECT count(*) AS n FROM "snapshots"`))[0].n);
      };
      const migrateDir = async (dir: string) => {
        const source = await openParquetSource<MigrateTable>(dir);
        try {
          return await runMigrate({
            source,
            targetUrl: db.url,
            storage,
            range: ALL,
            tables: ["snapshots"],
            registry,
            ...quiet,
          });
        } finally {
          await source.close();
        }
      };
      const cases: [string, (cols: ReturnType<typeof snapshotColumns>) => unknown[], RegExp][] = [
        [
          "extra unknown column",
          (cols) => [...cols, { name: "extra", data: cols[0].data.map(() => "x"), type: "STRING" }],
          /unknown column "extra"/,
        ],
        [
          "malicious column name",
          (cols) => [...cols, {
            name: 'x"; DROP TABLE snapshots; --',
            data: cols[0].data.map(() => "x"),
            type: "STRING",
          }],
          /unknown column "x\\"; DROP TABLE snapshots; --"/,
        ],
        [
          "wrong type",
          (cols) =>
            cols.map((c) =>
              c.name === "last_price"
                ? { name: "last_price", data: c.data.map(String), type: "STRING" }
                : c
            ),
          /column "last_price" has Parquet type BYTE_ARRAY.*\(snapshots|snapshots \d{4}-\d{2}-\d{2}\): column "last_price"/,
        ],
      ];
      for (const [k, [name, mutate, pattern]] of cases.entries()) {
        await t.step(`${name} → rejected, nothing written`, async () => {
          const dir = `${root}/case-${k}`;
          // A good day first: the bad file of the next day must stop the whole run.
          await writeParquet(dir, "snapshots", day, snapshotColumns(50));
          const bad = mutate(snapshotColumns(50)).map((c) => {
            const col = c as { name: string; data: unknown[] };
            return col.name === "timestamp"
              ? { ...col, data: col.data.map((x) => (x as bigint) + BigInt(GEN_DAY)) }
              : col;
          });
          const next = new Date((GEN_T0 + GEN_DAY) / 1000).toISOString().slice(0, 10);
          await writeParquet(dir, "snapshots", next, bad);
          const error = await assertRejects(() => migrateDir(dir), ParquetSourceError);
          assertMatch(error.message, pattern);
          assertMatch(error.message, new RegExp(next));
          assertEquals(await snapshotRows(), 0);
        });
      }
      await t.step("a valid archive is copied", async () => {
        const dir = `${root}/valid`;
        await writeParquet(dir, "snapshots", day, snapshotColumns(50));
        const report = await migrateDir(dir);
        assertEquals(report.written, 50);
        assertEquals(await snapshotRows(), 50);
        const again = await migrateDir(dir);
        assertEquals(again.written, 0);
      });
    }),
});

Deno.test({
  name: "PgMigrateTarget: COPY reports its rows; a refused COPY rejects instead of hanging",
  ...needs("postgres"),
  fn: () =>
    withMigratePair("augur-migrate-target-", async ({ db }) => {
      const store = new TimescaleStore({ url: db.url, config: storage });
      await store.initialize();
      await store.close();
      const target = await PgMigrateTarget.open(db.url);
      try {
        assertEquals(await target.copyInto("ticks", "kalshi\t1\t3\nkalshi\t2\t3\n"), 2);
        // The same key again: PostgreSQL refuses after the last byte arrived.
        const refused = await waitForSettled(
          assertRejects(() => target.copyInto("ticks", "kalshi\t2\t4\n"), MigrateWriteError),
          { timeoutMs: 10_000, message: "no answer to the refused COPY within 10 s (hung)" },
        );
        assertMatch(refused.message, /23505|duplicate key/);
        // The session is usable afterwards, and the upsert reports every row it wrote.
        assertEquals(await target.writeCopy("ticks", "kalshi\t2\t5\nkalshi\t3\t5\n"), 2);
        assertEquals(await target.count("ticks", { start: 0, end: 10 }), 3);
      } finally {
        await target.close();
      }
    }),
});
