import { RegimeShiftDetector } from "../../../../pipeline/detectors/regime_shift.ts";
import { assert, assertEquals, assertThrows } from "../../../helpers/assert.ts";
import { SEC, T0 } from "../../../helpers/detector_inputs.ts";
import {
  assertRoundTrip,
  feed,
  type Tick,
  tickSeries,
} from "../../../helpers/detector_roundtrip.ts";

/** Volatility alternating 0.010/0.012, then `level` from index `at` on (60 s apart). */
function series(at: number, level: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => (i >= at ? level : i % 2 === 0 ? 0.010 : 0.012));
}

function ticks(vols: number[], over: { closes_at?: number | null } = {}): Tick[] {
  return tickSeries(vols, (v) => ({
    feature: { volatility_1h: v },
    snapshot: { closes_at: over.closes_at ?? null },
  }));
}

Deno.test("regime_shift: a volatility jump after dormancy fires once (up ⇒ +1)", () => {
  const fired = feed(new RegimeShiftDetector(), ticks(series(400, 0.03, 900)));
  assertEquals(fired.map(([i]) => i), [400]);
  const s = fired[0][1];
  assertEquals([s.direction, s.window_seconds], [1, 3600]);
  assert((s.raw_features.positive_cusum as number) > (s.raw_features.threshold as number));
  assert(s.magnitude > 0 && s.magnitude <= 1);
});

Deno.test("regime_shift: a volatility drop fires with direction −1", () => {
  const vols = Array.from(
    { length: 700 },
    (_, i) => (i >= 500 ? 0.001 : i % 2 === 0 ? 0.03 : 0.032),
  );
  const fired = feed(new RegimeShiftDetector(), ticks(vols));
  assertEquals(fired.map(([i, s]) => [i, s.direction]), [[500, -1]]);
});

Deno.test("regime_shift: a steady series never fires", () => {
  assertEquals(feed(new RegimeShiftDetector(), ticks(series(10_000, 0, 2000))), []);
});

Deno.test("regime_shift: dormancy (6 h from the first vector) holds back early breaches", () => {
  // Jump at 100 (1 h 40 m in): breaches keep pushing dormant_since, so nothing fires at once.
  const fired = feed(new RegimeShiftDetector(), ticks(series(100, 0.03, 600)));
  assert(fired.every(([i]) => i >= 360), JSON.stringify(fired.map((x) => x[0])));
  assertEquals(
    feed(new RegimeShiftDetector({ dormancy_minimum_seconds: 0 }), ticks(series(100, 0.03, 101)))
      .map(([i]) => i),
    [100],
  );
});

Deno.test("regime_shift: warm-up of 30 vectors is respected", () => {
  const d = new RegimeShiftDetector({ dormancy_minimum_seconds: 0 });
  const fired = feed(d, ticks(series(5, 0.03, 60)));
  assert(fired.length > 0 && fired.every(([i]) => i >= 29), JSON.stringify(fired.map((x) => x[0])));
});

Deno.test("regime_shift: never inside the resolution window", () => {
  const closes = T0 + 400 * 60 * SEC + 3 * 3600 * SEC;
  assertEquals(
    feed(new RegimeShiftDetector(), ticks(series(400, 0.03, 500), { closes_at: closes })),
    [],
  );
});

Deno.test("regime_shift: adaptive cooldown: no second fire within 18 h of a fire", () => {
  // Up at 400 (fires), down at 700, up at 1000: all inside 400 + 18 h = 1480 ticks.
  const vols = Array.from(
    { length: 1470 },
    (_, i) => i >= 1000 ? 0.05 : i >= 700 ? 0.001 : i >= 400 ? 0.03 : i % 2 === 0 ? 0.010 : 0.012,
  );
  assertEquals(feed(new RegimeShiftDetector(), ticks(vols)).map(([i]) => i), [400]);
});

Deno.test("regime_shift: state round-trip (incl. M2) mid-stream gives identical outputs", () => {
  assertRoundTrip(() => new RegimeShiftDetector(), ticks(series(400, 0.03, 450)), 200);
  assertThrows(
    () => new RegimeShiftDetector().loadState("m", { count: 1 } as never),
    Error,
    "invalid",
  );
});
