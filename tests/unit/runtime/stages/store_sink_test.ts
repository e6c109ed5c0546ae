/**
 * The store sink on the memory bus: commits keep up with a slow store (group commit, never a
 * growing queue of small commits), tick markers do not wait for slow acks, and failed acks or
 * keep-alives are counted and logged without stalling later commits.
 */
import { assert, assertEquals } from "../../../helpers/assert.ts";
import { waitFor } from "../../../helpers/wait.ts";
import { SlowStore } from "../../../helpers/slow_store.ts";
import { runStoreSink } from "../../../../runtime/stages/store_sink.ts";
import { snapshotMessage, tickMessages } from "../../../../runtime/stages/poller_stage.ts";
import { Subjects } from "../../../../runtime/subjects.ts";
import { MemoryBus } from "../../../../adapters/bus/memory_bus.ts";
import type { Delivery, EventBus, Subscription } from "../../../../adapters/bus/types.ts";
import { SimulatorSource } from "../../../../adapters/markets/simulator.ts";
import { MetricsRegistry } from "../../../../adapters/observability/metrics.ts";
import { createLogger } from "../../../../adapters/observability/logger.ts";

const subjects = new Subjects({ partitions: 12 });

/** Publish a simulator run tick by tick, `intervalMs` apart; resolves with the count and end. */
async function publishPaced(
  bus: EventBus,
  options: { markets: number; ticks: number; intervalMs: number },
): Promise<{ published: number; endedAt: number }> {
  const source = new SimulatorSource({ seed: 7, events: [], ...options });
  let published = 0;
  for await (const tick of source) {
    await bus.publishBatch(tick.messages.map((m) => snapshotMessage(subjects, m)));
    published += tick.messages.length;
  }
  await source.close();
  return { published, endedAt: Date.now() };
}

Deno.test("store sink: a slow store gets bigger commits, not a queue of small ones that falls behind", async () => {
  const registry = new MetricsRegistry();
  // Room for the whole input: the publisher is never held back by the bus, as with a server.
  const bus = new MemoryBus({ registry, capacity: 10_000 });
  await bus.connect();
  // Every write takes 100 ms: a commit (4 parallel writes, contexts, ticks) takes ~300 ms, far
  // longer than max_delay_ms. Snapshots arrive at ~500/s in ticks of 24 every 50 ms.
  const store = new SlowStore(100);
  await store.initialize();
  const controller = new AbortController();
  const sink = runStoreSink(bus, store, {
    subjects,
    signal: controller.signal,
    batchSize: 200,
    maxDelayMs: 20,
    registry,
    logger: createLogger({ sink: () => {} }),
  });
  try {
    const { published, endedAt } = await publishPaced(bus, {
      markets: 24,
      ticks: 60,
      intervalMs: 50,
    });
    // Caught up soon after the input stops: a commit takes whatever arrived while the previous
    // one ran. Small commits queued behind each other (one per max_delay_ms) would need
    // 60 × 300 ms ≈ 18 s to drain a 3 s input.
    await waitFor(() => store.snapshots.size === published, {
      timeoutMs: 30_000,
      message: `stored ${store.snapshots.size} of ${published}`,
    });
    const lagMs = Date.now() - endedAt;
    assert(
      lagMs < 3000,
      `all ${published} snapshots stored ${lagMs} ms after the last publish, in ${store.commits} commits (largest ${store.largestCommit} rows)`,
    );
    assert(store.largestCommit > 24, `commits grew past one tick: ${store.largestCommit}`);
    assert(
      store.largestCommit <= 200 + 4,
      `a commit stays near batch_size: ${store.largestCommit}`,
    );
  } finally {
    controller.abort();
    await sink;
    await bus.close();
  }
  assertEquals(await bus.pending("augur.snapshots.>", "store"), 0, "everything acked");
});

/** `inner` with each delivery's `ack` and `working` replaced (given the original delivery). */
function wrapBus(
  inner: MemoryBus,
  replace: { ack?: (d: Delivery) => Promise<void>; working?: (d: Delivery) => Promise<void> },
): EventBus {
  return {
    kind: inner.kind,
    connect: () => inner.connect(),
    close: () => inner.close(),
    publish: (m) => inner.publish(m),
    publishBatch: (m) => inner.publishBatch(m),
    read: (s, o) => inner.read(s, o),
    pending: (p, g) => inner.pending(p, g),
    subscribe(pattern, group, options): Subscription {
      const sub = inner.subscribe(pattern, group, options);
      return {
        stop: () => sub.stop(),
        async *[Symbol.asyncIterator]() {
          for await (const d of sub) {
            const wrapped: Delivery = {
              subject: d.subject,
              payload: d.payload,
              headers: d.headers,
              stream: d.stream,
              position: d.position,
              deliveryCount: d.deliveryCount,
              publishedAtMs: d.publishedAtMs,
              decoded: d.decoded,
              ack: () => replace.ack ? replace.ack(d) : d.ack(),
              nak: (ms) => d.nak(ms),
              working: () => replace.working ? replace.working(d) : d.working(),
              deadLetter: (reason) => d.deadLetter(reason),
            };
            yield wrapped;
          }
        },
      };
    },
  };
}

