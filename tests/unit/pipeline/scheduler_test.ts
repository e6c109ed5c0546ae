import { assert, assertEquals } from "../../helpers/assert.ts";
import { PollingScheduler, type SchedulerEvent, type Tier } from "../../../pipeline/scheduler.ts";

const S = 1_000_000;
const H = 3600 * S;

function one(tier: Tier, extra: { closesAt?: number } = {}) {
  return new PollingScheduler("polymarket", [{ id: "m", pollPriority: tier, ...extra }], {
    now: 0,
    config: { capPerMinute: 1_000_000 },
  });
}

/** Tier after one successful poll at `now` with ratio r. */
function stepOnce(tier: Tier, r: number, opts: { closesAt?: number; signalAt?: number } = {}) {
  const s = one(tier, { closesAt: opts.closesAt });
  if (opts.signalAt !== undefined) s.recordSignal("m", opts.signalAt);
  s.recordSuccess("m", 10 * H, { volumeRatio1h: r });
  return s.market("m")!.tier;
}

Deno.test("scheduler: start tier follows poll_priority (normal ⇒ cool) and all are due at once", () => {
  const s = new PollingScheduler(
    "kalshi",
    [{ id: "a", pollPriority: "hot" }, { id: "b" }, { id: "c", pollPriority: "normal" }, {
      id: "d",
      pollPriority: "cold",
    }],
    { now: 5 },
  );
  assertEquals(["a", "b", "c", "d"].map((id) => s.market(id)!.tier), [
    "hot",
    "cool",
    "cool",
    "cold",
  ]);
  assertEquals(s.due(5), ["a", "b", "c", "d"]);
  assertEquals(s.due(4), []);
});

Deno.test("scheduler: every promotion edge of the hysteresis table (strict >)", () => {
  assertEquals(stepOnce("cold", 1.1), "cold");
  assertEquals(stepOnce("cold", 1.1001), "cool");
  assertEquals(stepOnce("cool", 1.5), "cool");
  assertEquals(stepOnce("cool", 1.5001), "warm");
  assertEquals(stepOnce("warm", 2.2), "warm");
  assertEquals(stepOnce("warm", 2.2001), "hot");
  assertEquals(stepOnce("hot", 100), "hot");
  assertEquals(stepOnce("cold", 100), "cool", "at most one step per tick");
});

Deno.test("scheduler: every demotion edge (strict <) and the hysteresis band", () => {
  assertEquals(stepOnce("cool", 0.9), "cool");
  assertEquals(stepOnce("cool", 0.8999), "cold");
  assertEquals(stepOnce("warm", 1.3), "warm");
  assertEquals(stepOnce("warm", 1.2999), "cool");
  assertEquals(stepOnce("hot", 1.8), "hot");
  assertEquals(stepOnce("hot", 1.7999), "warm");
  assertEquals(stepOnce("cold", 0.1), "cold");
  // inside the band nothing moves: warm stays for r in [1.3, 2.2]
  for (const r of [1.3, 1.8, 2.0, 2.2]) assertEquals(stepOnce("warm", r), "warm");
  // hot stays down to 1.8 even though promotion needed > 2.2
  assertEquals(stepOnce("hot", 1.9), "hot");
});

Deno.test("scheduler: close24 promotes cool and holds warm; signal memory holds hot for 4 h", () => {
  const now = 10 * H;
  assertEquals(stepOnce("cool", 1.0, { closesAt: now + 23 * H }), "warm");
  assertEquals(stepOnce("cool", 1.0, { closesAt: now + 25 * H }), "cool");
  assertEquals(stepOnce("cool", 1.0, { closesAt: now - 1 }), "cool", "already closed");
  assertEquals(stepOnce("warm", 1.0, { closesAt: now + H }), "warm", "close24 blocks demotion");
  assertEquals(stepOnce("warm", 1.0, { signalAt: now - 3 * H }), "hot");
  assertEquals(stepOnce("hot", 1.0, { signalAt: now - 4 * H }), "hot", "4 h inclusive");
  assertEquals(stepOnce("hot", 1.0, { signalAt: now - 4 * H - 1 }), "warm");
  assertEquals(stepOnce("warm", 1.0, { signalAt: now - 5 * H }), "cool");
});

Deno.test("scheduler: the new tier sets the next interval (15/30/60/300 s)", () => {
  const s = one("cool");
  s.recordSuccess("m", 0, { volumeRatio1h: 1.6 }); // → warm
  assertEquals(s.market("m")!.next_due_at, 30 * S);
  assertEquals(s.due(30 * S - 1), []);
  assertEquals(s.due(30 * S), ["m"]);
  s.recordSuccess("m", 30 * S, { volumeRatio1h: 3 }); // → hot
  assertEquals(s.market("m")!.next_due_at, 45 * S);
  s.observeFeatures("m", 0.5);
  s.recordSuccess("m", 45 * S); // hot → warm (r from observeFeatures)
  assertEquals([s.market("m")!.tier, s.market("m")!.next_due_at], ["warm", 75 * S]);
  const c = one("cold");
  c.recordSuccess("m", 0);
  assertEquals(c.market("m")!.next_due_at, 300 * S);
  assertEquals(c.nextDueAt(), 300 * S);
});

