/**
 * e2e dual-write: the engine side (DuckDB primary + the store sink's tee, driven here by
 * calling the tee after each commit) publishes to a real NATS JetStream; a real
 * `augur dual-write` sidecar mirrors into real PostgreSQL. The sidecar is SIGKILLed
 * mid-stream and restarted; at the end `verify` finds full parity, and /metrics shows the
 * lag gauge and the lag alert counter (the writes made while it was down were late).
 */
import { DuckDbStore } from "../../adapters/storage/duckdb_store.ts";
import { TimescaleStore } from "../../adapters/storage/timescale_store.ts";
import { createEventBus } from "../../adapters/bus/factory.ts";
import { MetricsRegistry } from "../../adapters/observability/metrics.ts";
import { createLogger } from "../../adapters/observability/logger.ts";
import { StorageFileSchema } from "../../config/schemas/storage.ts";
import type { Store } from "../../adapters/storage/types.ts";
import { Subjects } from "../../runtime/subjects.ts";
import type { SinkBatch } from "../../runtime/stages/store_sink.ts";
import { dualWriteTee } from "../../runtime/dual_write.ts";
import { verifyStores } from "../../runtime/verify.ts";
import { assert, assertEquals } from "../helpers/assert.ts";
import { type AugurProcess, spawnAugur, writeConfigDir } from "../helpers/augur_process.ts";
import { freePort, needs, pgDatabase, startNats, waitFor } from "../helpers/servers.ts";
import { generateStore } from "../helpers/migrate_data.ts";

const ENV_NAME = "AUGUR_TEST_DUAL_WRITE_URL";
const BATCH = 300;
const BATCHES = 12;
const TOTAL = BATCH * BATCHES;

/** A Store stand-in that captures one commit's rows (generateStore writes through it). */
function captureBatch(): { store: Store; batch: SinkBatch } {
  const batch: SinkBatch = {
    snapshots: [],
    trades: [],
    features: [],
    signals: [],
    contexts: [],
    ticks: [],
  };
  const store = {
    upsertSnapshots: (rows) => (batch.snapshots.push(...rows), Promise.resolve()),
    upsertTrades: (rows) => (batch.trades.push(...rows), Promise.resolve()),
    upsertFeatures: (rows) => (batch.features.push(...rows), Promise.resolve()),
    upsertSignals: (rows) => (batch.signals.push(...rows), Promise.resolve()),
    upsertContexts: (rows) => (batch.contexts.push(...rows), Promise.resolve()),
    recordTicks: (rows) => (batch.ticks.push(...rows), Promise.resolve()),
  } as Partial<Store> as Store;
  return { store, batch };
}

async function metric(port: number, pattern: RegExp): Promise<number | null> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const match = pattern.exec(text);
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

Deno.test({
  name:
    "dual-write: tee → NATS → augur dual-write → PostgreSQL, sidecar restarted, parity + lag metrics",
  ...needs("nats", "postgres"),
  fn: async () => {
    const nats = await startNats();
    const db = await pgDatabase();
    const dir = await Deno.makeTempDir({ prefix: "augur-e2e-dual-" });
    const registry = new MetricsRegistry();
    const env = { [ENV_NAME]: db.url };
    const config = await writeConfigDir({
      "bus.toml":
        `[backend]\nkind = "nats"\ndrain_timeout_seconds = 10\n[nats]\nservers = ["${nats.url}"]\nack_wait_seconds = 5\n`,
      "storage.toml":
        `[backend]\nkind = "duckdb"\nduckdb_path = "${dir}/augur.duckdb"\ntimescale_url_env = "${ENV_NAME}"\n[dual_write]\nenabled = true\nlag_alert_seconds = 1\n`,
    });
    const primary = new DuckDbStore({ path: `${dir}/augur.duckdb`, registry });
    const bus = await createEventBus({ backend: { kind: "nats" }, nats: { servers: [nats.url] } }, {
      env: {},
      registry,
      logger: createLogger({ sink: () => {} }),
    });
    const port = freePort();
    let sidecar: AugurProcess | undefined;
    const startSidecar = () =>
      spawnAugur(["dual-write", "--config", config, "--metrics-port", String(port)], { env });
    const mirror = new TimescaleStore({
      url: db.url,
      config: StorageFileSchema.parse({}),
      poolSize: 2,
      registry,
    });
    try {
      await primary.initialize();
      await bus.connect();
      const tee = dualWriteTee(bus, new Subjects(), { registry });
      // The engine commits to DuckDB, then the sink's onCommit hook tees the batch.
      const commit = async (k: number) => {
        const { store, batch } = captureBatch();
        await generateStore(store, {
          snapshots: BATCH,
          first: k * BATCH,
          setSize: TOTAL,
          days: 3,
          markets: 20,
        });
        await primary.upsertSnapshots(batch.snapshots);
        await primary.upsertTrades(batch.trades);
        await primary.upsertFeatures(batch.features);
        await primary.upsertSignals(batch.signals);
        await primary.upsertContexts(batch.contexts);
        await primary.recordTicks(batch.ticks);
        await tee(batch);
      };
      sidecar = startSidecar();
      await sidecar.waitForLog("worker started");
      for (let k = 0; k < 4; k++) await commit(k);
      await mirror.initialize();
      await waitFor(async () => {
        const got = await mirror.snapshotsInRange("gen_market_000", { start: 0, end: 8e15 });
        return got.length > 0;
      }, { timeoutMs: 30_000, message: "the sidecar mirrored nothing" });

      // Kill it mid-stream; keep committing while it is down, for longer than the threshold.
      sidecar.kill("SIGKILL");
      await sidecar.exit();
      const downAt = Date.now();
      for (let k = 4; k < 8; k++) await commit(k);
      await waitFor(() => Date.now() - downAt > 1_500, { timeoutMs: 5_000 });
      sidecar = startSidecar();
      for (let k = 8; k < BATCHES; k++) await commit(k);

      const range = { start: 0, end: 8e15 };
      await waitFor(async () => (await verifyStores(primary, mirror, range)).parity, {
        timeoutMs: 60_000,
        intervalMs: 500,
        message: "no parity between DuckDB and the mirror",
      });
      const report = await verifyStores(primary, mirror, range);
      assertEquals(report.tables.find((t) => t.table === "snapshots")?.target_rows, TOTAL);

      const alerts = await metric(
        port,
        /augur_dual_write_lag_alerts_total\{table="snapshots"\} (\d+(?:\.\d+)?)/,
      );
      assert(alerts !== null && alerts >= 1, `lag alerts: ${alerts}`);
      const lag = await metric(
        port,
        /augur_dual_write_lag_seconds\{table="snapshots"\} ([\d.e+-]+)/,
      );
      assert(lag !== null && lag >= 0, `lag gauge: ${lag}`);
      const rows = await metric(port, /augur_dual_write_rows_total\{table="snapshots"\} (\d+)/);
      assert(rows !== null && rows > 0);

      sidecar.kill("SIGTERM");
      assertEquals(await sidecar.exit(), 0);
    } finally {
      sidecar?.kill("SIGKILL");
      await sidecar?.exit();
      await mirror.close();
      await bus.close();
      await primary.close();
      await nats.stop();
      await db.drop();
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(config, { recursive: true });
    }
  },
});
