import { DuckDbStore } from "../../../../adapters/storage/duckdb_store.ts";
import { sqlType, TABLES } from "../../../../adapters/storage/schema.ts";
import { ConnectionError } from "../../../../config/errors.ts";
import { MetricsRegistry } from "../../../../adapters/observability/metrics.ts";
import { assert, assertEquals, assertMatch, assertRejects } from "../../../helpers/assert.ts";
import { runStoreContract, snapshot, T0 } from "../../../unit/adapters/storage/store_contract.ts";

class Probe extends DuckDbStore {
  raw(sql: string) {
    return this.query("*", "select", sql);
  }
}

Deno.test("DuckDbStore (real file) passes the store contract", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "augur-duck-" });
  try {
    await runStoreContract(
      t,
      () => Promise.resolve(new DuckDbStore({ path: `${dir}/augur.duckdb` })),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("DuckDbStore creates the file and parent dirs, keeps data and schema_version across reopen", async () => {
  const dir = await Deno.makeTempDir({ prefix: "augur-duck-" });
  const path = `${dir}/nested/data/augur.duckdb`;
  const registry = new MetricsRegistry();
  try {
    const a = new DuckDbStore({ path, registry });
    await a.initialize();
    await a.upsertSnapshots([snapshot("m", T0)]);
    await a.close();
    assert((await Deno.stat(path)).isFile);
    const b = new Probe({ path, registry });
    await b.initialize();
    const first = await b.raw(`SELECT "version", "applied_at" FROM "schema_version"`);
    await b.initialize();
    assertEquals(await b.raw(`SELECT "version", "applied_at" FROM "schema_version"`), first);
    assertEquals(first.length, 1);
    assertEquals((await b.latestSnapshot("m"))?.timestamp, T0);
    await b.close();
    const exposed = registry.expose();
    assertMatch(exposed, /augur_db_query_seconds_count\{table="snapshots",operation="upsert"\} 1/);
    assertMatch(exposed, /augur_db_query_seconds_count\{table="snapshots",operation="select"\} 1/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("DuckDbStore reports a file locked by another process in one line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "augur-duck-" });
  const path = `${dir}/augur.duckdb`;
  const holder = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `const { DuckDBInstance } = await import("@duckdb/node-api");
       const i = await DuckDBInstance.create(${JSON.stringify(path)});
       await (await i.connect()).run("CREATE TABLE x (a INT)");
       console.log("ready");
       setInterval(() => {}, 1000);`,
    ],
    stdout: "piped",
    stderr: "null",
    cwd: new URL("../../../../", import.meta.url).pathname,
  }).spawn();
  try {
    const reader = holder.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const { value } = await reader.read();
    assertEquals(value?.trim(), "ready");
    const store = new DuckDbStore({ path });
    const error = await assertRejects(() => store.initialize(), ConnectionError);
    assertMatch(error.message, /augur\.duckdb is locked by another process \(pid \d+\)/);
    assert(!error.message.includes("\n"));
    reader.releaseLock();
  } finally {
    try {
      holder.kill("SIGKILL");
    } catch { /* already exited */ }
    await holder.status;
    await holder.stdout.cancel().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("DuckDbStore keeps upserting into a file whose snapshots table still has its primary key", async () => {
  // Files created before the time-keyed tables lost their primary key keep it
  // (CREATE TABLE IF NOT EXISTS): the merge must work on both layouts.
  const dir = await Deno.makeTempDir({ prefix: "augur-duck-" });
  const path = `${dir}/augur.duckdb`;
  try {
    const duck = await import("@duckdb/node-api");
    const instance = await duck.DuckDBInstance.create(path);
    const conn = await instance.connect();
    const spec = TABLES.snapshots;
    await conn.run(
      `CREATE TABLE "snapshots" (${
        spec.columns.map((c) =>
          `"${c.name}" ${sqlType("duckdb", c.type)}${c.nullable ? "" : " NOT NULL"}`
        ).join(", ")
      }, PRIMARY KEY (${spec.key.map((k) => `"${k}"`).join(", ")}))`,
    );
    conn.closeSync();
    instance.closeSync();

    const store = new Probe({ path });
    await store.initialize();
    const batch = [snapshot("m", T0), snapshot("m", T0 + 1), snapshot("n", T0)];
    await store.upsertSnapshots(batch);
    await store.upsertSnapshots(batch); // re-applied: nothing changes
    // A changed row, a new row and a key twice in one batch (the last wins).
    await store.upsertSnapshots([
      snapshot("m", T0 + 1, { last_price: 0.9 }),
      snapshot("m", T0 + 2, { last_price: 0.1 }),
      snapshot("m", T0 + 2, { last_price: 0.2 }),
    ]);
    assertEquals(
      (await store.latestSnapshots("m", 10)).map((s) => [s.timestamp - T0, s.last_price]),
      [[0, batch[0].last_price], [1, 0.9], [2, 0.2]],
    );
    assertEquals((await store.latestSnapshots("n", 10)).length, 1);
    const keys = await store.raw(
      `SELECT count(*)::INTEGER AS n FROM duckdb_constraints() WHERE table_name = 'snapshots' AND constraint_type = 'PRIMARY KEY'`,
    );
    assertEquals(keys[0].n, 1, "the file kept its primary key");
    await store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("DuckDbStore appends batches of new keys directly and merges the rest: no key twice, across reopen", async () => {
  const dir = await Deno.makeTempDir({ prefix: "augur-duck-" });
  const path = `${dir}/augur.duckdb`;
  const count = async (store: Probe) =>
    Number(
      (await store.raw(
        `SELECT count(*) AS n, count(DISTINCT ("market_id", "platform", "timestamp")) AS d FROM "snapshots"`,
      )).map((r) => {
        assertEquals(r.n, r.d, "a key stored twice");
        return r.n;
      })[0],
    );
  try {
    const a = new Probe({ path });
    await a.initialize();
    const first = [snapshot("a", T0), snapshot("b", T0), snapshot("a", T0 + 10)];
    await a.upsertSnapshots(first); // fresh: appended
    assertEquals(await count(a), 3);
    await a.upsertSnapshots(first); // re-applied: merged, nothing added
    assertEquals(await count(a), 3);
    await a.close();

    // A new process loads the marks from the file.
    const b = new Probe({ path });
    await b.initialize();
    await b.upsertSnapshots([snapshot("a", T0 + 10)]); // stored key after reopen
    assertEquals(await count(b), 3);
    await b.upsertSnapshots([snapshot("a", T0 + 5)]); // new key older than the mark: merged in
    assertEquals(await count(b), 4);
    const changed = { ...snapshot("b", T0), last_price: 0.123 };
    await b.upsertSnapshots([changed, snapshot("b", T0 + 20)]); // update + new key
    assertEquals(await count(b), 5);
    assertEquals((await b.snapshotsInRange("b", { start: T0, end: T0 + 1 }))[0].last_price, 0.123);
    await b.upsertSnapshots([snapshot("b", T0 + 30), snapshot("c", T0)]); // fresh again
    assertEquals(await count(b), 7);
    assertEquals(
      (await b.snapshotsInRange("a", { start: T0, end: T0 + 11 })).map((s) => s.timestamp),
      [T0, T0 + 5, T0 + 10],
    );
    await b.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("DuckDbStore commits writes issued together in one transaction (group commit)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "augur-duck-" });
  const registry = new MetricsRegistry();
  const commits = () =>
    Number(
      registry.expose().match(
        /augur_db_query_seconds_count\{table="\*",operation="commit"\} (\d+)/,
      )?.[1] ?? 0,
    );
  try {
    const store = new DuckDbStore({ path: `${dir}/augur.duckdb`, registry });
    await store.initialize();
    // A store sink's commit: its tables written concurrently.
    await Promise.all([
      store.upsertSnapshots([snapshot("a", T0), snapshot("b", T0)]),
      store.recordTicks([{ platform: "kalshi", t: T0, announced: 2 }]),
      store.upsertSnapshots([snapshot("c", T0)]),
    ]);
    assertEquals(commits(), 1, "three writes, one commit");
    await store.upsertSnapshots([snapshot("a", T0 + 1)]);
    assertEquals(commits(), 2);
    const ticks = await store.ticksInRange("kalshi", { start: T0, end: T0 + 1 });
    assertEquals(ticks.map((t) => [t.announced, t.stored]), [[2, 3]]);
    await store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
