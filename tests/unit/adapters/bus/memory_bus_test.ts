import { MemoryBus } from "../../../../adapters/bus/memory_bus.ts";
import { createEventBus } from "../../../../adapters/bus/factory.ts";
import { readDeadLetter } from "../../../../adapters/bus/dead_letter.ts";
import { reasonLabel, subjectFamily } from "../../../../adapters/bus/bus_metrics.ts";
import { compileSubjectMatcher } from "../../../../adapters/bus/subjects.ts";
import type { Delivery, Subscription } from "../../../../adapters/bus/types.ts";
import { type Counter, MetricsRegistry } from "../../../../adapters/observability/metrics.ts";
import { ConfigError } from "../../../../config/errors.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertThrows,
} from "../../../helpers/assert.ts";
import { waitFor, waitForSettled, WaitTimeoutError } from "../../../helpers/wait.ts";

const te = new TextEncoder();
const td = new TextDecoder();
const msg = (subject: string, text: string, headers?: Record<string, string>) => ({
  subject,
  payload: te.encode(text),
  headers,
});

async function take(sub: Subscription, n: number): Promise<Delivery[]> {
  const out: Delivery[] = [];
  const it = sub[Symbol.asyncIterator]();
  while (out.length < n) {
    const r = await it.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

function newBus(options: ConstructorParameters<typeof MemoryBus>[0] = {}) {
  const registry = new MetricsRegistry();
  return { bus: new MemoryBus({ registry, ...options }), registry };
}

Deno.test("memory bus: publish, subscribe, ack; positions and headers", async () => {
  const { bus, registry } = newBus();
  await bus.connect();
  const sub = bus.subscribe("augur.signals.>", "context");
  const a = await bus.publish(msg("augur.signals.x", "one", { "Augur-Id": "s:1" }));
  await bus.publish(msg("augur.other.x", "elsewhere"));
  await bus.publish(msg("augur.signals.y", "two"));
  assertEquals(a, { stream: "augur_signals", position: "1", duplicate: false });
  const [d1, d2] = await take(sub, 2);
  assertEquals([td.decode(d1.payload), td.decode(d2.payload)], ["one", "two"]);
  assertEquals(d1.headers["Augur-Id"], "s:1");
  assertEquals([d1.position, d2.position, d1.deliveryCount], ["1", "2", 1]);
  await d1.ack();
  await d2.ack();
  assertEquals(await bus.pending("augur.signals.>", "context"), 0);
  const published = registry.get("augur_bus_published_total") as Counter;
  assertEquals(published.get({ topic: "signals" }), 2);
  assertEquals(published.get({ topic: "other" }), 1);
  await bus.close();
});

Deno.test("memory bus: competing consumers of one group split the work, no overlap", async () => {
  const { bus } = newBus({ capacity: 1000 });
  const s1 = bus.subscribe("augur.signals", "g");
  const s2 = bus.subscribe("augur.signals", "g");
  const other = bus.subscribe("augur.signals", "other-group");
  for (let i = 0; i < 100; i++) await bus.publish(msg("augur.signals", String(i)));
  const seen1 = new Set<string>(), seen2 = new Set<string>(), seen3 = new Set<string>();
  const run = (s: Subscription, set: Set<string>) =>
    (async () => {
      for await (const d of s) {
        set.add(td.decode(d.payload));
        await d.ack();
        await Promise.resolve();
      }
    })();
  const runs = [run(s1, seen1), run(s2, seen2), run(other, seen3)];
  await waitFor(() => seen1.size + seen2.size === 100 && seen3.size === 100);
  assert(seen1.size > 0 && seen2.size > 0, "both consumers got work");
  assertEquals([...seen1].filter((x) => seen2.has(x)), []);
  await bus.close();
  await Promise.all(runs);
});

Deno.test("memory bus: nak redelivers with a higher delivery count; past maxDeliver → DLQ", async () => {
  const { bus, registry } = newBus({ maxDeliver: 3 });
  const dlq = bus.read("augur.ops.dlq", { from: { kind: "first" } });
  const sub = bus.subscribe("augur.features.>", "detector", { worker: "detector" });
  await bus.publish(msg("augur.features.01.m", "bad", { "Augur-Id": "f:1" }));
  await bus.publish(msg("augur.features.01.m", "good"));
  const counts: number[] = [];
  const it = sub[Symbol.asyncIterator]();
  let good = 0;
  while (good === 0 || counts.length < 3) {
    const { value: d } = await it.next();
    if (td.decode(d!.payload) === "good") {
      good++;
      await d!.ack();
      continue;
    }
    counts.push(d!.deliveryCount);
    await d!.nak();
  }
  assertEquals(counts, [1, 2, 3]);
  const [dead] = await take(dlq, 1);
  const info = readDeadLetter(dead.headers)!;
  assertMatch(info.reason, /^max_deliver/);
  assertEquals(info.deliveryCount, 3);
  assertEquals(info.worker, "detector");
  assertEquals(info.sourceSubject, "augur.features.01.m");
  assertEquals(dead.headers["Augur-Id"], "dlq:detector:f:1");
  assertEquals(dead.subject, "augur.ops.dlq");
  const dl = registry.get("augur_bus_dead_letter_total") as Counter;
  assertEquals(dl.get({ reason: "max_deliver" }), 1);
  const re = registry.get("augur_bus_redelivered_total") as Counter;
  assertEquals(re.get({ topic: "features", consumer_group: "detector" }), 2);
  await bus.close();
});

Deno.test("memory bus: deadLetter() publishes reason headers and acks", async () => {
  const { bus, registry } = newBus();
  const sub = bus.subscribe("augur.snapshots.>", "feature");
  await bus.publish(msg("augur.snapshots.03.p.m", "{nope"));
  await bus.publish(msg("augur.snapshots.03.p.m", "{}"));
  const [poison, fine] = await take(sub, 2);
  await poison.deadLetter("decode: Unexpected token n\nin JSON");
  await fine.ack();
  assertEquals(await bus.pending("augur.snapshots.>", "feature"), 0);
  const [dead] = await take(bus.read("augur.ops.dlq", { from: { kind: "first" } }), 1);
  assertEquals(dead.headers["Augur-Reason"], "decode: Unexpected token n in JSON");
  assertEquals(dead.headers["Augur-Source-Subject"], "augur.snapshots.03.p.m");
  assertEquals(dead.headers["Augur-Worker"], "feature");
  assertEquals(dead.headers["Augur-Delivery-Count"], "1");
  const dl = registry.get("augur_bus_dead_letter_total") as Counter;
  assertEquals(dl.get({ reason: "decode" }), 1);
  await bus.close();
});

Deno.test("memory bus: unacked deliveries are redelivered after the ack wait", async () => {
  const { bus } = newBus();
  const sub = bus.subscribe("augur.signals", "g", { ackWaitMs: 40 });
  await bus.publish(msg("augur.signals", "x"));
  const [first] = await take(sub, 1);
  const [again] = await take(sub, 1); // waits for the ack-wait sweep
  assertEquals(first.position, again.position);
  assertEquals(again.deliveryCount, 2);
  await first.ack(); // a stale ack of the first delivery is ignored
  assertEquals(await bus.pending("augur.signals", "g"), 1);
  await again.working();
  await again.ack();
  assertEquals(await bus.pending("augur.signals", "g"), 0);
  await bus.close();
});

Deno.test("memory bus: a full consumer blocks the publisher (backpressure), never drops", async () => {
  const { bus } = newBus({ capacity: 4 });
  const sub = bus.subscribe("augur.signals", "slow");
  for (let i = 0; i < 4; i++) await bus.publish(msg("augur.signals", String(i)));
  const fifth = bus.publish(msg("augur.signals", "4"));
  // The publisher must block while the consumer's backlog is full: not settled within 10 ms.
  await assertRejects(() => waitForSettled(fifth, { timeoutMs: 10 }), WaitTimeoutError);
  const got: Delivery[] = [];
  for await (const d of sub) {
    got.push(d);
    await d.ack(); // at most `capacity` unacked deliveries per group, like max_ack_pending
    if (got.length === 5) break;
  }
  assertEquals((await fifth).position, "5");
  assertEquals(got.map((d) => td.decode(d.payload)), ["0", "1", "2", "3", "4"]);
  // a subject nobody consumes never blocks: history is bounded instead
  for (let i = 0; i < 20; i++) await bus.publish(msg("augur.ops.events", String(i)));
  // close rejects a blocked publisher instead of hanging it
  bus.subscribe("augur.signals", "idle");
  const attempts = Array.from({ length: 10 }, (_, i) => bus.publish(msg("augur.signals", `m${i}`)));
  await bus.close();
  const results = await Promise.allSettled(attempts);
  const rejected = results.filter((r) => r.status === "rejected") as PromiseRejectedResult[];
  assert(rejected.length > 0, "some publishes were blocked");
  assertMatch(String(rejected[0].reason.message), /closed while a publisher was blocked/);
});

Deno.test("memory bus: read() is ordered, per subject, from first / after / new", async () => {
  const { bus } = newBus({ capacity: 100 });
  for (let i = 0; i < 10; i++) {
    await bus.publish(msg(`augur.snapshots.0${i % 2}.p.m${i}`, String(i)));
  }
  const all = await take(bus.read("augur.snapshots.01.>", { from: { kind: "first" } }), 5);
  assertEquals(all.map((d) => td.decode(d.payload)), ["1", "3", "5", "7", "9"]);
  const after = await take(
    bus.read("augur.snapshots.01.>", { from: { kind: "after", position: all[2].position } }),
    2,
  );
  assertEquals(after.map((d) => td.decode(d.payload)), ["7", "9"]);
  const fresh = bus.read("augur.snapshots.00.>", { from: { kind: "new" } });
  await bus.publish(msg("augur.snapshots.00.p.z", "new"));
  const [n] = await take(fresh, 1);
  assertEquals([td.decode(n.payload), n.deliveryCount], ["new", 1]);
  await n.ack(); // no-op
  assertThrows(
    () => bus.read("augur.*.01", { from: { kind: "first" } }),
    TypeError,
    "literal family",
  );
  await assertRejects(() => bus.publish(msg("augur.signals.>", "x")), TypeError, "wildcards");
  await bus.close();
});

Deno.test("memory bus: stop() ends iteration; break stops the subscription", async () => {
  const { bus } = newBus();
  const sub = bus.subscribe("augur.signals", "g");
  const it = sub[Symbol.asyncIterator]();
  const pending = it.next();
  await sub.stop();
  assertEquals((await pending).done, true);
  await bus.close();
});

Deno.test("bus helpers: families, reason labels, subject matching", () => {
  assertEquals(subjectFamily("augur.snapshots.07.polymarket.m1"), "snapshots");
  assertEquals(subjectFamily("augur.>"), "*");
  assertEquals(reasonLabel("decode: Unexpected token } in JSON"), "decode");
  assertEquals(reasonLabel("  "), "unknown");
  const m = compileSubjectMatcher("augur.*.07.>");
  assert(m("augur.snapshots.07.p.m"));
  assert(!m("augur.snapshots.07"));
  assert(!m("augur.snapshots.08.p"));
  assert(compileSubjectMatcher("augur.x.>")("augur.x.y"));
  assert(!compileSubjectMatcher("augur.x.>")("augur.x"));
  assert(compileSubjectMatcher("augur.x")("augur.x"));
});

Deno.test("bus factory: memory by default, unknown kind and missing secret fail clearly", async () => {
  const bus = await createEventBus({}, { registry: new MetricsRegistry() });
  assertEquals(bus.kind, "memory");
  const nats = await createEventBus(
    { backend: { kind: "nats" }, nats: { servers: ["nats://127.0.0.1:1"] } },
    { env: {}, registry: new MetricsRegistry() },
  );
  assertEquals(nats.kind, "nats");
  const e = await assertRejects(
    () => createEventBus({ backend: { kind: "natss" } }),
    ConfigError,
  );
  assertEquals(
    e.message,
    'config/bus.toml: backend.kind: expected one of memory, nats, redis, received "natss" (did you mean "nats"?)',
  );
  await assertRejects(
    () => createEventBus({ backend: { kind: "redis" } }, { env: {} }),
    ConfigError,
    "REDIS_URL is not set",
  );
});
