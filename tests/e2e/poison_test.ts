/**
 * Issue 5 must-show: a poison message in the middle of a partition never blocks it (DESIGN
 * §5.5). Real `augur run feature --replica 0/1` and `augur run store` processes on a real bus
 * and PostgreSQL; undecodable / invalid payloads are published on
 * `augur.snapshots.<pp>.<platform>.<m>` between valid snapshots of one market. Each lands in
 * `augur.ops.dlq` with `Augur-Reason`, `Augur-Source-Subject` and `Augur-Worker` headers (from
 * both the feature worker and the store, which both read snapshots), and every valid snapshot
 * still yields its feature vector in the store — including those after the poison.
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
import { metricsPortOf, PipelineFeed, scrapeMetric } from "../helpers/pipeline_feed.ts";
import { readToSentinel } from "../helpers/bus_sentinel.ts";
import { HEADER } from "../../adapters/bus/types.ts";
import { encodeText, KINDS } from "../../pipeline/canonical_json.ts";
import { Subjects } from "../../runtime/subjects.ts";

const PARTITIONS = 4;

function scenario(kind: BusKind): Promise<void> {
  return withStack({
    bus: kind,
    partitions: PARTITIONS,
    storage: { batchSize: 200, maxDelayMs: 50, poolSize: 3 },
    checkpointIntervalSeconds: 1,
  }, async ({ bus, store, spawn: start }) => {
    const subjects = new Subjects({ partitions: PARTITIONS });
    const feed = new PipelineFeed(bus, subjects);
    const messages = await simulatedSnapshots({ seed: 3, markets: 8, ticks: 70 });
    const expected = expectedFeatures(messages);
    assert(expected.size > 100, `enough features expected (${expected.size})`);

    const storeProc = start(["run", "store", "--replica-id", "store-0"]);
    const feature = start(["run", "feature", "--replica", "0/1", "--replica-id", "feature-0"]);
    const featurePort = await metricsPortOf(feature);

    // The poisoned market, in the middle of its partition's stream.
    const victim = messages[messages.length - 1].snapshot;
    const partition = subjects.partitionOf(victim.market_id);
    const subject = subjects.snapshots(partition, victim.platform, victim.market_id);
    const half = Math.floor(messages.length / 2);
    await feed.publishSnapshots(messages.slice(0, half));
    const poison = [
      { id: "poison:not-json", payload: new TextEncoder().encode("{not json") },
      {
        id: "poison:invalid",
        payload: new TextEncoder().encode(JSON.stringify({ snapshot: { market_id: 7 } })),
      },
    ];
    for (const p of poison) {
      await bus.publish({
        subject,
        payload: p.payload,
        headers: { [HEADER.id]: p.id, [HEADER.key]: victim.market_id },
      });
    }
    await feed.publishSnapshots(messages.slice(half));
    await feed.snapshotMarkers(messages[messages.length - 1].now, victim.platform);

    // Every valid snapshot (also after the poison) produces its feature vector.
    await waitFor(async () => {
      const rows = await store.featuresInRange({ start: 0, end: Number.MAX_SAFE_INTEGER });
      return rows.length >= expected.size;
    }, { timeoutMs: 45_000, intervalMs: 200, message: `features never reached ${expected.size}` });
    const stored = await store.featuresInRange({ start: 0, end: Number.MAX_SAFE_INTEGER });
    const got = new Set(stored.map((f) => encodeText(f, KINDS.features)));
    assertEquals(stored.length, expected.size, "no duplicate rows");
    assertEquals([...expected].filter((x) => !got.has(x)).length, 0, "no feature missing");
    const poisonAt = messages[half].now;
    const after = stored.filter((f) =>
      f.market_id === victim.market_id && f.computed_at > poisonAt
    );
    assert(after.length > 0, "the poisoned market's later snapshots flowed");

    // Both readers of the partition (feature, store) dead-lettered and counted both poisons.
    const storePort = await metricsPortOf(storeProc);
    for (const [name, port] of [["feature", featurePort], ["store", storePort]] as const) {
      await waitFor(
        async () =>
          await scrapeMetric(port, "augur_bus_dead_letter_total", { reason: "decode" }) === 2,
        { timeoutMs: 15_000, message: `${name} never counted 2 dead letters` },
      );
    }
    // The dead letters on augur.ops.dlq, up to a sentinel published now.
    const letters = (await readToSentinel(bus, subjects.opsDlq(), { timeoutMs: 15_000 }))
      .deliveries.filter((d) => d.subject === subjects.opsDlq());
    for (const d of letters) {
      const original = poison.find((p) =>
        `dlq:${d.headers[HEADER.worker]}:${p.id}` === d.headers[HEADER.id]
      );
      assert(original !== undefined, `a dead letter of a poison message: ${d.headers[HEADER.id]}`);
      const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
      assertEquals(text(d.payload), text(original.payload), "the dead letter keeps the payload");
      assertEquals(d.headers[HEADER.sourceSubject], subject);
      assertEquals(d.headers[HEADER.reason], "decode");
      assertEquals(d.headers[HEADER.key], victim.market_id);
      assert(["feature", "store"].includes(d.headers[HEADER.worker]), "worker header");
    }
    // One dead letter per (message, worker): both workers that read snapshots gave up on each
    // poison message, and each worker's dead letter has its own id (`dlq:<worker>:<id>`).
    const ids = letters.map((d) => d.headers[HEADER.id]).sort();
    assertEquals(
      ids,
      [
        "dlq:feature:poison:invalid",
        "dlq:feature:poison:not-json",
        "dlq:store:poison:invalid",
        "dlq:store:poison:not-json",
      ],
      "every poison message is in the dead-letter stream once per worker",
    );

    for (const p of [feature, storeProc]) p.kill("SIGTERM");
    for (const p of [feature, storeProc]) {
      assertEquals(await p.exit(), 0, `drained exit; stderr:\n${p.stderr().slice(-1500)}`);
    }
    console.log(
      `${kind}: 2 poison messages mid-partition → ${letters.length} dead letters; ${stored.length} feature vectors stored`,
    );
  });
}

const options = { sanitizeResources: false, sanitizeOps: false };

Deno.test({
  name: "e2e: poison mid-partition over NATS → dead letters with headers, the rest flows",
  ...needs("nats", "postgres"),
  ...options,
  fn: () => scenario("nats"),
});

Deno.test({
  name: "e2e: poison mid-partition over Redis → dead letters with headers, the rest flows",
  ...needs("redis", "postgres"),
  ...options,
  fn: () => scenario("redis"),
});
