/**
 * NatsBus against a real nats-server (JetStream): partition ownership through ordered
 * readers, redelivery of a dead consumer's unacked messages, a server kill + restart
 * mid-stream, poison payloads and bad connection settings.
 */

import { NatsBus, type NatsBusOptions } from "../../../../adapters/bus/nats_bus.ts";
import type { Delivery, OutgoingMessage } from "../../../../adapters/bus/types.ts";
import { readDeadLetter } from "../../../../adapters/bus/dead_letter.ts";
import { MetricsRegistry } from "../../../../adapters/observability/metrics.ts";
import { ConfigError, ConnectionError } from "../../../../config/errors.ts";
import { partitionOf } from "../../../../pipeline/partition.ts";
import { assert, assertEquals, assertMatch, assertRejects } from "../../../helpers/assert.ts";
import { startFaultProxy } from "../../../helpers/fault_proxy.ts";
import { freePort, needs, startNats } from "../../../helpers/servers.ts";
import { waitFor } from "../../../helpers/wait.ts";

const te = new TextEncoder();
const td = new TextDecoder();
const P = 16;

function bus(url: string, extra: Partial<NatsBusOptions> = {}): NatsBus {
  return new NatsBus({
    servers: [url],
    registry: new MetricsRegistry(),
    logger: quietLogger,
    ...extra,
  });
}

const quietLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return quietLogger;
  },
};

/** Collect deliveries of `sub` in the background with `handle`; returns a stopper. */
function pump(
  sub: AsyncIterable<Delivery>,
  handle: (d: Delivery) => Promise<void>,
): Promise<void> {
  return (async () => {
    for await (const d of sub) await handle(d);
  })();
}

function snapshot(i: number): OutgoingMessage {
  const market = `m${i % 997}`;
  const p = partitionOf(market, P);
  return {
    subject: `augur.snapshots.${String(p).padStart(2, "0")}.test.${market}`,
    payload: te.encode(JSON.stringify({ i, market, pad: "x".repeat(120) })),
    headers: { "Augur-Id": `snap:${i}`, "Augur-Key": market },
  };
}

Deno.test({
  name: "nats bus: 10,000 messages over 16 partitions, 4 replicas read exactly their partitions",
  ...needs("nats"),
  fn: async () => {
    const server = await startNats();
    const publisher = bus(server.url);
    const replicas = [0, 1, 2, 3].map(() => bus(server.url));
    try {
      await publisher.connect();
      for (const r of replicas) await r.connect();
      const total = 10_000;
      for (let start = 0; start < total; start += 500) {
        const batch = Array.from({ length: 500 }, (_, k) => snapshot(start + k));
        const acks = await publisher.publishBatch(batch);
        assert(acks.every((a) => !a.duplicate && a.stream === "augur_snapshots"));
      }
      const seen = replicas.map(() => new Set<number>());
      const duplicates: string[] = [];
      const wrongOwner: string[] = [];
      const subs = replicas.flatMap((r, i) =>
        Array.from({ length: P }, (_, p) => p).filter((p) => p % 4 === i).map((p) => {
          const sub = r.read(`augur.snapshots.${String(p).padStart(2, "0")}.>`, {
            from: { kind: "first" },
            batch: 256,
            worker: "feature",
          });
          pump(sub, (d) => {
            const { i: n, market } = JSON.parse(td.decode(d.payload));
            if (partitionOf(market, P) % 4 !== i) wrongOwner.push(`${n}@${i}`);
            if (seen[i].has(n)) duplicates.push(`${n}@${i}`);
            seen[i].add(n);
            return Promise.resolve();
          });
          return sub;
        })
      );
      await waitFor(() => seen.reduce((a, s) => a + s.size, 0) >= total, {
        timeoutMs: 30_000,
        message: "all messages read",
      });
      for (const s of subs) await s.stop();
      assertEquals(duplicates, []);
      assertEquals(wrongOwner, []);
      for (let i = 0; i < 4; i++) {
        const expected = new Set<number>();
        for (let n = 0; n < total; n++) {
          if (partitionOf(`m${n % 997}`, P) % 4 === i) expected.add(n);
        }
        assertEquals([...seen[i]].sort((a, b) => a - b), [...expected].sort((a, b) => a - b));
      }
    } finally {
      for (const r of replicas) await r.close();
      await publisher.close();
      await server.stop();
    }
  },
});

