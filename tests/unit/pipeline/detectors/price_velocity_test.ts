import { PriceVelocityDetector } from "../../../../pipeline/detectors/price_velocity.ts";
import { MarketSignalSchema } from "../../../../pipeline/models.ts";
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "../../../helpers/assert.ts";
import { SEC, T0 } from "../../../helpers/detector_inputs.ts";
import {
  assertRoundTrip,
  feed,
  type Tick,
  tickSeries,
} from "../../../helpers/detector_roundtrip.ts";

function steps(prices: number[], over: { closes_at?: number | null } = {}): Tick[] {
  return tickSeries(
    prices,
    (p) => ({ snapshot: { last_price: p, closes_at: over.closes_at ?? null } }),
    30,
  );
}

const stepSeries = (n = 121) => Array.from({ length: n }, (_, i) => (i < 60 ? 0.4 : 0.6));

Deno.test("price_velocity: DOMAIN §14 — 0.40→0.60 fires at 61 (P5 0.7194) and 91 (0.8825)", () => {
  const fired = feed(new PriceVelocityDetector(), steps(stepSeries()));
  assertEquals(fired.map(([i]) => i), [61, 91]);
  const [[, a], [, b]] = fired;
  assertAlmostEquals(a.raw_features.posterior_p_change as number, 0.71944, 5e-6);
  assertAlmostEquals(b.raw_features.posterior_p_change as number, 0.88248, 5e-6);
  assertEquals(a.direction, 1); // [DEVIATION] sign(p − μ_prev), not tick-to-tick (0)
  assertEquals(a.window_seconds, 300);
  assertEquals(a.confidence, a.magnitude);
  assertEquals(a.raw_features.calibration_provenance, "price_velocity_bocpd_beta_v1@identity_v0");
  assertEquals(a.detected_at, T0 + 61 * 30 * SEC);
  assertEquals(a.liquidity_tier, "mid");
  assert(MarketSignalSchema.safeParse(a).success);
});

Deno.test("price_velocity: same input ⇒ same signal id; downward step ⇒ direction −1", () => {
  const a = feed(new PriceVelocityDetector(), steps(stepSeries()));
  const b = feed(new PriceVelocityDetector(), steps(stepSeries()));
  assertEquals(a[0][1].signal_id, b[0][1].signal_id);
  // x = 1[p > μ_prev]: a fall is a change only after a rise (a ramp up, then a drop).
  const down = feed(
    new PriceVelocityDetector(),
    steps(Array.from({ length: 100 }, (_, i) => (i < 60 ? 0.3 + i * 0.005 : 0.4))),
  );
  assert(down.length > 0);
  assertEquals(down[0][1].direction, -1);
});

Deno.test("price_velocity: a flat price never fires", () => {
  assertEquals(feed(new PriceVelocityDetector(), steps(Array(600).fill(0.4))), []);
});

Deno.test("price_velocity: fires once per cooldown (900 s = 30 ticks)", () => {
  const fired = feed(new PriceVelocityDetector(), steps(stepSeries(91)));
  assertEquals(fired.map(([i]) => i), [61]);
  const short = feed(new PriceVelocityDetector({ cooldown_seconds: 60 }), steps(stepSeries(70)));
  assert(
    short.length >= 2 && short[1][0] - short[0][0] >= 2,
    JSON.stringify(short.map((x) => x[0])),
  );
});

Deno.test("price_velocity: never inside the resolution window, and no state change there", () => {
  const closes = T0 + 61 * 30 * SEC + 3600 * SEC; // 1 h after the would-be fire
  const d = new PriceVelocityDetector();
  assertEquals(feed(d, steps(stepSeries(), { closes_at: closes })).map(([i]) => i), []);
  const all = new PriceVelocityDetector();
  feed(all, steps([0.4, 0.5], { closes_at: T0 + 60 * SEC }));
  assertEquals(all.state("m1"), null);
  // Already closed markets are not excluded.
  const closed = feed(new PriceVelocityDetector(), steps(stepSeries(), { closes_at: T0 - SEC }));
  assertEquals(closed.map(([i]) => i), [61, 91]);
});

Deno.test("price_velocity: warm-up of 50 vectors is respected", () => {
  const early = Array.from({ length: 120 }, (_, i) => (i < 10 ? 0.4 : 0.6));
  const fired = feed(new PriceVelocityDetector(), steps(early));
  assert(fired.every(([i]) => i >= 49), JSON.stringify(fired.map((x) => x[0])));
  assertEquals(new PriceVelocityDetector().warmupRequired(), 50);
  const noWarm = feed(new PriceVelocityDetector({ warmup: 1 }), steps(early));
  assertEquals(noWarm[0][0], 0); // P5 = 1 on the first update: why the warm-up exists
});

Deno.test("price_velocity: state round-trip mid-stream gives identical outputs", () => {
  assertRoundTrip(() => new PriceVelocityDetector(), steps(stepSeries()), 75);
  assertRoundTrip(() => new PriceVelocityDetector(), steps(stepSeries()), 30);
});

Deno.test("price_velocity: invalid options name the key", () => {
  assertThrows(() => new PriceVelocityDetector({ fire_threshold: 2 }), Error, "fire_threshold");
  assertThrows(() => new PriceVelocityDetector({ hazard_rate: 0 }), Error, "hazard_rate");
});
