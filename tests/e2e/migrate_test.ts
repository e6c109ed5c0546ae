/**
 * e2e: real `augur migrate` / `augur verify` processes against real PostgreSQL and a DuckDB
 * file. A migrate run is SIGKILLed mid-way; the rerun finishes with parity and no duplicate
 * rows; a tampered and a deleted target row make `augur verify` exit 1 naming the group.
 */
import postgres from "postgres";
import { DuckDbStore } from "../../adapters/storage/duckdb_store.ts";
import { MetricsRegistry } from "../../adapters/observability/metrics.ts";
import { assert, assertEquals, assertStringIncludes } from "../helpers/assert.ts";
import { runAugur, spawnAugur, writeConfigDir } from "../helpers/augur_process.ts";
import { needs, pgDatabase, waitFor } from "../helpers/servers.ts";
import { GEN_DAY, GEN_T0, generateStore } from "../helpers/migrate_data.ts";

const ENV_NAME = "AUGUR_TEST_MIGRATE_URL";

Deno.test({
  name: "augur migrate survives SIGKILL (rerun: parity, no duplicates); verify names tampering",
  ...needs("postgres"),
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "augur-e2e-migrate-" });
    const path = `${dir}/augur.duckdb`;
    const db = await pgDatabase();
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    const env = { [ENV_NAME]: db.url };
    try {
      const primary = new DuckDbStore({ path, registry: new MetricsRegistry() });
      await primary.initialize();
      const counts = await generateStore(primary, { snapshots: 12_000, days: 30, markets: 40 });
      await primary.close();
      const config = await writeConfigDir({
        "storage.toml":
          `[backend]\nkind = "duckdb"\nduckdb_path = "${path}"\ntimescale_url_env = "${ENV_NAME}"\n`,
      });
      const progress = async () => {
        const exists = await sql.unsafe(`SELECT to_regclass('public.migrate_progress') AS t`);
        if (exists[0].t === null) return 0;
        return Number((await sql.unsafe(`SELECT count(*) AS n FROM "migrate_progress"`))[0].n);
      };

      await t.step("dry run prints the plan and writes nothing", async () => {
        const out = await runAugur(["migrate", "--config", config, "--dry-run"], { env });
        assertEquals(out.code, 0, out.stderr);
        assertStringIncludes(out.stderr, "snapshots: 30 day partitions");
        assertEquals(await progress(), 0);
      });

      let total = 0;
      await t.step("SIGKILL mid-run, then rerun with --verify: parity", async () => {
        const victim = spawnAugur(["migrate", "--config", config, "--batch-size", "100"], {
          env,
        });
        await waitFor(async () => (await progress()) >= 15, {
          timeoutMs: 60_000,
          message: "migrate recorded no progress",
        });
        victim.kill("SIGKILL");
        assert((await victim.exit()) !== 0);
        const before = await progress();
        const rerun = await runAugur(["migrate", "--config", config, "--verify"], { env });
        assertEquals(rerun.code, 0, rerun.stderr.slice(-2000));
        assertStringIncludes(rerun.stdout, `partitions were already done`);
        assertStringIncludes(rerun.stdout, "FULL PARITY");
        total = await progress();
        assert(before < total, `killed run had finished everything (${before}/${total})`);
        const snaps = await sql.unsafe(
          `SELECT count(*) AS n, count(DISTINCT ("market_id", "platform", "timestamp")) AS d FROM "snapshots"`,
        );
        assertEquals(Number(snaps[0].n), counts.snapshots);
        assertEquals(Number(snaps[0].d), counts.snapshots);
        const trades = await sql.unsafe(`SELECT count(*) AS n FROM "trades"`);
        assertEquals(Number(trades[0].n), counts.trades);
      });

      await t.step("a second run adds nothing", async () => {
        const again = await runAugur(["migrate", "--config", config], { env });
        assertEquals(again.code, 0, again.stderr.slice(-2000));
        assertStringIncludes(again.stdout, "migrated 0 rows");
        assertEquals(await progress(), total);
      });

      const start = new Date(GEN_T0 / 1000).toISOString();
      const end = new Date((GEN_T0 + 30 * GEN_DAY) / 1000).toISOString();
      const row = await sql.unsafe(
        `SELECT "market_id", "computed_at" FROM "features" WHERE "computed_at" >= $1 ORDER BY "computed_at" LIMIT 1`,
        [GEN_T0 + 7 * GEN_DAY],
      );
      const market = String(row[0].market_id);
      const day = new Date(Number(row[0].computed_at) / 1000).toISOString().slice(0, 10);

      await t.step("tampered row: verify exits 1 naming (features, market, day)", async () => {
        await sql.unsafe(
          `UPDATE "features" SET "payload" = replace("payload", '"price_momentum_15m":-0.02', '"price_momentum_15m":-0.03') WHERE "market_id" = $1 AND "computed_at" = $2`,
          [market, row[0].computed_at],
        );
        const out = await runAugur(
          ["verify", "--config", config, "--start", start, "--end", end],
          { env },
        );
        assertEquals(out.code, 1, out.stderr.slice(-2000));
        assertStringIncludes(out.stdout, `features ${market} ${day}: digest`);
      });

      await t.step("deleted row: verify --json exits 1 naming it", async () => {
        await sql.unsafe(`DELETE FROM "features" WHERE "market_id" = $1 AND "computed_at" = $2`, [
          market,
          row[0].computed_at,
        ]);
        const out = await runAugur(
          ["verify", "--config", config, "--start", start, "--end", end, "--json"],
          { env },
        );
        assertEquals(out.code, 1, out.stderr.slice(-2000));
        const report = JSON.parse(out.stdout);
        assertEquals(report.parity, false);
        assertEquals(report.mismatches, 1);
        assertEquals(report.first[0], {
          table: "features",
          market_id: market,
          day,
          kind: "count",
          source_count: report.first[0].source_count,
          target_count: report.first[0].source_count - 1,
          source_digest: report.first[0].source_digest,
          target_digest: report.first[0].target_digest,
        });
      });
      await Deno.remove(config, { recursive: true });
    } finally {
      await sql.end();
      await db.drop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
