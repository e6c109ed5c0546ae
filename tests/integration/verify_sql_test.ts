/**
 * `augur verify`'s in-database digests (runtime/verify_sql.ts) agree between DuckDB and
 * PostgreSQL on awkward content — signed zeros, infinities, NaN, subnormals, NULL vs empty
 * text, separators, escapes, control characters, emoji and combining marks, empty arrays,
 * manipulation flags — after a real `augur migrate`; and each subtle change in the target
 * (one that a sloppier canonical form would miss) is named by (table, market, day).
 */
import { DuckDbStore } from "../../adapters/storage/duckdb_store.ts";
import { MetricsRegistry } from "../../adapters/observability/metrics.ts";
import { assert, assertEquals } from "../helpers/assert.ts";
import { needs } from "../helpers/servers.ts";
import { verifyPair, withMigratePair } from "../helpers/migrate_pair.ts";
import { migrateFile } from "../helpers/migrate_data_sql.ts";

const T = Date.UTC(2026, 2, 1) * 1000; // 2026-03-01

/** Awkward texts (SQL expressions valid in DuckDB and PostgreSQL). */
const TEXTS = [
  `''`,
  `'a:b,c'`,
  `'3:abc'`,
  `'N'`,
  `'\\N'`,
  `'tab' || chr(9) || 'nl' || chr(10) || 'cr' || chr(13) || 'end'`,
  `'back\\slash\\\\'`,
  `'"quoted" and ''single'''`,
  `'ctrl' || chr(1) || chr(31)`,
  `'emoji 😀 and ü'`,
  `'e' || chr(769)`, // e + combining acute
  `'é'`, // precomposed
  `'中文'`,
];
const DOUBLES = [
  "0",
  "-0.0",
  "1e-9",
  "5e-324",
  "2.2250738585072014e-308",
  "1.7976931348623157e308",
  "0.1",
  "0.30000000000000004",
  "1e15",
  "123456789012345680000",
  "-2.5",
  "'inf'",
  "'-inf'",
  "'nan'",
];

Deno.test({
  name: "SQL digests: DuckDB and PostgreSQL agree on awkward rows; subtle changes are named",
  ...needs("postgres"),
  fn: (t) =>
    withMigratePair("augur-verify-sql-", async (pair) => {
      const { path, db, sql } = pair;
      const store = new DuckDbStore({ path, registry: new MetricsRegistry() });
      await store.initialize();
      await store.close();
      await fillAwkward(path);

      assert((await migrateFile(path, db.url)).rows > 0);

      await t.step("full parity after the migration", async () => {
        const report = await verifyPair(pair);
        assert(report.parity, JSON.stringify(report.first));
        const rows = Object.fromEntries(report.tables.map((x) => [x.table, x.target_rows]));
        assertEquals(rows, {
          snapshots: TEXTS.length * DOUBLES.length + 1,
          trades: TEXTS.length,
          features: TEXTS.length,
          signals: 4,
          contexts: TEXTS.length,
        });
      });

      // Each change, then its undo; the change must be named, the undo must restore parity.
      const changes: [string, string, string, string, string][] = [
        [
          "-0.0 becomes 0.0",
          "snapshots",
          `UPDATE "snapshots" SET "bid" = 0 WHERE "market_id" = 'm_d1' AND "bid" = '-0'::float8 AND "timestamp" = ${
            T + 1
          }`,
          `UPDATE "snapshots" SET "bid" = '-0'::float8 WHERE "market_id" = 'm_d1' AND "timestamp" = ${
            T + 1
          }`,
          "m_d1",
        ],
        [
          "empty text becomes NULL",
          "snapshots",
          `UPDATE "snapshots" SET "resolution_source" = NULL WHERE "market_id" = 'm_t0' AND "timestamp" = ${T}`,
          `UPDATE "snapshots" SET "resolution_source" = '' WHERE "market_id" = 'm_t0' AND "timestamp" = ${T}`,
          "m_t0",
        ],
        [
          "decomposed é becomes precomposed",
          "features",
          `UPDATE "features" SET "payload" = 'é' WHERE "market_id" = 'm_t10'`,
          `UPDATE "features" SET "payload" = 'e' || chr(769) WHERE "market_id" = 'm_t10'`,
          "m_t10",
        ],
        [
          `array [""] becomes []`,
          "signals",
          `UPDATE "signals" SET "related_market_ids" = '{}' WHERE "signal_id" = 's1'`,
          `UPDATE "signals" SET "related_market_ids" = '{""}' WHERE "signal_id" = 's1'`,
          "m_sig",
        ],
        [
          `array ["a,b"] becomes ["a", "b"]`,
          "signals",
          `UPDATE "signals" SET "related_market_ids" = '{a,b}' WHERE "signal_id" = 's2'`,
          `UPDATE "signals" SET "related_market_ids" = '{"a,b"}' WHERE "signal_id" = 's2'`,
          "m_sig",
        ],
        [
          "a manipulation flag removed",
          "signals",
          `DELETE FROM "manipulation_flags" WHERE "signal_id" = 's3' AND "flag" = 'cancel_replace_burst'`,
          `INSERT INTO "manipulation_flags" VALUES ('s3', 'cancel_replace_burst', ${T + 3})`,
          "m_sig",
        ],
      ];
      for (const [what, table, change, undo, market] of changes) {
        await t.step(`${what}: named as (${table}, ${market}, 2026-03-01)`, async () => {
          const changed = await sql.unsafe(change);
          assertEquals(changed.count, 1, `the change touched ${changed.count} rows`);
          const report = await verifyPair(pair);
          assertEquals(report.mismatches, 1, JSON.stringify(report.first));
          const m = report.first[0];
          assertEquals([m.table, m.market_id, m.day, m.kind], [
            table,
            market,
            "2026-03-01",
            "digest",
          ]);
          await sql.unsafe(undo);
          assert((await verifyPair(pair)).parity, `undo of "${what}" did not restore parity`);
        });
      }
    }),
});

