/**
 * Issue 5 must-show: SIGTERM on workers with in-flight messages (DESIGN §5.6). Two feature
 * replicas (`--replica i/2`) and the store sink run as real processes on a real bus and
 * PostgreSQL while snapshots keep flowing (the feed keeps about two batches in flight). One
 * feature replica, then the store, get SIGTERM mid-stream: each exits 0, a replacement takes
 * over, and at the end
 * - nothing is lost: the store holds exactly the feature vectors an in-process run computes;
 * - nothing is processed twice: every feature message appears once on the bus (the drained
 *   replica checkpointed exactly what it had published, so its replacement resumed right
 *   after it), and every row once in the store.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { waitFor } from "../helpers/wait.ts";
import {
  type ManagedServer,
  needs,
  pgDatabase,
  startNats,
  startRedis,
} from "../helpers/servers.ts";
import { type AugurProcess, spawnAugur, writeConfigDir } from "../helpers/augur_process.ts";
import { logRecords, PipelineFeed } from "../helpers/pipeline_feed.ts";
import { SimulatorSource } from "../../adapters/markets/simulator.ts";
import { createEventBus } from "../../adapters/bus/factory.ts";
import { HEADER } from "../../adapters/bus/types.ts";
import { createStore } from "../../adapters/storage/factory.ts";
import { loadConfig } from "../../config/loader.ts";
import { MetricsRegistry } from "../../adapters/observability/metrics.ts";
import { createLogger } from "../../adapters/observability/logger.ts";
import { encodeText, KINDS } from "../../pipeline/canonical_json.ts";
import { FeaturePipeline } from "../../pipeline/features.ts";
import type { SnapshotMessage } from "../../pipeline/models.ts";
import { Subjects } from "../../runtime/subjects.ts";
import { isTickMarker } from "../../runtime/stages/tick_marker.ts";

const PARTITIONS = 8;
const BATCH = 100;

function busToml(kind: "nats" | "redis", natsUrl: string): string {
  // A short JetStream duplicate window: a message published twice would show on the stream.
  return `[backend]
kind = "${kind}"
partitions = ${PARTITIONS}
drain_timeout_seconds = 20
[nats]
servers = ["${natsUrl}"]
ack_wait_seconds = 5
duplicate_window_seconds = 1
[redis]
url_env = "REDIS_URL"
claim_idle_ms = 3000
block_ms = 200
[lock]
ttl_seconds = 3
renew_interval_seconds = 1
wait_tick_seconds = 1
margin_seconds = 1
`;
}

async function snapshots(): Promise<SnapshotMessage[]> {
  const source = new SimulatorSource({ seed: 9, markets: 12, ticks: 120, tickSeconds: 30 });
  const out: SnapshotMessage[] = [];
  for await (const tick of source) out.push(...tick.messages);
  await source.close();
  return out;
}

/** The SIGTERMed process drained: exit 0 after logging the drain. */
async function assertDrained(p: AugurProcess, what: string): Promise<void> {
  const code = await p.exit();
  assertEquals(code, 0, `${what} exit code; stderr:\n${p.stderr().slice(-2000)}`);
  const records = logRecords(p.stderr());
  assert(
    records.some((r) => r.msg === "draining" && r.reason === "SIGTERM"),
    `${what} logged its drain`,
  );
  assert(records.some((r) => r.msg === "worker stopped" && r.exit_code === 0), `${what} stopped`);
}

