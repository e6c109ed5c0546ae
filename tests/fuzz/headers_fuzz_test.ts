/**
 * Fuzz: message headers — random header maps through the memory bus (exact round trip),
 * dead-letter headers (one-line reason, original headers kept), tick-marker detection, and
 * the real Redis Streams and NATS JetStream backends (exact round trip, or a rejected publish
 * that stores nothing — never a silently changed or injected header).
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { Fuzz, fuzzPlan, FuzzTally } from "../helpers/fuzz.ts";
import { needs, startNats, startRedis } from "../helpers/servers.ts";
import { MemoryBus } from "../../adapters/bus/memory_bus.ts";
import { RedisBus } from "../../adapters/bus/redis_bus.ts";
import { NatsBus } from "../../adapters/bus/nats_bus.ts";
import { deadLetterMessage, readDeadLetter } from "../../adapters/bus/dead_letter.ts";
import { type EventBus, HEADER, type Headers } from "../../adapters/bus/types.ts";
import { isTickMarker, TICK_HEADER } from "../../runtime/stages/tick_marker.ts";
import { MetricsRegistry } from "../../adapters/observability/metrics.ts";
import { createLogger } from "../../adapters/observability/logger.ts";

const quiet = createLogger({ sink: () => {} });
const TOKEN = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** A header name: a valid token most of the time, else anything. */
function headerName(f: Fuzz, tokensOnly: boolean): string {
  if (tokensOnly || f.chance(0.7)) {
    const n = 1 + f.int(20);
    return Array.from({ length: n }, () => TOKEN[f.int(TOKEN.length)]).join("");
  }
  return f.pick([HEADER.id, HEADER.key, HEADER.reason, TICK_HEADER, "Nats-Msg-Id", f.string()]);
}

/** Well-formed UTF-16 (lone surrogates cannot travel as UTF-8). */
function wellFormed(s: string): string {
  return s.replace(/[\ud800-\udfff]/g, (c, i, all) => {
    const code = c.charCodeAt(0);
    const next = all.charCodeAt(i + 1);
    const prev = all.charCodeAt(i - 1);
    if (code < 0xdc00 && next >= 0xdc00 && next <= 0xdfff) return c;
    if (code >= 0xdc00 && prev >= 0xd800 && prev < 0xdc00) return c;
    return "?";
  });
}

function headerMap(f: Fuzz, tokensOnly: boolean): Headers {
  const out: Record<string, string> = {};
  const n = f.int(6);
  for (let i = 0; i < n; i++) {
    const name = headerName(f, tokensOnly);
    if (name === "__proto__") continue;
    out[name] = f.chance(0.2) ? "x".repeat(f.int(5000)) : f.string();
  }
  return out;
}

Deno.test("fuzz headers: memory bus round trip, dead letters and tick-marker detection", async () => {
  const plan = fuzzPlan("headers", { seed: 0x5eed_0501, cases: 3000 });
  const f = new Fuzz(plan.seed);
  const bus = new MemoryBus({ capacity: 100_000, registry: new MetricsRegistry(), logger: quiet });
  await bus.connect();
  const sent: Headers[] = [];
  const tally = new FuzzTally();
  for (let i = 0; i < plan.cases; i++) {
    const headers = headerMap(f, false);
    sent.push(headers);
    await bus.publish({ subject: "augur.signals", payload: new Uint8Array([i & 255]), headers });
    // Dead letter of a message carrying these headers.
    const reason = f.pick(["decode", "transform", "max_deliver: x"]) + f.string();
    const count = f.pick([1, 5, 0, 2 ** 31]);
    const dl = deadLetterMessage(
      { subject: "augur.signals", payload: new Uint8Array(), headers, deliveryCount: count },
      { reason, worker: "w", prefix: "augur" },
    );
    assertEquals(dl.subject, "augur.ops.dlq");
    const h = dl.headers!;
    assert(!/[\r\n]/.test(h[HEADER.reason]) && h[HEADER.reason].length <= 512);
    assertEquals(h["Nats-Msg-Id"], undefined);
    if (headers[HEADER.id] !== undefined) assert(h[HEADER.id].startsWith("dlq:"));
    for (const [k, v] of Object.entries(headers)) {
      if (
        ![
          HEADER.id,
          HEADER.reason,
          HEADER.sourceSubject,
          HEADER.worker,
          HEADER.deliveryCount,
          "Nats-Msg-Id",
          "Augur-Source-Position",
        ].includes(k)
      ) {
        assertEquals(h[k], v, `dead letter lost header ${JSON.stringify(k)}`);
      }
    }
    const info = readDeadLetter(h)!;
    assertEquals(info.deliveryCount, count);
    assertEquals(isTickMarker(headers), headers[TICK_HEADER] !== undefined);
    tally.add(headers[TICK_HEADER] !== undefined ? "marker" : "plain");
  }
  const got: Headers[] = [];
  const sub = bus.read("augur.signals", { from: { kind: "first" } });
  for await (const d of sub) {
    got.push(d.headers);
    if (got.length === sent.length) break;
  }
  await sub.stop();
  await bus.close();
  assertEquals(got, sent);
  console.log(tally.summary("headers"));
});

