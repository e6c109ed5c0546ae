import {
  buildCurvePoints,
  buildCurves,
  type CalibrationLabel,
  labelSignal,
  pava,
  toMicros,
} from "../../../../pipeline/calibration/pava.ts";
import { calibrate, CurveSet } from "../../../../pipeline/calibration/curve.ts";
import { Prng } from "../../../helpers/prng.ts";
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "../../../helpers/assert.ts";

const DAY = 86_400_000_000;

Deno.test("pava: pools violators with weights", () => {
  assertEquals(pava([{ x: 0, y: 1, w: 1 }, { x: 1, y: 0, w: 1 }]), [0.5, 0.5]);
  const pooled = pava([{ x: 0, y: 0.2, w: 1 }, { x: 1, y: 0.6, w: 3 }, { x: 2, y: 0.2, w: 1 }]);
  [0.2, 0.5, 0.5].forEach((v, i) => assertAlmostEquals(pooled[i], v, 1e-12));
  const ys = pava([3, 1, 2, 5, 4, 6].map((y, x) => ({ x, y, w: 1 })));
  assertEquals(ys, [2, 2, 2, 4.5, 4.5, 6]);
});

Deno.test("pava: decile curve is non-decreasing and tracks the true precision", () => {
  const r = new Prng(11);
  const labels: CalibrationLabel[] = [];
  for (let i = 0; i < 5000; i++) {
    const raw = r.next();
    labels.push({
      detector_id: "price_velocity_bocpd_beta_v1",
      liquidity_tier: "high",
      raw,
      label: r.next() < raw * raw, // true precision = raw²
      detected_at: 10 * DAY - i * 1000,
    });
  }
  const curves = buildCurves(labels, { now: 10 * DAY, curve_version: "curve_v1.0" });
  assertEquals(curves.length, 1);
  const c = curves[0];
  assertEquals([c.detector_id, c.liquidity_tier, c.built_at, c.deciles.length], [
    "price_velocity_bocpd_beta_v1",
    "high",
    10 * DAY,
    10,
  ]);
  for (let i = 1; i < c.deciles.length; i++) {
    assert(c.deciles[i][0] >= c.deciles[i - 1][0] && c.deciles[i][1] >= c.deciles[i - 1][1]);
  }
  for (const [x, y] of c.deciles) assertAlmostEquals(y, x * x, 0.06);
  const set = new CurveSet(curves);
  const mid = calibrate(
    { detector_id: "price_velocity_bocpd_beta_v1", tier: "high", raw: 0.5 },
    set,
  );
  assertAlmostEquals(mid.confidence, 0.25, 0.06);
});

Deno.test("pava: window, sample floor, label kinds and validation", () => {
  const mk = (n: number, at: number | string, label: CalibrationLabel["label"] = true) =>
    Array.from({ length: n }, (_, i) => ({
      detector_id: "regime_shift_cusum_v1" as const,
      liquidity_tier: "low" as const,
      raw: i / n,
      label,
      detected_at: at,
    }));
  const now = 40 * DAY;
  assertEquals(buildCurves(mk(150, 5 * DAY), { now, curve_version: "v" }), []); // outside 30 d
  assertEquals(buildCurves(mk(99, 39 * DAY), { now, curve_version: "v" }), []); // < 100
  assertEquals(buildCurves(mk(150, 39 * DAY, "true_negative"), { now, curve_version: "v" }), []);
  const iso = buildCurves(mk(100, "1970-02-09T00:00:00.000001Z", "false_positive"), {
    now,
    curve_version: "v",
  });
  assertEquals(iso[0].deciles.every(([, y]) => y === 0), true);
  assertEquals(toMicros("1970-01-01T00:00:01.5Z"), 1_500_000);
  assertThrows(
    () => buildCurves(mk(1, 0, "maybe" as never), { now, curve_version: "v" }),
    Error,
    "label",
  );
  assertThrows(() => toMicros("yesterday"), Error, "ISO-8601");
  assertEquals(buildCurvePoints([{ raw: 0.2, label: 0 }, { raw: 0.8, label: 1 }], { bins: 2 }), [[
    0.2,
    0,
  ], [0.8, 1]]);
});

Deno.test("pava: label rule TP iff event − detected_at ∈ (0, 24 h]", () => {
  const ev = (ts: number, ids = ["m"]) => [{ market_ids: ids, ground_truth_timestamp: ts }];
  const s = { market_id: "m", detected_at: 1_000 };
  assertEquals(labelSignal(s, ev(1_000)), false);
  assertEquals(labelSignal(s, ev(1_001)), true);
  assertEquals(labelSignal(s, ev(1_000 + DAY)), true);
  assertEquals(labelSignal(s, ev(1_001 + DAY)), false);
  assertEquals(labelSignal(s, ev(2_000, ["x"])), false);
});