Deno.test({
  name: "nats bus: a cut consumer's unacked messages are all redelivered to the survivor",
  ...needs("nats"),
  fn: async () => {
    const server = await startNats();
    const proxy = await startFaultProxy(server.port);
    const doomed = bus(`nats://127.0.0.1:${proxy.port}`, { ackWaitMs: 1000 });
    const survivor = bus(server.url, { ackWaitMs: 1000 });
    try {
      await doomed.connect();
      await survivor.connect();
      const ids = Array.from({ length: 300 }, (_, i) => `sig:${i}`);
      await doomed.publishBatch(
        ids.map((id) => ({
          subject: "augur.signals",
          payload: te.encode(id),
          headers: { "Augur-Id": id },
        })),
      );
      // the doomed consumer takes messages and never acks them
      const held = new Set<string>();
      const doomedSub = doomed.subscribe("augur.signals", "context", { batch: 50 });
      pump(doomedSub, (d) => {
        held.add(td.decode(d.payload));
        return Promise.resolve();
      }).catch(() => {});
      await waitFor(() => held.size >= 40, { message: "doomed consumer holds messages" });
      await proxy.close(); // abrupt: the server sees the connection die, no acks ever arrive
      const done = new Set<string>();
      const survivorSub = survivor.subscribe("augur.signals", "context", { batch: 50 });
      pump(survivorSub, async (d) => {
        done.add(td.decode(d.payload));
        await d.ack();
      });
      await waitFor(() => done.size === ids.length, {
        timeoutMs: 20_000,
        message: `survivor processed all (${done.size}/${ids.length})`,
      });
      assert([...held].every((id) => done.has(id)), "every held message was redelivered");
      assertEquals([...done].sort(), [...ids].sort());
      await waitFor(async () => (await survivor.pending("augur.signals", "context")) === 0, {
        message: "nothing pending",
      });
      await survivorSub.stop();
      await doomedSub.stop();
    } finally {
      await doomed.close();
      await survivor.close();
      await server.stop();
    }
  },
});

Deno.test({
  name: "nats bus: server kill + restart mid-stream loses no acknowledged publish",
  ...needs("nats"),
  fn: async () => {
    const server = await startNats();
    const producer = bus(server.url, { publishTimeoutMs: 30_000 });
    const consumer = bus(server.url, { ackWaitMs: 2000 });
    try {
      await producer.connect();
      await consumer.connect();
      const acked = new Set<string>();
      const consumed = new Set<string>();
      const read = new Set<string>();
      await producer.publish({ subject: "augur.features.00.warmup", payload: te.encode("w") });
      const sub = consumer.subscribe("augur.features.>", "store", { batch: 64 });
      pump(sub, async (d) => {
        consumed.add(td.decode(d.payload));
        await d.ack();
      });
      const reader = consumer.read("augur.features.>", { from: { kind: "first" }, batch: 64 });
      pump(reader, (d) => {
        read.add(td.decode(d.payload));
        return Promise.resolve();
      });
      const total = 1500;
      const publishing = (async () => {
        for (let start = 0; start < total; start += 25) {
          const batch = Array.from({ length: 25 }, (_, k) => {
            const id = `f:${start + k}`;
            return {
              subject: `augur.features.${String((start + k) % 16).padStart(2, "0")}.m`,
              payload: te.encode(id),
              headers: { "Augur-Id": id },
            };
          });
          await producer.publishBatch(batch);
          for (const m of batch) acked.add(td.decode(m.payload));
        }
      })();
      await waitFor(() => acked.size >= 300, { message: "publishing started" });
      await server.kill();
      await server.restart();
      await publishing;
      assertEquals(acked.size, total);
      await waitFor(() => [...acked].every((id) => consumed.has(id)), {
        timeoutMs: 30_000,
        message: `durable consumed every acked publish (${consumed.size})`,
      });
      await waitFor(() => [...acked].every((id) => read.has(id)), {
        timeoutMs: 30_000,
        message: `ordered reader saw every acked publish (${read.size})`,
      });
      await sub.stop();
      await reader.stop();
    } finally {
      await producer.close();
      await consumer.close();
      await server.stop();
    }
  },
});

