/**
 * The Redis Streams bus on a real redis-server (DESIGN §5, §10): partition ownership,
 * reclaim after a SIGKILLed consumer, server restart, poison → dead letter, durability check,
 * unreachable server.
 */
import { Redis } from "ioredis";
import { RedisBus, type RedisBusOptions } from "../../../../adapters/bus/redis_bus.ts";
import { readDeadLetter } from "../../../../adapters/bus/dead_letter.ts";
import { type Delivery, HEADER, type Subscription } from "../../../../adapters/bus/types.ts";
import { MetricsRegistry } from "../../../../adapters/observability/metrics.ts";
import { createLogger, type Logger } from "../../../../adapters/observability/logger.ts";
import { ConfigError, ConnectionError } from "../../../../config/errors.ts";
import { ownsPartition, partitionOf } from "../../../../pipeline/partition.ts";
import { assert, assertEquals, assertMatch, assertRejects } from "../../../helpers/assert.ts";
import {
  freePort,
  type ManagedServer,
  needs,
  startRedis,
  waitFor,
} from "../../../helpers/servers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

const quiet: Logger = Deno.env.get("DEBUG_BUS") ? createLogger({ component: "test" }) : {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return quiet;
  },
};

function makeBus(server: ManagedServer, options: Partial<RedisBusOptions> = {}): RedisBus {
  return new RedisBus({
    url: server.url,
    blockMs: 100,
    claimIdleMs: 500,
    partitions: 16,
    registry: new MetricsRegistry(),
    logger: quiet,
    ...options,
  });
}

/** Drain a subscription in the background with `handle`; returns a stopper. */
function consume(
  sub: Subscription,
  handle: (delivery: Delivery) => Promise<void>,
): { done: Promise<void> } {
  const done = (async () => {
    for await (const delivery of sub) await handle(delivery);
  })();
  return { done };
}

Deno.test({
  name: "redis bus: publish stores subject, binary payload and headers in the partition stream",
  ...needs("redis"),
  async fn() {
    const server = await startRedis();
    const bus = makeBus(server);
    const raw = new Redis(server.url);
    try {
      await bus.connect();
      const payload = new Uint8Array([0, 1, 2, 255, 254, 13, 10, 0]);
      const ack = await bus.publish({
        subject: "augur.snapshots.07.polymarket.m1",
        payload,
        headers: { [HEADER.id]: "snap:m1:1", [HEADER.key]: "m1" },
      });
      assertEquals(ack.stream, "augur:snapshots:07");
      assertEquals(ack.duplicate, false);
      const acks = await bus.publishBatch([
        { subject: "augur.signals", payload: enc.encode("a") },
        { subject: "augur.ops.dlq", payload: enc.encode("b") },
      ]);
      assertEquals(acks.map((a) => a.stream), ["augur:signals", "augur:ops"]);

      const rows = await raw.xrangeBuffer("augur:snapshots:07", "-", "+");
      assertEquals(rows.length, 1);
      const fields = rows[0][1].map((b) => b.toString("latin1"));
      assertEquals(fields.slice(0, 2), ["s", "augur.snapshots.07.polymarket.m1"]);
      assert(fields.includes("h:Augur-Id"), "headers are stored as h:<name> fields");

      const seen: Delivery[] = [];
      for await (const d of bus.read("augur.snapshots.07.>", { from: { kind: "first" } })) {
        seen.push(d);
        break;
      }
      assertEquals(seen[0].payload, payload);
      assertEquals(seen[0].headers[HEADER.id], "snap:m1:1");
      assertEquals(seen[0].position, ack.position);
      assertEquals(seen[0].deliveryCount, 1);
      assert(Math.abs(seen[0].publishedAtMs - Date.now()) < 60_000);

      const sub = bus.subscribe("augur.snapshots.>", "store");
      for await (const d of sub) {
        assertEquals(await bus.pending("augur.snapshots.>", "store"), 1, "delivered, not acked");
        assertEquals(d.subject, "augur.snapshots.07.polymarket.m1");
        assertEquals(d.payload, payload);
        await d.ack();
        break;
      }
      assertEquals(await bus.pending("augur.snapshots.>", "store"), 0);
      assertEquals(await bus.pending("augur.signals", "nobody"), undefined);
    } finally {
      raw.disconnect();
      await bus.close();
      await server.stop();
    }
  },
});

