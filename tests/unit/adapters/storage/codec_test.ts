import {
  DigestAccumulator,
  prepareBatch,
  stableJson,
  TICK_CODEC,
  tradeKey,
  utcDay,
} from "../../../../adapters/storage/codec.ts";
import { withRetry } from "../../../../adapters/storage/retry.ts";
import { StoreUnavailableError } from "../../../../adapters/storage/types.ts";
import { MetricsRegistry } from "../../../../adapters/observability/metrics.ts";
import { createLogger } from "../../../../adapters/observability/logger.ts";
import { assertEquals, assertNotEquals, assertRejects } from "../../../helpers/assert.ts";

Deno.test("stableJson sorts keys at every level and round-trips numbers", () => {
  assertEquals(
    stableJson({ b: 1, a: { d: [0.1, null], c: 'ü"' } }),
    '{"a":{"c":"ü\\"","d":[0.1,null]},"b":1}',
  );
  assertEquals(JSON.parse(stableJson({ x: 0.020000000000000018 })).x, 0.020000000000000018);
});

/** The sorting serializer stableJson must always agree with (its slow path, spelled out). */
function referenceJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return "[" + value.map(referenceJson).join(",") + "]";
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return "{" +
    keys.filter((k) => record[k] !== undefined).map((k) =>
      JSON.stringify(k) + ":" + referenceJson(record[k])
    ).join(",") + "}";
}

Deno.test("stableJson equals the sorting serializer on in-order and out-of-order values", () => {
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const keyPool = ["a", "b", "id", "Z", "ü", "10", "9", "0", "__proto_", "toJSONx", "é", "😀", ""];
  const make = (depth: number): unknown => {
    const r = rand();
    if (depth > 3 || r < 0.3) {
      return [0.1, -0, 1e21, 's"q', null, true, undefined, 42, NaN, "✓"][Math.floor(rand() * 10)];
    }
    if (r < 0.55) return Array.from({ length: Math.floor(rand() * 4) }, () => make(depth + 1));
    const keys = keyPool.filter(() => rand() < 0.35);
    if (rand() < 0.5) keys.sort(); // often already in order: the fast path
    const out: Record<string, unknown> = {};
    for (const k of keys) out[k] = make(depth + 1);
    return out;
  };
  for (let i = 0; i < 3000; i++) {
    const value = make(0);
    assertEquals(stableJson(value), referenceJson(value), JSON.stringify(value));
  }
  // Values whose native serialization differs: toJSON, class instances, symbols, functions.
  const odd = [
    { a: new Date(0) },
    { a: { toJSON: () => 1 } },
    Object.assign([1], { toJSON: () => "x" }),
    { a: Symbol("s"), b: 1 },
    { a: () => 1, b: 1 },
    { a: new Map([[1, 2]]) },
    { 2: "x", 10: "y" },
    Object.assign(Object.create(null), { b: 1, a: 2 }),
  ];
  for (const value of odd) assertEquals(stableJson(value), referenceJson(value));
});

Deno.test("prepareBatch dedupes on the key (last wins) and sorts by key", () => {
  const rows = prepareBatch(TICK_CODEC, [
    { platform: "polymarket", t: 2, announced: 1 },
    { platform: "kalshi", t: 10, announced: 1 },
    { platform: "kalshi", t: 9, announced: 1 },
    { platform: "polymarket", t: 2, announced: 7 },
  ]);
  assertEquals(rows, [["kalshi", 9, 1], ["kalshi", 10, 1], ["polymarket", 2, 7]]);
});

Deno.test("trade key: id when known, else a content hash", () => {
  const t = {
    market_id: "m",
    platform: "kalshi" as const,
    timestamp: 1,
    price: 0.5,
    size: 1,
    side: "buy",
    counterparty: null,
  };
  assertEquals(tradeKey({ ...t, trade_id: "abc" }), "id:abc");
  assertEquals(tradeKey({ ...t, trade_id: null }), tradeKey({ ...t, trade_id: null }));
  assertNotEquals(tradeKey({ ...t, trade_id: null }), tradeKey({ ...t, size: 2, trade_id: null }));
});

Deno.test("digest is order-independent and per (market, UTC day)", () => {
  const day = 86_400_000_000;
  const a = new DigestAccumulator("snapshots");
  const b = new DigestAccumulator("snapshots");
  const recs = [{ v: 1 }, { v: 2 }, { v: 3 }];
  recs.forEach((r, i) => a.add("m", i * 1000, r));
  [...recs].reverse().forEach((r, i) => b.add("m", (2 - i) * 1000, r));
  b.add("m", day, { v: 4 });
  const ra = a.result(), rb = b.result();
  assertEquals(rb[0], ra[0]);
  assertEquals(rb.map((g) => [g.day, g.count]), [["1970-01-01", 3], ["1970-01-02", 1]]);
  assertEquals(ra[0].digest.length, 16);
  assertEquals(utcDay(day - 1), "1970-01-01");
});

Deno.test("withRetry retries StoreUnavailableError with backoff, counts, then gives up", async () => {
  const registry = new MetricsRegistry();
  const logger = createLogger({ sink: () => {} });
  let calls = 0;
  const value = await withRetry(() => {
    calls++;
    if (calls < 3) throw new StoreUnavailableError("gone");
    return Promise.resolve("ok");
  }, { operation: "x", backoffMs: [1], registry, logger });
  assertEquals([value, calls], ["ok", 3]);
  assertEquals(
    registry.counter("augur_db_retries_total", "", ["operation"]).get({ operation: "x" }),
    2,
  );
  await assertRejects(
    () =>
      withRetry(() => Promise.reject(new TypeError("bug")), { operation: "y", registry, logger }),
    TypeError,
  );
  calls = 0;
  await assertRejects(
    () =>
      withRetry(() => {
        calls++;
        throw new StoreUnavailableError("down");
      }, { operation: "z", attempts: 2, backoffMs: [1], registry, logger }),
    StoreUnavailableError,
  );
  assertEquals(calls, 2);
});
