/**
 * Issue 5 must-show: 4 feature replicas (`augur run feature --replica i/4`) + the store sink
 * as real processes on a real bus and PostgreSQL; a source publishes 20,000 snapshots for 200
 * markets; one replica is SIGKILLed mid-stream and replaced. Every snapshot past warm-up must
 * yield exactly its feature vector in the store, equal to an uninterrupted in-process run.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { waitFor } from "../helpers/wait.ts";
import { needs } from "../helpers/servers.ts";
import {
  type BusKind,
  expectedFeatures,
  simulatedSnapshots,
  withStack,
} from "../helpers/e2e_stack.ts";
import { HEADER, type OutgoingMessage } from "../../adapters/bus/types.ts";
import { encode, encodeText, KINDS } from "../../pipeline/canonical_json.ts";
import type { SnapshotMessage } from "../../pipeline/models.ts";
import { Subjects } from "../../runtime/subjects.ts";
import { tickMarker } from "../../runtime/stages/tick_marker.ts";

const PARTITIONS = 8;
const MARKETS = 200;
const TICKS = 100; // per platform: 100 ticks × 100 markets × 2 platforms = 20,000 snapshots

function scenario(kind: BusKind): Promise<void> {
  return withStack({
    bus: kind,
    partitions: PARTITIONS,
    storage: { batchSize: 500, maxDelayMs: 50 },
    checkpointIntervalSeconds: 1,
    env: { AUGUR_LOG_LEVEL: "warn" },
  }, async ({ bus, store, spawn: start }) => {
    const messages = await simulatedSnapshots({ seed: 7, markets: MARKETS, ticks: TICKS });
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
  });
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