Deno.test({
  name: "redis bus: 10,000 messages over 16 partitions, 4 replicas each read exactly their own",
  ...needs("redis"),
  async fn() {
    const server = await startRedis();
    const P = 16;
    const N = 4;
    const publisher = makeBus(server, { batch: 512 });
    const replicas = Array.from({ length: N }, () => makeBus(server, { batch: 512 }));
    const seenBy = new Map<number, number[]>(); // message index → replicas that processed it
    const owned: Set<number>[] = replicas.map(() => new Set());
    const expected: Set<number>[] = replicas.map(() => new Set());
    const subs: Subscription[] = [];
    const loops: Promise<void>[] = [];
    try {
      await publisher.connect();
      for (const r of replicas) await r.connect();
      // Replicas start before and keep reading while the messages are published.
      let outOfOrder = 0;
      replicas.forEach((bus, i) => {
        for (let p = i; p < P; p += N) {
          const pp = String(p).padStart(2, "0");
          const sub = bus.read(`augur.snapshots.${pp}.>`, {
            from: { kind: "first" },
            worker: "feature",
          });
          subs.push(sub);
          let last = "0-0";
          loops.push(
            consume(sub, async (d) => {
              const [ms, seq] = d.position.split("-").map(Number);
              const [lms, lseq] = last.split("-").map(Number);
              if (ms < lms || (ms === lms && seq <= lseq)) outOfOrder++;
              last = d.position;
              const index = JSON.parse(dec.decode(d.payload)).i as number;
              const market = d.headers[HEADER.key];
              if (!ownsPartition(partitionOf(market, P), i, N)) {
                throw new Error(`replica ${i} got ${market}`);
              }
              seenBy.set(index, [...(seenBy.get(index) ?? []), i]);
              owned[i].add(index);
              await d.ack();
            }).done,
          );
        }
      });

      const messages = Array.from({ length: 10_000 }, (_, index) => {
        const market = `m${index % 1000}`;
        const p = partitionOf(market, P);
        expected[p % N].add(index);
        return {
          subject: `augur.snapshots.${String(p).padStart(2, "0")}.test.${market}`,
          payload: enc.encode(JSON.stringify({ i: index, pad: "x".repeat(100) })),
          headers: { [HEADER.id]: `snap:${index}`, [HEADER.key]: market },
        };
      });
      for (let i = 0; i < messages.length; i += 500) {
        await publisher.publishBatch(messages.slice(i, i + 500));
      }
      await waitFor(() => seenBy.size === 10_000, {
        timeoutMs: 30_000,
        message: `only ${seenBy.size} of 10000 processed`,
      });
      for (const sub of subs) await sub.stop();
      await Promise.all(loops);
      for (let i = 0; i < N; i++) {
        assertEquals(owned[i], expected[i], `replica ${i} processed exactly its partitions`);
        assert(owned[i].size > 1000, `replica ${i} had a fair share (${owned[i].size})`);
      }
      const twice = [...seenBy.entries()].filter(([, by]) => by.length !== 1);
      assertEquals(twice, [], "every message processed exactly once");
      assertEquals(outOfOrder, 0, "each partition is read in order");
    } finally {
      for (const sub of subs) await sub.stop();
      for (const r of replicas) await r.close();
      await publisher.close();
      await server.stop();
    }
  },
});

