import { TimescaleStore } from "../../../../adapters/storage/timescale_store.ts";
import { createStore } from "../../../../adapters/storage/factory.ts";
import { StorageFileSchema } from "../../../../config/schemas/storage.ts";
import { ConfigError } from "../../../../config/errors.ts";
import { MetricsRegistry } from "../../../../adapters/observability/metrics.ts";
import { assert, assertEquals, assertMatch, assertThrows } from "../../../helpers/assert.ts";
import { needs, pgDatabase } from "../../../helpers/servers.ts";
import { runStoreContract, snapshot, T0 } from "../../../unit/adapters/storage/store_contract.ts";

const config = StorageFileSchema.parse({});

class Probe extends TimescaleStore {
  raw(sql: string) {
    return this.query("*", "select", sql);
  }
}

Deno.test({
  name: "TimescaleStore (PostgreSQL) passes the store contract",
  ...needs("postgres"),
  fn: async (t) => {
    const db = await pgDatabase();
    try {
      await runStoreContract(
        t,
        () => Promise.resolve(new TimescaleStore({ url: db.url, config, poolSize: 4 })),
      );
    } finally {
      await db.drop();
    }
  },
});

Deno.test({
  name:
    "TimescaleStore DDL without the extension: plain tables, keys, indexes; initialize twice changes nothing",
  ...needs("postgres"),
  fn: async () => {
    const db = await pgDatabase();
    const registry = new MetricsRegistry();
    const store = new Probe({ url: db.url, config, poolSize: 2, registry });
    try {
      await store.initialize();
      assert(!store.hypertables);
      const version = await store.raw(`SELECT "version", "applied_at" FROM "schema_version"`);
      const schema = await store.raw(
        `SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2`,
      );
      await store.upsertSnapshots([snapshot("m", T0)]);
      await store.initialize();
      assertEquals(
        await store.raw(`SELECT "version", "applied_at" FROM "schema_version"`),
        version,
      );
      assertEquals(version.length, 1);
      assertEquals(
        await store.raw(
          `SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2`,
        ),
        schema,
      );
      const names = new Set(schema.map((r) => String(r.indexname)));
      for (
        const name of [
          "snapshots_pkey",
          "signals_pkey",
          "manipulation_flags_pkey",
          "worker_state_pkey",
          "ticks_pkey",
        ]
      ) {
        assert(names.has(name), `missing index ${name}`);
      }
      const pk = schema.find((r) => r.indexname === "signals_pkey");
      assertMatch(String(pk?.indexdef), /\(signal_id, detected_at\)/);
      assertEquals((await store.latestSnapshot("m"))?.timestamp, T0);
      // Every query is timed.
      assertMatch(
        registry.expose(),
        /augur_db_query_seconds_count\{table="snapshots",operation="upsert"\} 1/,
      );
      assertMatch(
        registry.expose(),
        /augur_db_query_seconds_count\{table="\*",operation="ddl"\} \d+/,
      );
    } finally {
      await store.close();
      await db.drop();
    }
  },
});

Deno.test({
  name: "TimescaleStore plan for latest-N uses the (market_id, timestamp DESC) index",
  ...needs("postgres"),
  fn: async () => {
    const db = await pgDatabase();
    const store = new Probe({ url: db.url, config, poolSize: 2 });
    try {
      await store.initialize();
      const rows = [];
      for (let m = 0; m < 50; m++) {
        for (let i = 0; i < 40; i++) rows.push(snapshot(`m${m}`, T0 + i));
      }
      await store.upsertSnapshots(rows);
      await store.raw(`ANALYZE "snapshots"`);
      const plan = (await store.raw(
        `EXPLAIN SELECT * FROM "snapshots" WHERE "market_id" = 'm7' ORDER BY "timestamp" DESC LIMIT 5`,
      )).map((r) => String(r["QUERY PLAN"])).join("\n");
      // The key (market_id, timestamp, platform) serves "latest of a market" backwards.
      assertMatch(plan, /Index Scan Backward using snapshots_pkey/);
    } finally {
      await store.close();
      await db.drop();
    }
  },
});