/** Publish random headers on `bus`, read them back: exact, or the publish was rejected. */
async function roundTrip(
  bus: EventBus,
  f: Fuzz,
  cases: number,
  /** Whether the backend can carry the headers (null: either outcome is fine). */
  valid: (headers: Headers) => boolean | null,
): Promise<FuzzTally> {
  const tally = new FuzzTally();
  const accepted: Headers[] = [];
  for (let i = 0; i < cases; i++) {
    const raw = headerMap(f, f.chance(0.7));
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(raw)) {
      if (k === "Nats-Msg-Id" || k === HEADER.id) continue; // dedup ids tested elsewhere
      headers[wellFormed(k)] = wellFormed(v);
    }
    headers["Fuzz-Seq"] = String(i);
    let error: unknown = null;
    try {
      await bus.publish({ subject: "augur.signals", payload: new Uint8Array([1]), headers });
    } catch (e) {
      error = e;
    }
    if (error === null) {
      assert(
        valid(headers) !== false,
        `accepted headers that cannot travel: ${JSON.stringify(headers)}`,
      );
      accepted.push(headers);
      tally.add("accepted");
    } else {
      assert(
        valid(headers) !== true,
        `rejected valid headers ${JSON.stringify(headers)}: ${error}`,
      );
      assert(error instanceof Error);
      tally.add("rejected");
    }
  }
  const got: Headers[] = [];
  const sub = bus.read("augur.signals", { from: { kind: "first" } });
  for await (const d of sub) {
    got.push(d.headers);
    if (got.length === accepted.length) break;
  }
  await sub.stop();
  assertEquals(got.length, accepted.length);
  for (let i = 0; i < got.length; i++) {
    const { ["Nats-Msg-Id"]: _ignored, ...rest } = got[i];
    assertEquals(rest, accepted[i], `headers changed in transit (case ${accepted[i]["Fuzz-Seq"]})`);
  }
  return tally;
}

Deno.test({
  name: "fuzz headers: Redis Streams round trip is exact",
  ...needs("redis"),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const plan = fuzzPlan("headers_redis", { seed: 0x5eed_0502, cases: 600 });
    const server = await startRedis();
    const bus = new RedisBus({
      url: server.url,
      partitions: 4,
      registry: new MetricsRegistry(),
      logger: quiet,
    });
    try {
      await bus.connect();
      const tally = await roundTrip(bus, new Fuzz(plan.seed), plan.cases, () => true);
      console.log(tally.summary("headers_redis"));
      assertEquals(tally.total, plan.cases);
    } finally {
      await bus.close();
      await server.stop();
    }
  },
});

/**
 * NATS headers: token names, values without CR/LF and without edge whitespace (the client
 * trims it), under the server's 64 KiB header limit.
 */
function natsValid(headers: Headers): boolean | null {
  const ok = Object.entries(headers).every(([k, v]) =>
    /^[\x21-\x39\x3b-\x7e]+$/.test(k) && !/[\r\n]/.test(v) && v === v.trim()
  );
  if (!ok) return false;
  const size = new TextEncoder().encode(JSON.stringify(headers)).length;
  return size < 50_000 ? true : size > 70_000 ? false : null;
}

Deno.test({
  name: "fuzz headers: NATS JetStream round trip is exact or the publish is rejected",
  ...needs("nats"),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const plan = fuzzPlan("headers_nats", { seed: 0x5eed_0503, cases: 600 });
    const server = await startNats();
    const bus = new NatsBus({
      servers: [server.url],
      registry: new MetricsRegistry(),
      logger: quiet,
    });
    try {
      await bus.connect();
      const tally = await roundTrip(bus, new Fuzz(plan.seed), plan.cases, natsValid);
      console.log(tally.summary("headers_nats"));
      assertEquals(tally.total, plan.cases);
    } finally {
      await bus.close();
      await server.stop();
    }
  },
});