Deno.test({
  name: "redis bus: a SIGKILLed consumer's unacked messages are reclaimed by a live peer",
  ...needs("redis"),
  async fn() {
    const server = await startRedis();
    const registry = new MetricsRegistry();
    const bus = makeBus(server, { registry, batch: 16 });
    let victim: Deno.ChildProcess | undefined;
    try {
      await bus.connect();
      const total = 200;
      await bus.publishBatch(
        Array.from({ length: total }, (_, i) => ({
          subject: `augur.contexts.m${i}`,
          payload: enc.encode(String(i)),
        })),
      );
      // The victim takes 40 messages and holds them without acking.
      const script = new URL("./redis_bus_victim.ts", import.meta.url).pathname;
      victim = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--no-check", script, server.url, "augur.contexts.>", "ctx", "40"],
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const held = new Set<string>();
      const reader = victim.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      while (!buffer.includes("holding")) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`victim exited early: ${buffer}`);
        buffer += value;
      }
      for (const line of buffer.split("\n")) {
        if (line.startsWith("held ")) held.add(line.slice(5));
      }
      assertEquals(held.size, 40);

      // The live peer processes the rest while the victim holds its 40.
      const processed = new Map<string, number>(); // "stream position" → delivery count
      // Ack wait 1.5 s: the held entries are not reclaimed while the victim lives.
      const sub = bus.subscribe("augur.contexts.>", "ctx", { ackWaitMs: 1500 });
      const loop = consume(sub, async (d) => {
        processed.set(`${d.stream} ${d.position}`, d.deliveryCount);
        await d.ack();
      });
      await waitFor(() => processed.size === total - held.size, { timeoutMs: 10_000 });
      assert([...held].every((p) => !processed.has(p)), "held messages are not double-delivered");

      victim.kill("SIGKILL");
      await victim.status;
      reader.releaseLock();
      await victim.stdout.cancel().catch(() => {});
      victim = undefined;

      await waitFor(() => processed.size === total, {
        timeoutMs: 15_000,
        message: `peer processed ${processed.size} of ${total}`,
      });
      for (const position of held) {
        assert((processed.get(position) ?? 0) >= 2, `${position} was redelivered`);
      }
      const redelivered = registry.get("augur_bus_redelivered_total");
      assertEquals(
        (redelivered as { get(l: object): number }).get({
          topic: "contexts",
          consumer_group: "ctx",
        }),
        held.size,
      );
      await waitFor(async () => (await bus.pending("augur.contexts.>", "ctx")) === 0);
      await sub.stop();
      await loop.done;
    } finally {
      if (victim) {
        victim.kill("SIGKILL");
        await victim.status;
        await victim.stdout.cancel().catch(() => {});
      }
      await bus.close();
      await server.stop();
    }
  },
});

Deno.test({
  name: "redis bus: redis-server SIGKILL + restart mid-stream loses no acknowledged publish",
  ...needs("redis"),
  async fn() {
    const server = await startRedis();
    const publisher = makeBus(server);
    const consumer = makeBus(server, { claimIdleMs: 1000 });
    try {
      await publisher.connect();
      await consumer.connect();
      const consumed = new Set<string>();
      const sub = consumer.subscribe("augur.signals", "restart");
      const loop = consume(sub, (d) => {
        consumed.add(d.headers[HEADER.id]);
        // Acks are not awaited one by one (they coalesce into one XACK per batch); an ack
        // lost in the outage means a redelivery, which the set absorbs.
        d.ack().catch(() => {});
        return Promise.resolve();
      });

      const acked = new Set<string>();
      let failed = 0;
      let next = 0;
      const publishSome = async (count: number) => {
        for (let k = 0; k < count; k += 25) {
          const batch = Array.from({ length: 25 }, () => {
            const id = `sig:${next++}`;
            return {
              subject: "augur.signals",
              payload: enc.encode(id),
              headers: { [HEADER.id]: id },
            };
          });
          try {
            await publisher.publishBatch(batch);
            for (const m of batch) acked.add(m.headers[HEADER.id]);
          } catch {
            failed++;
          }
        }
      };
      await publishSome(1000);
      const during = publishSome(1000); // runs across the kill + restart
      await waitFor(() => acked.size >= 1100, { timeoutMs: 10_000 }); // truly mid-stream
      await server.kill();
      await server.restart();
      await during;
      await publishSome(500);

      assert(acked.size >= 1500, `most publishes succeeded (${acked.size}, ${failed} failed)`);
      await waitFor(() => [...acked].every((id) => consumed.has(id)), {
        timeoutMs: 20_000,
        message: `consumed ${consumed.size}, missing ${
          [...acked].filter((id) => !consumed.has(id)).slice(0, 5)
        }`,
      });
      await sub.stop();
      await loop.done;
    } finally {
      await consumer.close();
      await publisher.close();
      await server.stop();
    }
  },
});

