/**
 * Issue 5 must-show: 4 feature replicas (`augur run feature --replica i/4`) + the store sink
 * as real processes on a real bus and PostgreSQL; a source publishes 20,000 snapshots for 200
 * markets; one replica is SIGKILLed mid-stream and replaced. Every snapshot past warm-up must
 * yield exactly its feature vector in the store, equal to an uninterrupted in-process run.
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
import { SimulatorSource } from "../../adapters/markets/simulator.ts";
import { createEventBus } from "../../adapters/bus/factory.ts";
import { HEADER, type OutgoingMessage } from "../../adapters/bus/types.ts";
import { createStore } from "../../adapters/storage/factory.ts";
import { loadConfig } from "../../config/loader.ts";
import { MetricsRegistry } from "../../adapters/observability/metrics.ts";
import { createLogger } from "../../adapters/observability/logger.ts";
import { encode, encodeText, KINDS } from "../../pipeline/canonical_json.ts";
import { FeaturePipeline } from "../../pipeline/features.ts";
import type { SnapshotMessage } from "../../pipeline/models.ts";
import { Subjects } from "../../runtime/subjects.ts";
import { tickMarker } from "../../runtime/stages/tick_marker.ts";

const PARTITIONS = 8;
const MARKETS = 200;
const TICKS = 100; // per platform: 100 ticks × 100 markets × 2 platforms = 20,000 snapshots

function busToml(kind: "nats" | "redis", natsUrl = "nats://127.0.0.1:4222"): string {
  return `[backend]
kind = "${kind}"
partitions = ${PARTITIONS}
drain_timeout_seconds = 20
[nats]
servers = ["${natsUrl}"]
ack_wait_seconds = 5
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
  const source = new SimulatorSource({ seed: 7, markets: MARKETS, ticks: TICKS, tickSeconds: 30 });
  const out: SnapshotMessage[] = [];
  for await (const tick of source) out.push(...tick.messages);
  await source.close();
  return out;
}

function expectedFeatures(messages: SnapshotMessage[]): Set<string> {
  const pipeline = new FeaturePipeline();
  const out = new Set<string>();
  for (const m of messages) {
    const fv = pipeline.update(m.snapshot, { bid_depth: m.bid_depth, ask_depth: m.ask_depth });
    if (fv) out.add(encodeText(fv, KINDS.features));
  }
  return out;
}

async function scenario(kind: "nats" | "redis") {
  const server: ManagedServer = kind === "nats" ? await startNats() : await startRedis();
  const db = await pgDatabase();
  const env: Record<string, string> = {
    AUGUR_TIMESCALE_URL: db.url,
    REDIS_URL: server.url,
    AUGUR_LOG_LEVEL: "warn",
  };
  const configDir = await writeConfigDir({
    "bus.toml": busToml(kind, server.url),
    "storage.toml":
      `[backend]\nkind = "timescaledb"\n[sink]\nbatch_size = 500\nmax_delay_ms = 50\n`,
    "engine.toml": `[runtime]\ncheckpoint_interval_seconds = 1\n`,
  });
  const common = ["--config", configDir, "--metrics-port", "0"];
  const processes: AugurProcess[] = [];
  const start = (args: string[]) => {
    const p = spawnAugur([...args, ...common], { env });
    processes.push(p);
    return p;
  };
  const registry = new MetricsRegistry();
  const bus = await createEventBus({
    backend: { kind, partitions: PARTITIONS },
    nats: { servers: [server.url] },
    redis: { url_env: "REDIS_URL" },
  }, { env, registry, logger: createLogger({ sink: () => {} }) });
  const config = await loadConfig({ dir: configDir, env });
  const store = await createStore(config.storage, { env, registry });
  try {
    await bus.connect();
    const messages = await snapshots();
    assertEquals(messages.length, 20_000);
    const expected = expectedFeatures(messages);
    const subjects = new Subjects({ partitions: PARTITIONS });
    const store_ = start(["run", "store", "--replica-id", "store-0"]);
    const replicas = [0, 1, 2, 3].map((i) =>
      start(["run", "feature", "--replica", `${i}/4`, "--replica-id", `feature-${i}`])
    );
    const toMessage = (m: SnapshotMessage): OutgoingMessage => {
      const market = m.snapshot.market_id;
      return {
        subject: subjects.snapshots(subjects.partitionOf(market), m.snapshot.platform, market),
        payload: encode(m, KINDS.snapshotMessage),
        headers: {
          [HEADER.id]: `snapshot:${market}:${m.snapshot.timestamp}`,
          [HEADER.key]: market,
        },
      };
    };
    const half = messages.length / 2;
    for (let i = 0; i < half; i += 500) {
      await bus.publishBatch(messages.slice(i, Math.min(i + 500, half)).map(toMessage));
    }
    // Let replica 1 make progress (and checkpoint), then SIGKILL it and start its replacement.
    await replicas[1].waitForLog("partition lease acquired", 30_000).catch(() => {});
    replicas[1].kill("SIGKILL");
    assertEquals(
      await replicas[1].exit(),
      137,
      `replica 1 should have been running; stderr:\n${replicas[1].stderr().slice(-3000)}`,
    );
    const replacement = start(["run", "feature", "--replica", "1/4", "--replica-id", "feature-1b"]);
    for (let i = half; i < messages.length; i += 500) {
      await bus.publishBatch(messages.slice(i, i + 500).map(toMessage));
    }
    for (let p = 0; p < PARTITIONS; p++) {
      const last = messages[messages.length - 1].now;
      await bus.publish(
        tickMarker(subjects.marker("snapshots", p), { platform: "kalshi", t: last }),
      );
    }
    await waitFor(async () => {
      const rows = await store.featuresInRange({ start: 0, end: Number.MAX_SAFE_INTEGER });
      return rows.length >= expected.size;
    }, { timeoutMs: 240_000, intervalMs: 500, message: `features never reached ${expected.size}` });
    const stored = await store.featuresInRange({ start: 0, end: Number.MAX_SAFE_INTEGER });
    const got = new Set(stored.map((f) => encodeText(f, KINDS.features)));
    assertEquals(stored.length, expected.size, "no duplicate rows");
    const missing = [...expected].filter((x) => !got.has(x));
    const extra = [...got].filter((x) => !expected.has(x));
    assertEquals([missing.length, extra.length], [0, 0], `missing ${missing[0]} extra ${extra[0]}`);
    for (const p of [store_, ...replicas.filter((_, i) => i !== 1), replacement]) p.kill("SIGTERM");
    for (const p of [store_, ...replicas.filter((_, i) => i !== 1), replacement]) {
      const code = await p.exit();
      assertEquals(code, 0, `exit code of a drained worker; stderr:\n${p.stderr().slice(-2000)}`);
    }
    assert(replacement.stderr().includes("partition lease acquired"));
    console.log(
      `${kind}: ${messages.length} snapshots → ${stored.length} feature vectors, identical to an uninterrupted run`,
    );
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

Deno.test({
  name: "e2e: 4 feature replicas over NATS, one SIGKILLed and replaced — every vector stored once",
  ...needs("nats", "postgres"),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () => scenario("nats"),
});

Deno.test({
  name: "e2e: 4 feature replicas over Redis, one SIGKILLed and replaced — every vector stored once",
  ...needs("redis", "postgres"),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () => scenario("redis"),
});