/** Insert the awkward rows into the DuckDB store file with plain SQL. */
async function fillAwkward(path: string): Promise<void> {
  const duck = await import("@duckdb/node-api");
  const instance = await duck.DuckDBInstance.create(path);
  const conn = await instance.connect();
  try {
    // Snapshots: every text in a text column × every double in the price columns.
    for (const [i, text] of TEXTS.entries()) {
      for (const [j, d] of DOUBLES.entries()) {
        const ts = T + i * 1000 + j;
        await conn.run(
          `INSERT INTO "snapshots" VALUES ('m_t${i}', 'kalshi', ${ts}, CAST(${d} AS DOUBLE), ${
            j % 2 ? "NULL" : `CAST(${d} AS DOUBLE)`
          }, NULL, CAST(${d} AS DOUBLE), 1, 2, ${text}, ${i === 0 ? "''" : "NULL"}, ${text}, ${
            j % 3 ? "NULL" : ts
          }, ${text}, '1.0.0')`,
        );
      }
      await conn.run(
        `INSERT INTO "trades" VALUES ('m_t${i}', 'polymarket', ${text} || 'k', ${
          T + i
        }, 0.5, CAST(${DOUBLES[i]} AS DOUBLE), 'buy', ${i % 2 ? text : "NULL"}, NULL)`,
      );
      await conn.run(`INSERT INTO "features" VALUES ('m_t${i}', ${T + i}, ${text}, '1.0.0')`);
      await conn.run(`INSERT INTO "contexts" VALUES ('c${i}', ${T + i}, 'm_t${i}', ${text})`);
    }
    // One market whose bid is -0.0 (the signed-zero change above).
    await conn.run(
      `INSERT INTO "snapshots" VALUES ('m_d1', 'kalshi', ${
        T + 1
      }, 0.5, CAST('-0.0' AS DOUBLE), NULL, NULL, 1, 2, 'q', NULL, NULL, NULL, '{}', '1.0.0')`,
    );
    const signals: [string, string, string][] = [
      ["s0", "[]", "[]"],
      ["s1", "['']", "['size_vs_depth_outlier']"],
      ["s2", "['a,b']", "[]"],
      [
        "s3",
        "['x', 'y']",
        "['cancel_replace_burst', 'size_vs_depth_outlier', 'thin_book_during_move']",
      ],
    ];
    for (const [k, [id, related, flags]] of signals.entries()) {
      const at = T + k;
      await conn.run(
        `INSERT INTO "signals" VALUES ('${id}', 'm_sig', 'kalshi', 'volume_spike', -0.0, -1, 0.5, ${
          k % 2 === 0
        }, ${at}, 60, 'mid', CAST(${related} AS VARCHAR[]), '{"z":1e-9}', '1.0.0')`,
      );
      await conn.run(
        `INSERT INTO "manipulation_flags" SELECT '${id}', unnest(CAST(${flags} AS VARCHAR[])), ${at}`,
      );
    }
    await conn.run("CHECKPOINT");
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}
