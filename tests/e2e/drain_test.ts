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
import { needs } from "../helpers/servers.ts";
import type { AugurProcess } from "../helpers/augur_process.ts";
import { type BusKind, simulatedSnapshots, withStack } from "../helpers/e2e_stack.ts";
import { logRecords, PipelineFeed } from "../helpers/pipeline_feed.ts";
import { readToSentinel } from "../helpers/bus_sentinel.ts";
import { HEADER } from "../../adapters/bus/types.ts";
import { encodeText, KINDS } from "../../pipeline/canonical_json.ts";
import { FeaturePipeline } from "../../pipeline/features.ts";
import { Subjects } from "../../runtime/subjects.ts";
import { isTickMarker } from "../../runtime/stages/tick_marker.ts";

const PARTITIONS = 8;
const BATCH = 100;

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

function scenario(kind: BusKind): Promise<void> {
  return withStack({
    bus: kind,
    partitions: PARTITIONS,
    // A short JetStream duplicate window: a message published twice would show on the stream.
    duplicateWindowSeconds: 1,
    storage: { batchSize: 200, maxDelayMs: 50, poolSize: 3 },
    checkpointIntervalSeconds: 60,
  }, async ({ bus, store, spawn: start }) => {
    const ALL = { start: 0, end: Number.MAX_SAFE_INTEGER };
    await store.initialize();
    const subjects = new Subjects({ partitions: PARTITIONS });
    const feed = new PipelineFeed(bus, subjects);
    const messages = await simulatedSnapshots({ seed: 9, markets: 12, ticks: 120 });
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
      const { deliveries } = await readToSentinel(bus, subjects.features(p, "zz-test-sentinel"), {
        pattern: subjects.partitionPattern("features", p),
      });
      for (const d of deliveries) {
        if (isTickMarker(d.headers)) {
          markers++;
          continue;
        }
        const id = d.headers[HEADER.id];
        seen.set(id, (seen.get(id) ?? 0) + 1);
      }
    }
    const twice = [...seen].filter(([, n]) => n > 1);
    assertEquals(twice.length, 0, `feature messages published twice: ${twice.slice(0, 3)}`);
    assertEquals(seen.size, expected.size, "one feature message per expected vector");
    assertEquals(markers, 2 * PARTITIONS, "each partition forwarded each platform's marker once");
    console.log(
      `${kind}: ${messages.length} snapshots, feature replica and store SIGTERMed mid-stream (exit 0) → ${stored.length} vectors, each published and stored once`,
    );
  });
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
