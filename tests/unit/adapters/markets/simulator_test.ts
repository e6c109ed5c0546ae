import { assert, assertEquals, assertNotEquals } from "../../../helpers/assert.ts";
import {
  DEFAULT_SCENARIO_SECONDS,
  defaultScenario,
  Prng,
  type SimEvent,
  simMarketId,
  simMarketStyle,
  SIMULATOR_TICK_SECONDS,
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

/** Per-market message series over the default scenario's run (cached; 300-s ticks). */
let cache: Map<string, SnapshotMessage[]> | null = null;
async function series(): Promise<Map<string, SnapshotMessage[]>> {
  if (cache) return cache;
  cache = new Map();
  const ticks = Math.ceil(DEFAULT_SCENARIO_SECONDS / SIMULATOR_TICK_SECONDS);
  for (const t of await run({ seed: 42, markets: 12, ticks })) {
    for (const m of t.messages) {
      const list = cache.get(m.snapshot.market_id) ?? [];
      list.push(m);
      cache.set(m.snapshot.market_id, list);
    }
  }
  return cache;
}
const at = (list: SnapshotMessage[], s: number) => list[Math.round(s / SIMULATOR_TICK_SECONDS)];
const prices = (list: SnapshotMessage[], from: number, to: number) =>
  list.slice(Math.round(from / SIMULATOR_TICK_SECONDS), Math.round(to / SIMULATOR_TICK_SECONDS))
    .map((m) => m.snapshot.last_price);
const eventOf = <K extends SimEvent["kind"]>(kind: K, market: string) =>
  defaultScenario().find((e) => e.kind === kind && e.market === market) as Extract<
    SimEvent,
    { kind: K }
  >;

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
      assert(
        m.trades.every((tr) =>
          tr.timestamp > t.T - SIMULATOR_TICK_SECONDS * 1_000_000 && tr.timestamp <= t.T
        ),
      );
      assertEquals(
        m.trades[m.trades.length - 1].price,
        s.last_price,
        "the last trade is the print",
      );
      assert(s.volume_24h > 0 && s.liquidity > 0);
    }
  }
  const { markets, relationships } = simulatorWatchlist({ markets: 4 });
  assertEquals(markets.map((m) => m.platform), ["polymarket", "kalshi", "polymarket", "kalshi"]);
  assertEquals(relationships.map((r) => [r.market_a, r.market_b, r.strength]), [
    ["sim-00", "sim-01", 1],
  ]);
  assertEquals(
    simulatorWatchlist({ markets: 12 }).relationships.map((r) => r.market_a),
    ["sim-00", "sim-06"],
  );
  assertEquals(
    Array.from({ length: 7 }, (_, i) => simMarketStyle(i, 7)),
    ["leader", "follower", "quiet", "active", "quiet", "active", "active"],
  );
});

Deno.test("simulator: quiet markets sit flat until their news jump, then at the new level", async () => {
  const s = await series();
  const jump = eventOf("news_jump", "sim-02");
  const m2 = s.get("sim-02")!;
  const before = prices(m2, 0, jump.at_s);
  const after = prices(m2, jump.at_s, DEFAULT_SCENARIO_SECONDS);
  assertEquals(new Set(before).size, 1, "flat before the jump");
  assertEquals(new Set(after).size, 1, "flat after the jump");
  assert(before[0] >= 0.2 && before[0] <= 0.5, `quiet level ${before[0]}`);
  assertEquals(Math.round((after[0] - before[0]) * 100), Math.round(jump.delta * 100));
});

Deno.test("simulator: a volume spike raises volume_24h fast; book imbalance skews depth", async () => {
  const s = await series();
  const spike = eventOf("volume_spike", "sim-05");
  const m5 = s.get("sim-05")!;
  const growth = (a: number, b: number) =>
    at(m5, b).snapshot.volume_24h - at(m5, a).snapshot.volume_24h;
  const t = spike.at_s;
  assert(growth(t, t + 1800) > 0.5 * at(m5, t).snapshot.volume_24h, "spike raises 24-h volume");
  assert(Math.abs(growth(t - 2100, t - 300)) < 0.05 * at(m5, t).snapshot.volume_24h, "calm before");
  const book = eventOf("book_imbalance", "sim-03");
  const m3 = s.get("sim-03")!;
  const share = (msg: SnapshotMessage) => msg.bid_depth! / (msg.bid_depth! + msg.ask_depth!);
  assert(share(at(m3, book.at_s + 600)) > 0.8, `imbalance ${share(at(m3, book.at_s + 600))}`);
  assert(
    share(at(m3, book.at_s - 600)) < 0.65 && share(at(m3, book.at_s + book.duration_s)) < 0.65,
  );
});

