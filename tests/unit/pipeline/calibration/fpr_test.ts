import { computeFpr, type FprLabel, lookupFpr } from "../../../../pipeline/calibration/fpr.ts";
import { rollingTier, tierFromVolume } from "../../../../pipeline/calibration/tier.ts";
import { assertAlmostEquals, assertEquals } from "../../../helpers/assert.ts";

const DAY = 86_400_000_000;
const D = "volume_spike_ewma_z_v1" as const;

function labels(market: string, fp: number, tn: number, tp = 0, at = 9 * DAY): FprLabel[] {
  const out: FprLabel[] = [];
  const add = (n: number, label: FprLabel["label"]) => {
    for (let i = 0; i < n; i++) {
      out.push({ detector_id: D, market_id: market, label, detected_at: at });
    }
  };
  add(fp, "false_positive");
  add(tn, "true_negative");
  add(tp, "true_positive");
  return out;
}

Deno.test("fpr: design formula FP/(FP+TN); small samples fall back to the detector aggregate", () => {
  const rows = computeFpr([...labels("big", 30, 90, 5), ...labels("small", 10, 10)], {
    now: 10 * DAY,
  });
  assertEquals(rows.map((r) => [r.market_id, r.sample_size]), [["big", 120], ["small", 140]]);
  assertAlmostEquals(rows[0].fpr, 0.25, 1e-12);
  assertAlmostEquals(rows[1].fpr, 40 / 140, 1e-12);
  assertEquals([rows[0].computed_at, rows[0].label_protocol_version], [10 * DAY, "v0"]);
});

Deno.test("fpr: reference formula FP/signals; 30-day window; lookups", () => {
  const rows = computeFpr([...labels("m", 3, 50, 1), ...labels("m", 100, 0, 0, -30 * DAY)], {
    now: 10 * DAY,
    formula: "reference",
  });
  assertEquals(rows.map((r) => [r.fpr, r.sample_size]), [[0.75, 4]]);
  assertEquals(computeFpr(labels("z", 0, 5), { now: 10 * DAY, formula: "reference" })[0].fpr, 0);
  assertEquals(lookupFpr(rows, { detector_id: D, market_id: "m" }), 0.75);
  assertEquals(lookupFpr(rows, { detector_id: D, market_id: "other" }), 0.75);
  assertEquals(lookupFpr(rows, { detector_id: "regime_shift_cusum_v1", market_id: "m" }), null);
});

Deno.test("tier: 24 h thresholds and the rolling 7-day mean of daily volumes", () => {
  assertEquals([
    tierFromVolume(250_000),
    tierFromVolume(249_999),
    tierFromVolume(50_000),
    tierFromVolume(49_999),
  ], [
    "high",
    "mid",
    "mid",
    "low",
  ]);
  const now = 10 * DAY;
  const samples = [
    { at: 2 * DAY, volume_24h: 10_000_000 }, // outside the 7-day window
    { at: 4 * DAY + 1, volume_24h: 100_000 },
    { at: 5 * DAY + 1, volume_24h: 1 },
    { at: 5 * DAY + 2, volume_24h: 500_000 }, // last of its day wins
  ];
  const r = rollingTier(samples, { now });
  assertEquals([r.tier, r.mean_daily_volume, r.tracked], ["high", 300_000, true]);
  assertEquals(rollingTier([{ at: now, volume_24h: 5_000 }], { now }).tracked, false);
});