async function scenario(kind: "nats" | "redis"): Promise<void> {
  const server: ManagedServer = kind === "nats" ? await startNats() : await startRedis();
  const db = await pgDatabase();
  const env: Record<string, string> = { AUGUR_TIMESCALE_URL: db.url, REDIS_URL: server.url };
  const configDir = await writeConfigDir({
    "bus.toml": busToml(kind, server.url),
    "storage.toml":
      `[backend]\nkind = "timescaledb"\n[connection]\npool_size = 3\nmax_overflow = 0\n[sink]\nbatch_size = 200\nmax_delay_ms = 50\n`,
    "engine.toml": `[runtime]\ncheckpoint_interval_seconds = 60\n`,
  });
  const processes: AugurProcess[] = [];
  const start = (args: string[]) => {
    const p = spawnAugur([...args, "--config", configDir, "--metrics-port", "0"], { env });
    processes.push(p);
    return p;
  };
  const quiet = createLogger({ sink: () => {} });
  const registry = new MetricsRegistry();
  const bus = await createEventBus({
    backend: { kind, partitions: PARTITIONS },
    nats: { servers: [server.url] },
    redis: { url_env: "REDIS_URL" },
  }, { env, registry, logger: quiet });
  const config = await loadConfig({ dir: configDir, env });
  const store = await createStore(config.storage, { env, registry, logger: quiet });
  const ALL = { start: 0, end: Number.MAX_SAFE_INTEGER };
  try {
    await bus.connect();
    await store.initialize();
    const subjects = new Subjects({ partitions: PARTITIONS });
    const feed = new PipelineFeed(bus, subjects);
    const messages = await snapshots();
    // Expected vectors, and how many exist once the first k batches are processed.
    const pipeline = new FeaturePipeline();
    const expected = new Set<string>();
    const upToBatch: number[] = [0];
    messages.forEach((m, i) => {
      const fv = pipeline.update(m.snapshot, { bid_depth: m.bid_depth, ask_depth: m.ask_depth });
      if (fv) expected.add(encodeText(fv, KINDS.features));
      if ((i + 1) % BATCH === 0 || i === messages.length - 1) upToBatch.push(expected.size);
    });
    const batches = upToBatch.length - 1;
    const storedCount = async () => (await store.featuresInRange(ALL)).length;

    let storeProc = start(["run", "store", "--replica-id", "store-0"]);
    const replicas = [0, 1].map((i) =>
      start(["run", "feature", "--replica", `${i}/2`, "--replica-id", `feature-${i}`])
    );
    // Keep about three batches in flight: batch k is published once batch k-3 is stored.
    let published = 0;
    const feeding = (async () => {
      for (let k = 0; k < batches; k++) {
        if (k >= 3) {
          const want = upToBatch[k - 2];
          await waitFor(async () => await storedCount() >= want, {
            timeoutMs: 40_000,
            intervalMs: 50,
            message: `features of batch ${k - 3} never stored (${want})`,
          });
        }
        await feed.publishSnapshots(messages.slice(k * BATCH, (k + 1) * BATCH));
        published = k + 1;
      }
    })();
    feeding.catch(() => {}); // awaited below; never an unhandled rejection meanwhile

    // SIGTERM a feature replica while it has work in flight, then replace it.
    // (The first ~12 batches are feature warm-up: they flow unpaced.)
    const firstWithFeatures = upToBatch.findIndex((n) => n > 0);
    await replicas[1].waitForLog("partition lease acquired");
    await waitFor(async () => published >= firstWithFeatures + 2 && await storedCount() > 0, {
      timeoutMs: 40_000,
    });
    replicas[1].kill("SIGTERM");
    await assertDrained(replicas[1], "feature-1");
    const replacement = start(["run", "feature", "--replica", "1/2", "--replica-id", "feature-1b"]);

    // SIGTERM the store sink mid-stream, then replace it.
    await waitFor(() => published >= firstWithFeatures + 5, { timeoutMs: 40_000 });
    storeProc.kill("SIGTERM");
    await assertDrained(storeProc, "store-0");
    storeProc = start(["run", "store", "--replica-id", "store-1"]);

    await feeding;
    const last = messages[messages.length - 1];
    for (const platform of ["kalshi", "polymarket"]) await feed.snapshotMarkers(last.now, platform);
    await waitFor(async () => await storedCount() >= expected.size, {
      timeoutMs: 40_000,
      intervalMs: 200,
      message: `features never reached ${expected.size}`,
    });
    // Entries the drained store had fetched but not taken are redelivered (JetStream naks them
    // on stop; Redis leaves them pending until a live peer claims them after claim_idle_ms).
    const marketIds = [...new Set(messages.map((m) => m.snapshot.market_id))];
    const snapshotRows = async () =>
      (await Promise.all(marketIds.map((id) => store.snapshotsInRange(id, ALL)))).flat();
    await waitFor(async () => (await snapshotRows()).length >= messages.length, {
      timeoutMs: 40_000,
      intervalMs: 200,
      message: `snapshots never reached ${messages.length}`,
    });
    const live = [replicas[0], replacement, storeProc];
    for (const p of live) p.kill("SIGTERM");
    for (const p of live) await assertDrained(p, "a live worker");
    assert(replacement.stderr().includes("partition lease acquired"), "the replacement took over");

    // Nothing lost, nothing stored twice.
    const stored = await store.featuresInRange(ALL);
    const got = stored.map((f) => encodeText(f, KINDS.features));
    assertEquals(new Set(got).size, got.length, "no duplicate rows");
    assertEquals(stored.length, expected.size, "row count equals the expected vectors");
    assertEquals(got.filter((x) => !expected.has(x)).length, 0, "no unexpected vector");
    assertEquals((await snapshotRows()).length, messages.length, "every snapshot stored once");

    // Nothing processed twice: every feature message is on the bus exactly once.
    const seen = new Map<string, number>();
    let markers = 0;
    for (let p = 0; p < PARTITIONS; p++) {
      const sentinel = subjects.features(p, "zz-test-sentinel");
      await bus.publish({ subject: sentinel, payload: new Uint8Array() });
      const reader = bus.read(subjects.partitionPattern("features", p), {
        from: { kind: "first" },
      });
      const timer = setTimeout(() => void reader.stop(), 20_000);
      for await (const d of reader) {
        if (d.subject === sentinel) break;
        if (isTickMarker(d.headers)) {
          markers++;
          continue;
        }
        const id = d.headers[HEADER.id];
        seen.set(id, (seen.get(id) ?? 0) + 1);
      }
      clearTimeout(timer);
      await reader.stop();
    }
    const twice = [...seen].filter(([, n]) => n > 1);
    assertEquals(twice.length, 0, `feature messages published twice: ${twice.slice(0, 3)}`);
    assertEquals(seen.size, expected.size, "one feature message per expected vector");
    assertEquals(markers, 2 * PARTITIONS, "each partition forwarded each platform's marker once");
    console.log(
      `${kind}: ${messages.length} snapshots, feature replica and store SIGTERMed mid-stream (exit 0) → ${stored.length} vectors, each published and stored once`,
    );
  } catch (error) {
    for (const p of processes) console.error(`--- stderr (tail) ---\n${p.stderr().slice(-1500)}`);
    throw error;
  } finally {
    for (const p of processes) p.kill("SIGKILL");
    await Promise.all(processes.map((p) => p.exit()));
    await bus.close().catch(() => {});
    await store.close().catch(() => {});
    await server.stop();
    await db.drop();
    await Deno.remove(configDir, { recursive: true });
  }
}

const options = { sanitizeResources: false, sanitizeOps: false };

Deno.test({
  name: "e2e: SIGTERM a feature replica and the store mid-stream over NATS — exit 0, once each",
  ...needs("nats", "postgres"),
  ...options,
  fn: () => scenario("nats"),
});

Deno.test({
  name: "e2e: SIGTERM a feature replica and the store mid-stream over Redis — exit 0, once each",
  ...needs("redis", "postgres"),
  ...options,
  fn: () => scenario("redis"),
});