Deno.test({
  name: "redis bus: poison goes to the dead letter stream with reason headers; the rest flows",
  ...needs("redis"),
  async fn() {
    const server = await startRedis();
    const registry = new MetricsRegistry();
    const bus = makeBus(server, { registry, maxDeliver: 3 });
    try {
      await bus.connect();
      const messages = Array.from({ length: 30 }, (_, i) => ({
        subject: "augur.signals",
        payload: enc.encode(
          i === 5 ? "{not json" : JSON.stringify({ i, explode: i === 17 }),
        ),
        headers: { [HEADER.id]: `sig:${i}` },
      }));
      await bus.publishBatch(messages);
      const good = new Set<number>();
      let explodeDeliveries = 0;
      const sub = bus.subscribe("augur.signals", "context", { worker: "context" });
      const loop = consume(sub, async (d) => {
        let value: { i: number; explode: boolean };
        try {
          value = JSON.parse(dec.decode(d.payload));
        } catch (error) {
          await d.deadLetter(`decode: ${(error as Error).message}`);
          return;
        }
        if (value.explode) {
          explodeDeliveries++;
          await d.nak(10); // a transform that always throws
          return;
        }
        good.add(value.i);
        await d.ack();
      });
      const dlq: Delivery[] = [];
      const dlqLoop = consume(
        bus.read("augur.ops.dlq", { from: { kind: "first" } }),
        (d) => Promise.resolve(void dlq.push(d)),
      );
      await waitFor(() => good.size === 28 && dlq.length === 2, {
        timeoutMs: 10_000,
        message: `good ${good.size}, dead letters ${dlq.length}`,
      });
      assertEquals(explodeDeliveries, 3, "delivered maxDeliver times, then dead-lettered");
      const infos = dlq.map((d) => readDeadLetter(d.headers)!);
      const decode = infos.find((x) => x.reason.startsWith("decode"))!;
      const exhausted = infos.find((x) => x.reason.startsWith("max_deliver"))!;
      assertEquals(decode.sourceSubject, "augur.signals");
      assertEquals(decode.worker, "context");
      assertEquals(decode.deliveryCount, 1);
      assertEquals(exhausted.deliveryCount, 3);
      assertEquals(
        dlq.find((d) => d.headers[HEADER.id] === "dlq:context:sig:5")?.subject,
        "augur.ops.dlq",
      );
      assertEquals(
        dec.decode(dlq[0].payload) + dec.decode(dlq[1].payload),
        "{not json" +
          JSON.stringify({ i: 17, explode: true }),
      );
      const dead = registry.get("augur_bus_dead_letter_total") as { get(l: object): number };
      assertEquals(dead.get({ reason: "decode" }), 1);
      assertEquals(dead.get({ reason: "max_deliver" }), 1);
      await waitFor(async () => (await bus.pending("augur.signals", "context")) === 0);
      await bus.close();
      await loop.done;
      await dlqLoop.done;
    } finally {
      await bus.close();
      await server.stop();
    }
  },
});

