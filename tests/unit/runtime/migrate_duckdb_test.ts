/**
 * The DuckDB migrate source: `batchLines` cuts COPY text into batches at line boundaries
 * whatever the chunking; grouped exports hand every day exactly its own rows (key-ordered),
 * in any read order, and a second read of a day exports it afresh. The benchmark's
 * SQL-generated store holds exactly the rows of the tests' generator.
 */
import { batchLines, openDuckDbSource } from "../../../runtime/migrate_duckdb.ts";
import type { CopyBatch, Partition } from "../../../runtime/migrate_sources.ts";
import { openDuckDbDigests } from "../../../runtime/verify_sql.ts";
import { verifyStores } from "../../../runtime/verify.ts";
import { DuckDbStore } from "../../../adapters/storage/duckdb_store.ts";
import { MetricsRegistry } from "../../../adapters/observability/metrics.ts";
import { generateDuckDbFile } from "../../helpers/migrate_data_sql.ts";
import { generateStore } from "../../helpers/migrate_data.ts";
import { assert, assertEquals, assertRejects } from "../../helpers/assert.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function collect(batches: AsyncIterable<CopyBatch>): Promise<CopyBatch[]> {
  const out: CopyBatch[] = [];
  for await (const b of batches) out.push(b);
  return out;
}

function text(batch: CopyBatch): string {
  return typeof batch.data === "string" ? batch.data : decoder.decode(batch.data);
}

Deno.test("batchLines: batches of N lines whatever the chunk boundaries", async () => {
  const lines = Array.from({ length: 23 }, (_, i) => `row ${i}\tü\\${"x".repeat(i % 5)}\n`);
  const bytes = encoder.encode(lines.join(""));
  for (const chunkSize of [1, 3, 7, 64, bytes.length]) {
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < bytes.length; i += chunkSize) chunks.push(bytes.slice(i, i + chunkSize));
    for (const per of [1, 5, 23, 50]) {
      const batches = await collect(batchLines(chunks, per));
      assertEquals(batches.map((b) => b.rows), expectedSizes(23, per), `chunk ${chunkSize}`);
      const back = batches.map(text);
      assertEquals(back.join(""), lines.join(""));
      let at = 0;
      for (const b of back) {
        assertEquals(b, lines.slice(at, at + per).join(""), `chunk ${chunkSize}, per ${per}`);
        at += per;
      }
    }
  }
});

function expectedSizes(total: number, per: number): number[] {
  const out: number[] = [];
  for (let left = total; left > 0; left -= per) out.push(Math.min(per, left));
  return out;
}

Deno.test("batchLines: no batches for no input; a truncated last line is an error", async () => {
  assertEquals(await collect(batchLines([], 10)), []);
  await assertRejects(
    () => collect(batchLines([encoder.encode("a\nb")], 10)),
    Error,
    "does not end with a newline",
  );
});

Deno.test("grouped DuckDB exports: each day gets exactly its key-ordered rows, in any order", async () => {
  const dir = await Deno.makeTempDir({ prefix: "augur-migrate-unit-" });
  const path = `${dir}/augur.duckdb`;
  try {
    // 6,000 snapshots over 6 days (about 1,000 a day) in 7 markets.
    await generateDuckDbFile(path, { snapshots: 6_000, days: 6, markets: 7 });
    const source = await openDuckDbSource(path);
    try {
      const days = await source.partitions("snapshots", { start: 0, end: 8e15 });
      assertEquals(days.length, 6);
      source.prepare!(days);
      // Out of order, two at once, batches smaller than a day.
      const order = [3, 0, 5, 1, 4, 2];
      const seen = await Promise.all(
        order.map((i) => readDay((p, n) => source.readCopy!(p, n), days[i], 300)),
      );
      for (const [k, i] of order.entries()) {
        const { rows, batches, keys } = seen[k];
        assertEquals(rows, days[i].rows, `day ${days[i].day}`);
        assertEquals(batches, expectedSizes(days[i].rows, 300));
        for (const [, , t] of keys) {
          assert(t >= days[i].range.start && t < days[i].range.end, `row outside ${days[i].day}`);
        }
        const sorted = [...keys].sort(compareKeys);
        assertEquals(keys, sorted, `day ${days[i].day} not in key order`);
      }
      // A second read (the upsert fallback) exports the day afresh: same rows.
      const again = await readDay((p, n) => source.readCopy!(p, n), days[3], 300);
      assertEquals(again.keys, seen[0].keys);
    } finally {
      await source.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("without a writable export directory the source streams the same lines", async () => {
  const dir = await Deno.makeTempDir({ prefix: "augur-migrate-unit-" });
  const path = `${dir}/augur.duckdb`;
  try {
    await generateDuckDbFile(path, { snapshots: 3_000, days: 3, markets: 5 });
    const exported = await openDuckDbSource(path, { exportDir: dir });
    const streamed = await openDuckDbSource(path, { exportDir: null });
    try {
      for (const table of ["snapshots", "signals", "manipulation_flags"] as const) {
        const days = await exported.partitions(table, { start: 0, end: 8e15 });
        assert(days.length > 0);
        exported.prepare!(days);
        streamed.prepare!(days);
        for (const day of days) {
          const a = (await collect(exported.readCopy!(day, 250))).map(text).join("");
          const batches = await collect(streamed.readCopy!(day, 250));
          assertEquals(batches.map((b) => b.rows), expectedSizes(day.rows, 250));
          assertEquals(batches.map(text).join(""), a, `${table} ${day.day}`);
        }
      }
    } finally {
      await exported.close();
      await streamed.close();
    }
    // Every export file was removed with the source.
    const left = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n !== "augur.duckdb");
    assertEquals(left, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

type Key = [string, string, number];

function compareKeys(a: Key, b: Key): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return 0;
}

async function readDay(
  readCopy: (p: Partition, n: number) => AsyncIterable<CopyBatch>,
  partition: Partition,
  batchSize: number,
): Promise<{ rows: number; batches: number[]; keys: Key[] }> {
  const batches: number[] = [];
  const keys: Key[] = [];
  for await (const batch of readCopy(partition, batchSize)) {
    batches.push(batch.rows);
    const lines = text(batch).split("\n");
    assertEquals(lines.pop(), "", "batch ends with a newline");
    assertEquals(lines.length, batch.rows);
    for (const line of lines) {
      const cols = line.split("\t");
      assertEquals(cols.length, 15);
      keys.push([cols[0], cols[1], Number(cols[2])]);
    }
  }
  return { rows: batches.reduce((a, b) => a + b, 0), batches, keys };
}

Deno.test("the bench's SQL-generated store equals the tests' generated store, row for row", async () => {
  const dir = await Deno.makeTempDir({ prefix: "augur-migrate-unit-" });
  try {
    const options = { snapshots: 4_321, days: 3, markets: 13 };
    const sqlCounts = await generateDuckDbFile(`${dir}/sql.duckdb`, options);
    const store = new DuckDbStore({ path: `${dir}/js.duckdb`, registry: new MetricsRegistry() });
    await store.initialize();
    const jsCounts = await generateStore(store, options);
    await store.close();
    assertEquals(sqlCounts, jsCounts);
    const a = await openDuckDbDigests(`${dir}/sql.duckdb`);
    const b = await openDuckDbDigests(`${dir}/js.duckdb`);
    try {
      const report = await verifyStores(a, b, { start: 0, end: 8e15 });
      assert(report.parity, JSON.stringify(report.first));
      assertEquals(report.tables.find((t) => t.table === "snapshots")?.source_rows, 4_321);
    } finally {
      await a.close();
      await b.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