Deno.test("TimescaleStore rejects an injected segmentby before any connection or SQL", () => {
  const bad = StorageFileSchema.parse({
    hypertable: { compress_segmentby: "market_id; DROP TABLE snapshots" },
  });
  // Port 1 would fail to connect; the ConfigError proves validation ran first.
  assertThrows(
    () => new TimescaleStore({ url: "postgres://nobody@127.0.0.1:1/none", config: bad }),
    ConfigError,
    "compress_segmentby",
  );
});

Deno.test({
  name: "createStore routes timescaledb by backend.kind and reads the DSN from the named env var",
  ...needs("postgres"),
  fn: async () => {
    const db = await pgDatabase();
    const cfg = StorageFileSchema.parse({
      backend: { kind: "timescaledb", timescale_url_env: "AUGUR_TEST_STORE_URL" },
      connection: { pool_size: 2, max_overflow: 0 },
    });
    const store = await createStore(cfg, { env: { AUGUR_TEST_STORE_URL: db.url } });
    try {
      assertEquals(store.backend, "timescaledb");
      await store.initialize();
      await store.recordTicks([{ platform: "kalshi", t: T0, announced: 1 }]);
      assertEquals(
        (await store.ticksInRange("kalshi", { start: T0, end: T0 + 1 }))[0].announced,
        1,
      );
    } finally {
      await store.close();
      await db.drop();
    }
  },
});

Deno.test({
  name:
    "TimescaleStore: awkward values land exactly by COPY and by the staging merge; a re-applied batch rewrites no row",
  ...needs("postgres"),
  fn: async () => {
    const db = await pgDatabase();
    const store = new Probe({ url: db.url, config, poolSize: 4 });
    try {
      await store.initialize();
      const odd = (market: string) => [
        snapshot(market, T0, {
          question: 'tab\there, newline\nthere, back\\slash, "quotes", 😀 ü',
          resolution_source: "",
          bid: -0,
          ask: Infinity,
          last_price: NaN,
          spread: 5e-324,
          volume_24h: 1.7976931348623157e308,
          closes_at: null,
          raw_json: { "ключ": ["\u0001", null, 1e-7], nested: { deep: [true, false] } },
        }),
        snapshot(market, T0 + 1),
      ];
      const check = async (market: string, expected: ReturnType<typeof odd>) => {
        const got = await store.latestSnapshots(market, 10);
        assertEquals(got.length, expected.length);
        got.forEach((row, i) => {
          for (const [key, value] of Object.entries(expected[i])) {
            const actual = (row as unknown as Record<string, unknown>)[key];
            // Object.is tells NaN, -0 and Infinity apart; assertEquals compares the rest.
            if (typeof value === "number") assert(Object.is(actual, value), `${key}: ${actual}`);
            else assertEquals(actual, value, key);
          }
        });
      };
      // New rows: binary COPY straight into the table.
      await store.upsertSnapshots(odd("odd_a"));
      await check("odd_a", odd("odd_a"));
      const versions = () =>
        store.raw(
          `SELECT "market_id", "timestamp", xmin::text AS v FROM "snapshots" ORDER BY 1, 2`,
        );
      const before = await versions();
      // The same batch again: the COPY meets existing keys and the merge rewrites nothing.
      await store.upsertSnapshots(odd("odd_a"));
      assertEquals(await versions(), before);
      // Existing keys plus a new market in one batch: the merge path, row by row exact.
      const changed = odd("odd_a");
      changed[1] = { ...changed[1], last_price: 0.75 };
      await store.upsertSnapshots([...changed, ...odd("odd_b")]);
      await check("odd_a", changed);
      await check("odd_b", odd("odd_b"));
      const after = await versions();
      assertEquals(after[0], before[0]); // unchanged row kept its version
      assert(after[1].v !== before[1].v, "the changed row was rewritten");
    } finally {
      await store.close();
      await db.drop();
    }
  },
});