Deno.test({
  name: "redis bus: working() keeps a slow delivery from being reclaimed by a peer",
  ...needs("redis"),
  async fn() {
    const server = await startRedis();
    const a = makeBus(server, { claimIdleMs: 300 });
    const b = makeBus(server, { claimIdleMs: 300 });
    try {
      await a.connect();
      await b.connect();
      await a.publish({ subject: "augur.briefs.json", payload: enc.encode("slow") });
      const subA = a.subscribe("augur.briefs.>", "ws");
      const itA = subA[Symbol.asyncIterator]();
      const first = (await itA.next()).value as Delivery;
      let stolen = 0;
      const subB = b.subscribe("augur.briefs.>", "ws");
      const loopB = consume(subB, async (d) => {
        stolen++;
        await d.ack();
      });
      const until = Date.now() + 1200; // four claim idle periods of "work"
      while (Date.now() < until) {
        await first.working();
        await new Promise((r) => setTimeout(r, 100));
      }
      assertEquals(stolen, 0, "the peer never reclaimed a delivery kept alive by working()");
      await first.ack();
      assertEquals(await a.pending("augur.briefs.>", "ws"), 0);
      // Control: without working() the same wait lets the peer reclaim the delivery.
      await subB.stop();
      await loopB.done;
      await a.publish({ subject: "augur.briefs.json", payload: enc.encode("idle") });
      const second = (await itA.next()).value as Delivery;
      assertEquals(second.deliveryCount, 1);
      const subB2 = b.subscribe("augur.briefs.>", "ws");
      const loopB2 = consume(subB2, async (d) => {
        stolen++;
        await d.ack();
      });
      await waitFor(() => stolen === 1, { timeoutMs: 5000, message: "peer reclaimed" });
      await second.ack(); // late ack of an entry the peer already acked: harmless
      await subA.stop();
      await subB2.stop();
      await loopB2.done;
    } finally {
      await a.close();
      await b.close();
      await server.stop();
    }
  },
});

/** Calls of `command` so far (INFO commandstats). */
async function commandCalls(raw: Redis, command: string): Promise<number> {
  const info = await raw.info("commandstats");
  const match = new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info);
  return match ? Number(match[1]) : 0;
}

/** [id, consumer, idle ms, delivery count] of every pending entry of `stream` in `group`. */
async function pendingEntries(
  raw: Redis,
  stream: string,
  group: string,
): Promise<[string, string, number, number][]> {
  return (await raw.call("XPENDING", stream, group, "-", "+", 1000)) as [
    string,
    string,
    number,
    number,
  ][];
}

function counter(registry: MetricsRegistry, name: string, labels: Record<string, string>): number {
  const metric = registry.get(name) as { get(l: object): number } | undefined;
  return metric ? metric.get(labels) : 0;
}

Deno.test({
  name: "redis bus: working() and ack of many deliveries are one XCLAIM / XACK per stream",
  ...needs("redis"),
  async fn() {
    const server = await startRedis();
    const bus = makeBus(server, { partitions: 4, claimIdleMs: 60_000 });
    const raw = new Redis(server.url);
    try {
      await bus.connect();
      const total = 400;
      await bus.publishBatch(
        Array.from({ length: total }, (_, i) => ({
          subject: `augur.snapshots.0${i % 4}.polymarket.m${i}`,
          payload: enc.encode(String(i)),
        })),
      );
      const sub = bus.subscribe("augur.snapshots.>", "store");
      const it = sub[Symbol.asyncIterator]();
      const held: Delivery[] = [];
      while (held.length < total) held.push((await it.next()).value as Delivery);

      // A batching consumer keeps its whole batch alive at once (the store sink, every second).
      const claimsBefore = await commandCalls(raw, "xclaim");
      await Promise.all(held.map((d) => d.working()));
      const claims = (await commandCalls(raw, "xclaim")) - claimsBefore;
      assert(claims <= 4, `${total} keep-alives over 4 streams took ${claims} XCLAIM commands`);
      const pending = await pendingEntries(raw, "augur:snapshots:01", "augur:store");
      assertEquals(pending.length, total / 4);
      assert(pending.every(([, , , count]) => count === 1), "keep-alives count no delivery");

      const acksBefore = await commandCalls(raw, "xack");
      await Promise.all(held.map((d) => d.ack()));
      const acks = (await commandCalls(raw, "xack")) - acksBefore;
      assert(acks <= 4, `${total} acks over 4 streams took ${acks} XACK commands`);
      assertEquals(await bus.pending("augur.snapshots.>", "store"), 0);
      await sub.stop();
    } finally {
      raw.disconnect();
      await bus.close();
      await server.stop();
    }
  },
});

