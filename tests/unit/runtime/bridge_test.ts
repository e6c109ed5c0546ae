import { assert, assertEquals } from "../../helpers/assert.ts";
import { waitFor } from "../../helpers/wait.ts";
import { MemoryBus } from "../../../adapters/bus/memory_bus.ts";
import { MetricsRegistry } from "../../../adapters/observability/metrics.ts";
import { createLogger } from "../../../adapters/observability/logger.ts";
import { runBridge } from "../../../runtime/bridge.ts";
import type { Delivery } from "../../../adapters/bus/types.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const quiet = createLogger({ sink: () => {} });

async function setup() {
  const registry = new MetricsRegistry();
  const bus = new MemoryBus({ capacity: 100_000, registry, logger: quiet });
  await bus.connect();
  const seen = (subject: string) => {
    const got: Delivery[] = [];
    const sub = bus.read(subject, { from: { kind: "first" } });
    (async () => {
      for await (const d of sub) got.push(d);
    })();
    return { got, stop: () => sub.stop() };
  };
  return { registry, bus, seen };
}

Deno.test("bridge: per-key order, outputs published before the ack, processed counted", async () => {
  const { registry, bus, seen } = await setup();
  const out = seen("augur.contexts");
  for (let i = 0; i < 200; i++) {
    await bus.publish({
      subject: "augur.signals",
      payload: enc.encode(String(i)),
      headers: { "Augur-Key": `k${i % 5}` },
    });
  }
  const abort = new AbortController();
  const order = new Map<string, number[]>();
  const running = runBridge(bus, {
    decode: (d) => Number(dec.decode(d.payload)),
    transform: async (n, d) => {
      await new Promise((r) => setTimeout(r, n % 3)); // uneven work: order must still hold per key
      const key = d.headers["Augur-Key"];
      order.set(key, [...(order.get(key) ?? []), n]);
      return [{ subject: "augur.contexts", payload: enc.encode(`c${n}`) }];
    },
  }, {
    pattern: "augur.signals",
    group: "context",
    worker: "context",
    signal: abort.signal,
    registry,
    logger: quiet,
    maxInFlight: 8,
  });
  await waitFor(() => out.got.length >= 200);
  abort.abort();
  await running;
  for (const [key, values] of order) {
    assertEquals(values, [...values].sort((a, b) => a - b), `order of ${key}`);
  }
  assertEquals(new Set(out.got.map((d) => dec.decode(d.payload))).size, 200);
  assertEquals(
    registry.counter("augur_worker_processed_total", "", ["kind"]).get({ kind: "context" }),
    200,
  );
  assertEquals(await bus.pending("augur.signals", "context"), 0);
  await out.stop();
  await bus.close();
});

Deno.test("bridge: undecodable → dead letter; failing transform retried then dead-lettered", async () => {
  const { registry, bus, seen } = await setup();
  const dlq = seen("augur.ops.dlq");
  const out = seen("augur.contexts");
  for (const v of ["1", "oops", "fail", "2"]) {
    await bus.publish({ subject: "augur.signals", payload: enc.encode(v) });
  }
  let attempts = 0;
  const abort = new AbortController();
  const running = runBridge(bus, {
    decode: (d) => {
      const text = dec.decode(d.payload);
      if (text === "oops") throw new Error("not JSON");
      return text;
    },
    transform: (text) => {
      if (text === "fail") {
        attempts++;
        throw new Error("downstream broken");
      }
      return [{ subject: "augur.contexts", payload: enc.encode(text) }];
    },
  }, {
    pattern: "augur.signals",
    group: "context",
    worker: "context",
    signal: abort.signal,
    registry,
    logger: quiet,
    maxRetries: 3,
    retryBackoffMs: [1],
  });
  await waitFor(() => dlq.got.length >= 2 && out.got.length >= 2);
  abort.abort();
  await running;
  assertEquals(attempts, 3);
  assertEquals(dlq.got.map((d) => d.headers["Augur-Reason"]).sort(), ["decode", "transform"]);
  assertEquals(out.got.map((d) => dec.decode(d.payload)), ["1", "2"]);
  assert(
    registry.expose().includes('augur_worker_retries_total{kind="context",stage="transform"} 2'),
  );
  await dlq.stop();
  await out.stop();
  await bus.close();
});