Deno.test("store sink: tick markers do not wait for their acks (a durable server answers each after a disk write)", async () => {
  const registry = new MetricsRegistry();
  const inner = new MemoryBus({ registry, capacity: 10_000 });
  // Every ack is answered after 20 ms (the fsync of a durable Redis on a busy machine).
  const bus = wrapBus(inner, {
    ack: (d) => new Promise((resolve) => setTimeout(resolve, 20)).then(() => d.ack()),
  });
  await bus.connect();
  const store = new SlowStore(0);
  await store.initialize();
  const controller = new AbortController();
  const sink = runStoreSink(bus, store, {
    subjects,
    signal: controller.signal,
    batchSize: 200,
    maxDelayMs: 20,
    registry,
    logger: createLogger({ sink: () => {} }),
  });
  try {
    // 60 ticks of 24 snapshots, each followed by a marker in every one of the 12 partitions
    // (720 markers): waited for one by one, the markers alone would take 720 × 20 ms ≈ 14 s.
    const source = new SimulatorSource({ seed: 7, events: [], markets: 24, ticks: 60 });
    let published = 0;
    for await (const tick of source) {
      const { snapshots, markers } = tickMessages(subjects, tick, new Set());
      await bus.publishBatch([...snapshots, ...markers]);
      published += snapshots.length;
    }
    await source.close();
    const endedAt = Date.now();
    await waitFor(() => store.snapshots.size === published, {
      timeoutMs: 30_000,
      message: `stored ${store.snapshots.size} of ${published}`,
    });
    const lagMs = Date.now() - endedAt;
    assert(lagMs < 4000, `all ${published} snapshots stored ${lagMs} ms after the last publish`);
    await waitFor(async () => (await bus.pending("augur.snapshots.>", "store")) === 0, {
      timeoutMs: 10_000,
      message: "snapshots and markers all acked",
    });
  } finally {
    controller.abort();
    await sink;
    await bus.close();
  }
});

Deno.test("store sink: failed acks and keep-alives are counted and logged; later commits still run", async () => {
  const registry = new MetricsRegistry();
  // Unacked deliveries come back after 300 ms (the failed acks must not be lost either).
  const inner = new MemoryBus({ registry, ackWaitMs: 300 });
  // The first 5 acks are lost (a dropped connection); no keep-alive ever gets through.
  let failedAcks = 0;
  const bus = wrapBus(inner, {
    ack: (d) => {
      if (failedAcks >= 5) return d.ack();
      failedAcks++;
      return Promise.reject(new Error("connection lost before XACK"));
    },
    working: () => Promise.reject(new Error("connection lost before XCLAIM")),
  });
  await bus.connect();
  const store = new SlowStore(30);
  await store.initialize();
  const logs: string[] = [];
  const controller = new AbortController();
  const sink = runStoreSink(bus, store, {
    subjects,
    signal: controller.signal,
    batchSize: 50,
    maxDelayMs: 10,
    keepAliveMs: 20,
    registry,
    logger: createLogger({ sink: (line) => logs.push(line) }),
  });
  try {
    const { published } = await publishPaced(bus, { markets: 12, ticks: 20, intervalMs: 20 });
    await waitFor(() => store.snapshots.size === published, {
      timeoutMs: 20_000,
      message: `stored ${store.snapshots.size} of ${published} (a failed ack stalled commits)`,
    });
    await waitFor(async () => (await bus.pending("augur.snapshots.>", "store")) === 0, {
      timeoutMs: 20_000,
      message: "the deliveries whose ack failed are redelivered and acked",
    });
  } finally {
    controller.abort();
    await sink;
    await bus.close();
  }
  assertEquals(failedAcks, 5);
  const retries = registry.get("augur_worker_retries_total");
  assert(retries && "get" in retries);
  assertEquals(retries.get({ kind: "store", stage: "ack" }), 5, "failed acks are counted");
  assert(retries.get({ kind: "store", stage: "keepalive" }) > 0, "failed keep-alives are counted");
  assert(
    logs.some((l) => l.includes("ack failed; those messages will be redelivered")),
    "failed acks are logged",
  );
  assert(logs.some((l) => l.includes("keep-alive failed")), "failed keep-alives are logged");
});
