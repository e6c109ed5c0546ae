import {
  calibrate,
  calibrateSignal,
  CurveSet,
  defaultCurves,
  IDENTITY_BUILT_AT,
  interpolate,
  parseCurveSet,
  rawScore,
  serializeCurveSet,
} from "../../../../pipeline/calibration/curve.ts";
import { buildSignal } from "../../../../pipeline/detectors/detector.ts";
import { MarketSignalSchema } from "../../../../pipeline/models.ts";
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "../../../helpers/assert.ts";
import { T0 } from "../../../helpers/detector_inputs.ts";

const D = "volume_spike_ewma_z_v1" as const;
const curve = (version: string, built_at: number, deciles: [number, number][]) => ({
  detector_id: D,
  liquidity_tier: "mid" as const,
  curve_version: version,
  deciles,
  built_at,
});

Deno.test("curve: identity when no curve (clamped), provenance identity_v0", () => {
  assertEquals(calibrate({ detector_id: D, tier: "mid", raw: 1.7 }), {
    confidence: 1,
    provenance: `${D}@identity_v0`,
    curve_version: "identity_v0",
  });
  assertEquals(
    calibrate({ detector_id: D, tier: "low", raw: 0.3 }, new CurveSet()).confidence,
    0.3,
  );
  assertEquals(IDENTITY_BUILT_AT, Date.UTC(2026, 0, 1) * 1000);
});

Deno.test("curve: DOMAIN §7.1 interpolation rules", () => {
  const pts: [number, number][] = [[0.2, 0.1], [0.4, 0.3], [0.4, 0.5], [0.8, 0.9]];
  assertAlmostEquals(interpolate(pts, 0.3), 0.2, 1e-12);
  assertEquals(interpolate(pts, 0.4), 0.3); // first pair with x0 ≤ raw ≤ x1 wins
  assertEquals(interpolate([[0.4, 0.3], [0.4, 0.5]], 0.4), 0.3); // x1 = x0 ⇒ y0
  assertEquals(interpolate(pts, 0.1), 0.1);
  assertEquals(interpolate(pts, 0.95), 0.9);
  assertEquals(interpolate([], 1.4), 1);
});

Deno.test("curve: confidence is monotone in raw for a monotone curve", () => {
  const set = new CurveSet([curve("curve_v1.0", 0, [[0.9, 0.95], [0.1, 0.02], [0.5, 0.4]])]);
  let prev = -1;
  for (let i = 0; i <= 1000; i++) {
    const c = calibrate({ detector_id: D, tier: "mid", raw: i / 1000 }, set);
    assert(c.confidence >= prev, `not monotone at ${i / 1000}`);
    prev = c.confidence;
    assertEquals(c.provenance, `${D}@curve_v1.0`);
  }
});

Deno.test("curve: versions are kept and pinned by time", () => {
  const set = new CurveSet([
    curve("curve_v1.1", 200, [[0, 0.5], [1, 0.5]]),
    curve("curve_v1.0", 100, [[0, 0], [1, 0.2]]),
  ]);
  assertEquals(set.lookup(D, "mid")!.curve_version, "curve_v1.1");
  assertEquals(set.lookup(D, "mid", 150)!.curve_version, "curve_v1.0");
  assertEquals(set.lookup(D, "mid", 50), undefined);
  assertEquals(
    calibrate({ detector_id: D, tier: "mid", raw: 0.5, at: 50 }, set).curve_version,
    "identity_v0",
  );
  assertThrows(() => new CurveSet([curve("v", 1, []), curve("v", 2, [])]), Error, "duplicate");
});

Deno.test("curve: calibrateSignal stamps provenance; raw score per detector", () => {
  const s = buildSignal({
    detector_id: D,
    signal_type: "volume_spike",
    market_id: "m",
    snapshot: { platform: "kalshi", volume_24h: 60_000 },
    now: T0,
    magnitude: 0.5,
    direction: 1,
    window_seconds: 3600,
    raw_features: { z_score: 4.65 },
  });
  const set = new CurveSet([curve("curve_v2", T0 - 1, [[0, 0], [1, 0.5]])]);
  const c = calibrateSignal(s, set);
  assertEquals(c.confidence, 0.25);
  assertEquals(c.magnitude, 0.5);
  assertEquals(c.raw_features.calibration_provenance, `${D}@curve_v2`);
  assert(MarketSignalSchema.safeParse(c).success);
  assertEquals(calibrateSignal(s).raw_features.calibration_provenance, `${D}@identity_v0`);
  assertEquals(
    rawScore({
      signal_type: "cross_market_divergence",
      magnitude: 0,
      raw_features: { p_value: 0.01 },
    }),
    0.99,
  );
  assertEquals(
    rawScore({
      signal_type: "price_velocity",
      magnitude: 0,
      raw_features: { posterior_p_change: 0.8 },
    }),
    0.8,
  );
});

Deno.test("curve: file format round-trips; malformed files say what was expected", () => {
  const curves = [...defaultCurves(), curve("curve_v1.3", T0 + 5, [[0.1, 0.05], [0.9, 0.7]])];
  assertEquals(defaultCurves().length, 15);
  const text = serializeCurveSet(curves);
  assert(text.includes('"built_at": "2026-01-01T00:00:00Z"'));
  assert(text.includes(".000005Z"));
  const back = parseCurveSet(JSON.parse(text));
  assertEquals(back.curves, curves);
  assertThrows(
    () => parseCurveSet({ format: "x", format_version: 1, curves: [] }),
    Error,
    "format",
  );
  assertThrows(
    () =>
      parseCurveSet({
        format: "augur.reliability_curves",
        format_version: 1,
        curves: [{ ...curves[0], extra: 1 }],
      }),
    Error,
    "unknown key",
  );
  assertThrows(
    () =>
      parseCurveSet({
        format: "augur.reliability_curves",
        format_version: 1,
        curves: [{ ...curves[0], deciles: [[0, 2]] }],
      }),
    Error,
    "both in [0, 1]",
  );
  assertThrows(
    () =>
      parseCurveSet({
        format: "augur.reliability_curves",
        format_version: 1,
        curves: [{ ...curves[0], detector_id: "nope" }],
      }),
    Error,
    "detector_id",
  );
});