Deno.test({
  name:
    "redis bus: entries that waited in a starved consumer's queue are not reclaimed from it when handed out",
  ...needs("redis"),
  async fn() {
    const server = await startRedis();
    const registry = new MetricsRegistry();
    const ackWaitMs = 400;
    const bus = makeBus(server, { registry, partitions: 1, claimIdleMs: ackWaitMs });
    const raw = new Redis(server.url);
    try {
      await bus.connect();
      const total = 30;
      await bus.publishBatch(
        Array.from({ length: total }, (_, i) => ({
          subject: `augur.snapshots.00.polymarket.m${i}`,
          payload: enc.encode(String(i)),
        })),
      );
      const sub = bus.subscribe("augur.snapshots.>", "store");
      const it = sub[Symbol.asyncIterator]();
      // One XREADGROUP fetched all 30; the consumer takes the first and then stalls (a
      // starved process) until the 29 still queued have idled past the ack wait.
      const first = (await it.next()).value as Delivery;
      await waitFor(async () => {
        const idle = (await pendingEntries(raw, "augur:snapshots:00", "augur:store")).map((e) =>
          e[2]
        );
        return idle.length === total && idle.every((ms) => ms > ackWaitMs * 1.5);
      }, { timeoutMs: 10_000, message: "the queued entries idle past the ack wait" });
      // It catches up: takes the rest at once, then asks for more (the reclaim scan runs).
      const held = [first];
      while (held.length < total) held.push((await it.next()).value as Delivery);
      const next = it.next();
      await bus.publish({ subject: "augur.snapshots.00.polymarket.late", payload: enc.encode("") });
      held.push((await next).value as Delivery);

      const positions = new Set(held.map((d) => d.position));
      assertEquals(positions.size, total + 1, "each entry handed out once");
      const pending = await pendingEntries(raw, "augur:snapshots:00", "augur:store");
      // Only the entry the consumer held through its stall without a keep-alive was reclaimed
      // (from itself: counted as in hand, not delivered again); the 29 that merely waited in
      // its queue started a fresh ack wait when handed out.
      const counted = pending.filter(([, , , count]) => count > 1).map(([id]) => id);
      assertEquals(counted, [first.position], "queued entries count no second delivery");
      const reclaimed = (state: string) =>
        counter(registry, "augur_bus_reclaimed_total", {
          topic: "snapshots",
          consumer_group: "store",
          state,
        });
      assertEquals(reclaimed("in_hand"), 1);
      assertEquals(reclaimed("idle"), 0);
      await Promise.all(held.map((d) => d.ack()));
      await sub.stop();
    } finally {
      raw.disconnect();
      await bus.close();
      await server.stop();
    }
  },
});