Deno.test("simulator: a volatility regime wakes a flat market; the cross-listed pair is locked until it diverges", async () => {
  const s = await series();
  const regime = eventOf("volatility_regime", "sim-04");
  const m4 = s.get("sim-04")!;
  assertEquals(new Set(prices(m4, 0, regime.at_s)).size, 1, "flat before the regime");
  assert(
    new Set(prices(m4, regime.at_s, regime.at_s + regime.duration_s)).size >= 4,
    "moving during the regime",
  );
  const div = eventOf("divergence", "sim-01");
  const lead = s.get(div.other)!;
  const follow = s.get(div.market)!;
  const gap = (i: number) =>
    Math.round((follow[i].snapshot.last_price - lead[i].snapshot.last_price) * 100);
  const first = Math.round(div.at_s / SIMULATOR_TICK_SECONDS);
  for (let i = 0; i < first; i++) assertEquals(gap(i), 1, `follower = leader + 1 cent at ${i}`);
  assert(new Set(prices(lead, 0, div.at_s)).size >= 3, "the leader moves");
  const full = first + Math.ceil(600 / SIMULATOR_TICK_SECONDS);
  assertEquals(gap(full), 1 + Math.round(div.gap * 100), "the gap opens within 10 min");
  assert(gap(first) > 1, "the gap starts at the event");
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

Deno.test("simulator: one platform's run is the same bytes as that platform in a run of both", async () => {
  const both = await run({ seed: 4, markets: 14, ticks: 40, eventEverySeconds: 900 });
  for (const platform of ["polymarket", "kalshi"] as const) {
    const own = await run({
      seed: 4,
      markets: 14,
      ticks: 40,
      eventEverySeconds: 900,
      platforms: [platform],
    });
    assertEquals(own.map((t) => t.platform), Array(40).fill(platform));
    assertEquals(
      JSON.stringify(own),
      JSON.stringify(both.filter((t) => t.platform === platform)),
      `${platform} alone`,
    );
  }
});

Deno.test("simulator: intervalMs paces ticks on a fixed schedule; a late consumer catches up", async () => {
  const clock = new VirtualClock(1_000);
  const sim = new SimulatorSource({ seed: 1, markets: 2, intervalMs: 250, clock, ticks: 8 });
  const seen: number[] = [];
  for await (const tick of sim) {
    if (tick.platform !== "polymarket") continue;
    seen.push(clock.now());
    // The consumer spends 100 ms on each tick, then 600 ms on the third (late by 2 ticks).
    await clock.sleep(seen.length === 3 ? 600 : 100);
  }
  // Due at 1 000 + k × 250: ticks 3–5 are overdue and come at once; tick 6 is on time again.
  assertEquals(seen, [1_000, 1_250, 1_500, 2_100, 2_200, 2_300, 2_500, 2_750]);
  // The consumer's sleeps (100, 600) and the schedule's (the rest of each 250 ms, none overdue).
  assertEquals(clock.sleeps, [100, 150, 100, 150, 600, 100, 100, 100, 100, 100, 150, 100]);
});

Deno.test("simulator: eventEverySeconds seeds book imbalances and volume bursts", async () => {
  const share = (m: SnapshotMessage) => m.bid_depth! / (m.bid_depth! + m.ask_depth!);
  const options = { seed: 5, markets: 12, ticks: 40, events: [] };
  const quiet = (await run(options)).flatMap((t) => t.messages);
  const seeded = (await run({ ...options, eventEverySeconds: 1800 })).flatMap((t) => t.messages);
  assertEquals(quiet.length, seeded.length);
  assert(quiet.every((m) => share(m) < 0.65), "no imbalance without events");
  const imbalanced = new Set(seeded.filter((m) => share(m) > 0.8).map((m) => m.snapshot.market_id));
  assert(imbalanced.size >= 2, `imbalanced markets: ${[...imbalanced]}`);
  const peak = (list: SnapshotMessage[], id: string) =>
    Math.max(...list.filter((m) => m.snapshot.market_id === id).map((m) => m.snapshot.volume_24h));
  const burst = simulatorWatchlist({ markets: 12 }).markets.filter((m) =>
    peak(seeded, m.id) > 1.5 * peak(quiet, m.id)
  );
  assert(burst.length >= 1, "a volume burst raises a market's 24-h volume");
  const again = (await run({ ...options, eventEverySeconds: 1800 })).flatMap((t) => t.messages);
  assertEquals(JSON.stringify(again), JSON.stringify(seeded), "seeded: reproducible");
});