Deno.test("scheduler: 10 consecutive failures force cold, 50 remove with market_unreachable", () => {
  const s = one("hot");
  let events: SchedulerEvent[] = [];
  for (let i = 1; i <= 9; i++) events = s.recordFailure("m", i * S);
  assertEquals(s.market("m")!.tier, "hot");
  assertEquals(s.market("m")!.consecutive_failures, 9);
  events = s.recordFailure("m", 10 * S);
  assertEquals(s.market("m")!.tier, "cold");
  assertEquals(events[0].type, "tier_changed");
  assertEquals(s.market("m")!.next_due_at, 310 * S);
  // a success resets the counter
  s.recordSuccess("m", 11 * S);
  assertEquals(s.market("m")!.consecutive_failures, 0);
  for (let i = 1; i <= 49; i++) s.recordFailure("m", (100 + i) * S);
  assert(s.market("m") !== undefined);
  events = s.recordFailure("m", 200 * S);
  assertEquals(events, [{
    type: "market_unreachable",
    platform: "polymarket",
    market_id: "m",
    consecutive_failures: 50,
    at: 200 * S,
  }]);
  assertEquals(s.market("m"), undefined);
  assertEquals(s.due(1e15), []);
});

Deno.test("scheduler: repeated 404 delists; an intervening other failure resets the 404 streak", () => {
  const s = one("cool");
  s.recordFailure("m", 1, { notFound: true });
  s.recordFailure("m", 2, { notFound: true });
  s.recordFailure("m", 3); // 500: streak broken
  s.recordFailure("m", 4, { notFound: true });
  s.recordFailure("m", 5, { notFound: true });
  assert(s.market("m") !== undefined);
  const events = s.recordFailure("m", 6, { notFound: true });
  assertEquals(events, [{
    type: "market_delisted",
    platform: "polymarket",
    market_id: "m",
    at: 6,
  }]);
  assertEquals(s.ids(), []);
});

Deno.test("scheduler: budget pressure demotes hot markets lowest r first until < 0.70", () => {
  // 10 hot markets: 10 × 4 polls/min × 3 req = 120 req/min; cap 140 ⇒ 0.857 > 0.80
  const markets = Array.from(
    { length: 10 },
    (_, i) => ({ id: `m${i}`, pollPriority: "hot" as const }),
  );
  const s = new PollingScheduler("polymarket", markets, { now: 0, config: { capPerMinute: 140 } });
  markets.forEach((m, i) => s.observeFeatures(m.id, 3 + (i * 7) % 10)); // distinct r
  assert(s.utilization() > 0.8);
  const events = s.applyBudget(0);
  assertEquals(events[0].type, "rate_limit_pressure");
  assert(s.utilization() < 0.7, `utilization ${s.utilization()}`);
  const demoted = events.filter((e) => e.type === "tier_changed").map((e) =>
    (e as { market_id: string }).market_id
  );
  const byR = markets.map((m) => m.id).sort((a, b) => s.market(a)!.r - s.market(b)!.r);
  assertEquals(demoted, byR.slice(0, demoted.length));
  // demoting one fewer would not have reached < 0.70
  assert((120 - 2 * 3 * (demoted.length - 1)) / 140 >= 0.7);
  assertEquals(s.coldStretched, false);
  assertEquals(s.applyBudget(1), []); // no longer pressured
});

Deno.test("scheduler: still pressured after demoting every hot market ⇒ cold interval 600 s", () => {
  // 150 cold markets: 150 × 0.2 × 3 = 90 req/min on a cap of 100 ⇒ 0.9
  const markets = Array.from(
    { length: 150 },
    (_, i) => ({ id: `c${i}`, pollPriority: "cold" as const }),
  );
  const s = new PollingScheduler("kalshi", markets, { now: 0, config: { capPerMinute: 100 } });
  const events = s.applyBudget(0);
  assertEquals(events.map((e) => e.type), ["rate_limit_pressure"]);
  assertEquals(s.coldStretched, true);
  assertEquals(s.intervalS("cold"), 600);
  s.recordSuccess("c0", 0);
  assertEquals(s.market("c0")!.next_due_at, 600 * S);
  // remove markets until the normal interval fits again; the stretch is lifted
  for (let i = 20; i < 150; i++) s.remove(`c${i}`);
  s.applyBudget(1);
  assertEquals(s.coldStretched, false);
  assertEquals(s.intervalS("cold"), 300);
});

Deno.test("scheduler: a promotion that would exceed the planned budget is held", () => {
  // cap 20 req/min: 2 warm markets = 2 × 2 × 3 = 12 = 0.6; promoting one to hot ⇒ 18 = 0.9
  const s = new PollingScheduler("polymarket", [{ id: "a", pollPriority: "warm" }, {
    id: "b",
    pollPriority: "warm",
  }], { now: 0, config: { capPerMinute: 20 } });
  s.recordSuccess("a", 0, { volumeRatio1h: 5 });
  assertEquals(s.market("a")!.tier, "warm");
});

Deno.test("scheduler: outage sends every market cold; state round-trips", () => {
  const s = new PollingScheduler("polymarket", [{ id: "a", pollPriority: "hot" }, { id: "b" }], {
    now: 0,
  });
  s.recordSignal("a", 7);
  const events = s.recordOutage(9);
  assertEquals(events[0], { type: "platform_outage", platform: "polymarket", at: 9 });
  assertEquals(s.ids().map((id) => s.market(id)!.tier), ["cold", "cold"]);
  const restored = PollingScheduler.fromState(JSON.parse(JSON.stringify(s.state())));
  assertEquals(restored.state(), s.state());
});