Deno.test({
  name:
    "redis bus: reclaims are counted; an entry deleted before its ack is counted as dropped and logged",
  ...needs("redis"),
  async fn() {
    const server = await startRedis();
    const registry = new MetricsRegistry();
    const logs: string[] = [];
    const logger = createLogger({ sink: (line) => logs.push(line) });
    const a = makeBus(server, { claimIdleMs: 300 });
    const b = makeBus(server, { claimIdleMs: 300, registry, logger });
    const raw = new Redis(server.url);
    try {
      await a.connect();
      await b.connect();
      const acks = await a.publishBatch([
        { subject: "augur.contexts.m1", payload: enc.encode("kept") },
        { subject: "augur.contexts.m2", payload: enc.encode("deleted") },
      ]);
      // A takes both and stops answering (a crashed or frozen replica).
      const subA = a.subscribe("augur.contexts.>", "ctx");
      const itA = subA[Symbol.asyncIterator]();
      await itA.next();
      await itA.next();
      // One of them is deleted from the stream before anyone acked it.
      await raw.xdel("augur:contexts", acks[1].position);
      const got: Delivery[] = [];
      const subB = b.subscribe("augur.contexts.>", "ctx");
      const loop = consume(subB, async (d) => {
        got.push(d);
        await d.ack();
      });
      await waitFor(() => got.length === 1, { timeoutMs: 10_000, message: "B reclaimed m1" });
      await waitFor(
        () =>
          counter(registry, "augur_bus_dropped_total", {
            topic: "contexts",
            consumer_group: "ctx",
            reason: "trimmed",
          }) === 1,
        { timeoutMs: 10_000, message: "the deleted entry is counted as dropped" },
      );
      assertEquals(dec.decode(got[0].payload), "kept");
      assertEquals(got[0].deliveryCount, 2);
      assertEquals(
        counter(registry, "augur_bus_reclaimed_total", {
          topic: "contexts",
          consumer_group: "ctx",
          state: "idle",
        }),
        1,
      );
      assert(
        logs.some((l) => l.includes("deleted from the stream before they were acked")),
        "the drop is logged",
      );
      assert(logs.some((l) => l.includes("reclaimed idle entries")), "the reclaim is logged");
      await waitFor(async () => (await b.pending("augur.contexts.>", "ctx")) === 0, {
        timeoutMs: 5000,
        message: "nothing left pending (m1 acked, m2 out of the pending list)",
      });
      await subB.stop();
      await loop.done;
      await subA.stop();
    } finally {
      raw.disconnect();
      await a.close();
      await b.close();
      await server.stop();
    }
  },
});

Deno.test({
  name: "redis bus: a volatile redis is refused unless allowVolatile",
  ...needs("redis"),
  async fn() {
    const server = await startRedis({ durable: false });
    try {
      const refused = makeBus(server);
      const error = await assertRejects(() => refused.connect(), ConfigError, "appendonly=no");
      assertEquals(error.exitCode, 2);
      assert(!error.message.includes("\n"), "one line");
      assertMatch(error.message, /allow_volatile/);
      await refused.close();

      const allowed = makeBus(server, { allowVolatile: true });
      await allowed.connect();
      const ack = await allowed.publish({ subject: "augur.signals", payload: enc.encode("x") });
      assertMatch(ack.position, /^\d+-\d+$/);
      await allowed.close();
    } finally {
      await server.stop();
    }
  },
});

Deno.test({
  name: "redis bus: unreachable server is one clear ConnectionError, fast, without the password",
  async fn() {
    const port = freePort();
    const bus = new RedisBus({
      url: `redis://:hunter2secret@127.0.0.1:${port}`,
      registry: new MetricsRegistry(),
      logger: quiet,
    });
    const started = Date.now();
    const error = await assertRejects(() => bus.connect(), ConnectionError, `127.0.0.1:${port}`);
    assert(Date.now() - started < 5000, "bounded: no endless retry at connect");
    assert(!error.message.includes("\n"), "one line");
    assert(!error.message.includes("hunter2secret"), "no secret in the message");
    assertMatch(error.message, /ECONNREFUSED/);
    await bus.close();
    await assertRejects(
      () => Promise.resolve(new RedisBus({ url: "http://nope", logger: quiet })),
      ConfigError,
      "redis://",
    );
  },
});
