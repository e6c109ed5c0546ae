import { assert, assertEquals, assertNotEquals } from "../../../helpers/assert.ts";
import {
  defaultScenario,
  Prng,
  simMarketId,
  SimulatorSource,
  simulatorWatchlist,
} from "../../../../adapters/markets/simulator.ts";
import { VirtualClock } from "../../../../adapters/markets/clock.ts";
import type { Tick } from "../../../../adapters/markets/source.ts";
import { type SnapshotMessage, SnapshotMessageSchema } from "../../../../pipeline/models.ts";

async function run(options: ConstructorParameters<typeof SimulatorSource>[0]): Promise<Tick[]> {
  const out: Tick[] = [];
  for await (const t of new SimulatorSource(options)) out.push(t);
  return out;
}

/** Per-market message series over a 13-h run of the default scenario (cached). */
let cache: Map<string, SnapshotMessage[]> | null = null;
async function series(): Promise<Map<string, SnapshotMessage[]>> {
  if (cache) return cache;
  cache = new Map();
  for (const t of await run({ seed: 42, markets: 6, ticks: 13 * 60 })) {
    for (const m of t.messages) {
      const list = cache.get(m.snapshot.market_id) ?? [];
      list.push(m);
      cache.set(m.snapshot.market_id, list);
    }
  }
  return cache;
}
const H = 3600;
const at = (list: SnapshotMessage[], s: number) => list[Math.round(s / 60)];

Deno.test("simulator: same seed ⇒ identical bytes; another seed differs", async () => {
  const a = JSON.stringify(await run({ seed: 9, markets: 5, ticks: 50 }));
  const b = JSON.stringify(await run({ seed: 9, markets: 5, ticks: 50 }));
  const c = JSON.stringify(await run({ seed: 10, markets: 5, ticks: 50 }));
  assertEquals(a, b);
  assertNotEquals(a, c);
  // adding markets leaves the existing ones unchanged
  const few = (await run({ seed: 9, markets: 2, ticks: 10 })).flatMap((t) => t.messages);
  const many = (await run({ seed: 9, markets: 8, ticks: 10 })).flatMap((t) => t.messages)
    .filter((m) => m.snapshot.market_id < simMarketId(2));
  assertEquals(JSON.stringify(few), JSON.stringify(many));
});

Deno.test("simulator: PRNG is uniform-ish and deterministic", () => {
  const a = new Prng(1);
  const b = new Prng(1);
  let sum = 0;
  for (let i = 0; i < 10_000; i++) {
    const x = a.next();
    assertEquals(x, b.next());
    assert(x >= 0 && x < 1);
    sum += x;
  }
  assert(Math.abs(sum / 10_000 - 0.5) < 0.02);
});

Deno.test("simulator: valid SnapshotMessages on both platforms, prices in (0,1), sorted books", async () => {
  const ticks = await run({ seed: 3, markets: 4, ticks: 30 });
  assertEquals(ticks.length, 60);
  assertEquals(new Set(ticks.map((t) => t.platform)), new Set(["polymarket", "kalshi"]));
  for (const t of ticks) {
    for (const m of t.messages) {
      SnapshotMessageSchema.parse(m);
      assertEquals(m.now, t.T);
      const s = m.snapshot;
      assert(s.last_price > 0 && s.last_price < 1);
      assert(s.bid! < s.ask!, "uncrossed");
      assert(m.book!.bids.every((l, i) => i === 0 || m.book!.bids[i - 1][0] > l[0]));
      assert(m.book!.asks.every((l, i) => i === 0 || m.book!.asks[i - 1][0] < l[0]));
      assert(m.trades.every((tr) => tr.timestamp > t.T - 60_000_000 && tr.timestamp <= t.T));
      assert(s.volume_24h > 0 && s.liquidity > 0);
    }
  }
  const { markets, relationships } = simulatorWatchlist({ markets: 4 });
  assertEquals(markets.map((m) => m.platform), ["polymarket", "kalshi", "polymarket", "kalshi"]);
  assertEquals(relationships.map((r) => [r.market_a, r.market_b]), [["sim-00", "sim-01"], [
    "sim-02",
    "sim-03",
  ]]);
});

Deno.test("simulator: scripted news jump and volume spike are visible", async () => {
  const s = await series();
  const jump = defaultScenario().find((e) => e.kind === "news_jump" && e.market === "sim-00")!;
  const m0 = s.get("sim-00")!;
  const before = at(m0, jump.at_s - 60).snapshot.last_price;
  const after = at(m0, jump.at_s).snapshot.last_price;
  assert(after - before > 0.1, `jump ${before} → ${after}`);
  const m2 = s.get("sim-02")!;
  const growth = (a: number, b: number) =>
    at(m2, b).snapshot.volume_24h - at(m2, a).snapshot.volume_24h;
  assert(
    growth(5 * H, 5.5 * H) > 3 * Math.abs(growth(4 * H, 4.5 * H)) + 1,
    "spike raises 24-h volume",
  );
});

Deno.test("simulator: book imbalance, volatility regime and divergence are visible", async () => {
  const s = await series();
  const m3 = s.get("sim-03")!;
  const r = (msg: SnapshotMessage) => msg.bid_depth! / msg.ask_depth!;
  assert(r(at(m3, 5 * H)) > 3, `imbalance ${r(at(m3, 5 * H))}`);
  assert(r(at(m3, 3 * H)) < 2.5 && r(at(m3, 7 * H)) < 2.5);
  const m4 = s.get("sim-04")!;
  const sd = (a: number, b: number) => {
    const xs = m4.slice(a / 60, b / 60).map((m) =>
      Math.log(m.snapshot.last_price / (1 - m.snapshot.last_price))
    );
    const d = xs.slice(1).map((x, i) => x - xs[i]);
    const mean = d.reduce((p, q) => p + q, 0) / d.length;
    return Math.sqrt(d.reduce((p, q) => p + (q - mean) ** 2, 0) / d.length);
  };
  assert(
    sd(8 * H, 12 * H) > 2.5 * sd(4 * H, 8 * H),
    `σ ${sd(4 * H, 8 * H)} → ${sd(8 * H, 12 * H)}`,
  );
  const m0 = s.get("sim-00")!;
  const m1 = s.get("sim-01")!;
  const gap = (t: number) => at(m1, t).snapshot.last_price - at(m0, t).snapshot.last_price;
  assert(gap(11 * H) - gap(9.5 * H) > 0.07, `gap ${gap(9.5 * H)} → ${gap(11 * H)}`);
});

Deno.test("simulator: realtime pace sleeps on the injected clock; close() stops", async () => {
  const clock = new VirtualClock(0);
  const sim = new SimulatorSource({
    seed: 1,
    markets: 2,
    pace: "realtime",
    clock,
    tickSeconds: 15,
  });
  let n = 0;
  for await (const _ of sim) {
    if (++n === 6) await sim.close();
  }
  assertEquals(n, 6);
  assertEquals(clock.sleeps, [15000, 15000]);
});