Deno.test({
  name: "nats bus: poison payload is dead-lettered with reason headers, the rest flows",
  ...needs("nats"),
  fn: async () => {
    const server = await startNats();
    const registry = new MetricsRegistry();
    const b = bus(server.url, { registry, nakDelayMs: 0 });
    try {
      await b.connect();
      const messages = Array.from({ length: 50 }, (_, i) => ({
        subject: "augur.features.03.m1",
        payload: te.encode(i === 10 ? "{not json" : JSON.stringify({ i })),
        headers: { "Augur-Id": `feat:${i}` },
      }));
      await b.publishBatch(messages);
      const ok = new Set<number>();
      const sub = b.subscribe("augur.features.>", "detector", { worker: "detector" });
      pump(sub, async (d) => {
        try {
          ok.add(JSON.parse(td.decode(d.payload)).i);
          await d.ack();
        } catch (e) {
          await d.deadLetter(`decode: ${(e as Error).message}`);
        }
      });
      await waitFor(() => ok.size === 49, { message: "49 good messages processed" });
      // a message nak'd on every delivery is dead-lettered by the bus after maxDeliver
      await b.publish({ subject: "augur.candidates.01.x", payload: te.encode("again") });
      const nakSub = b.subscribe("augur.candidates.>", "retry", { maxDeliver: 2, worker: "mm" });
      let naks = 0;
      pump(nakSub, async (d) => {
        naks++;
        await d.nak(0);
      });
      const dead: Delivery[] = [];
      const dlq = b.read("augur.ops.dlq", { from: { kind: "first" } });
      pump(dlq, (d) => {
        dead.push(d);
        return Promise.resolve();
      });
      await waitFor(() => dead.length === 2, { message: "two dead letters" });
      const poison = readDeadLetter(dead[0].headers)!;
      assertMatch(poison.reason, /^decode: /);
      assertEquals(poison.sourceSubject, "augur.features.03.m1");
      assertEquals(poison.worker, "detector");
      assertEquals(poison.deliveryCount, 1);
      assertEquals(td.decode(dead[0].payload), "{not json");
      const exhausted = readDeadLetter(dead[1].headers)!;
      assertMatch(exhausted.reason, /^max_deliver/);
      assertEquals(exhausted.deliveryCount, 2);
      assertEquals(exhausted.worker, "mm");
      assertEquals(naks, 2);
      assertEquals([...ok].sort((a, b) => a - b), [...Array(50).keys()].filter((i) => i !== 10));
      const dl = registry.get("augur_bus_dead_letter_total")!;
      assertEquals((dl as { get(l: object): number }).get({ reason: "decode" }), 1);
      assertEquals((dl as { get(l: object): number }).get({ reason: "max_deliver" }), 1);
      for (const s of [sub, nakSub, dlq]) await s.stop();
    } finally {
      await b.close();
      await server.stop();
    }
  },
});

Deno.test({
  name: "nats bus: unreachable server and bad credentials fail with one clear line",
  ...needs("nats"),
  fn: async () => {
    const port = freePort();
    const unreachable = bus(`nats://127.0.0.1:${port}`, { connectTimeoutMs: 1000 });
    const e = await assertRejects(() => unreachable.connect(), ConnectionError);
    assertMatch(e.message, new RegExp(`^nats: cannot connect to nats://127\\.0\\.0\\.1:${port}: `));
    assert(!e.message.includes("\n"), "one line");
    const missing = bus(`nats://127.0.0.1:${port}`, { credentialsFile: "/nonexistent/x.creds" });
    const m = await assertRejects(() => missing.connect(), ConfigError);
    assertMatch(m.message, /^nats: cannot read credentials file "\/nonexistent\/x.creds"/);
    const garbage = await Deno.makeTempFile({ suffix: ".creds" });
    try {
      await Deno.writeTextFile(garbage, "not a creds file");
      const g = await assertRejects(
        () => bus(`nats://127.0.0.1:${port}`, { credentialsFile: garbage }).connect(),
        ConfigError,
      );
      assert(!g.message.includes("\n") && g.message.includes("expected a NATS .creds file"));
    } finally {
      await Deno.remove(garbage);
    }
  },
});
