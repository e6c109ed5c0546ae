/**
 * Statistical checks on long seeded null streams (no event): the measured false-alarm rate of
 * each detector, printed against its configured target, with a generous bound asserted.
 */
import { BookImbalanceDetector } from "../../../../pipeline/detectors/book_imbalance.ts";
import { CrossMarketDivergenceDetector } from "../../../../pipeline/detectors/cross_market_divergence.ts";
import type { Detector } from "../../../../pipeline/detectors/detector.ts";
import { PriceVelocityDetector } from "../../../../pipeline/detectors/price_velocity.ts";
import { RegimeShiftDetector } from "../../../../pipeline/detectors/regime_shift.ts";
import { VolumeSpikeDetector } from "../../../../pipeline/detectors/volume_spike.ts";
import { assert } from "../../../helpers/assert.ts";
import { feature, SEC, snapshot, T0 } from "../../../helpers/detector_inputs.ts";
import { Prng } from "../../../helpers/prng.ts";

interface NullGen {
  price: (r: Prng) => number;
  ratio: (r: Prng) => number;
  book: (r: Prng) => number;
  vol: (r: Prng) => number;
}

const NULL: NullGen = {
  price: (r) => Math.min(0.99, Math.max(0.01, 0.5 + 0.02 * r.normal())),
  ratio: (r) => Math.max(0, 1 + 0.1 * r.normal()),
  book: (r) => Math.min(1, Math.max(0, 0.5 + 0.08 * r.normal())),
  vol: (r) => Math.abs(0.01 + 0.001 * r.normal()),
};

/** Fires per post-warm-up tick over `markets` × `ticks` seeded null vectors. */
function falseAlarmRate(d: Detector, seed: number, markets: number, ticks: number): number {
  const r = new Prng(seed);
  let fires = 0, eligible = 0;
  for (let m = 0; m < markets; m++) {
    const id = `m${m}`;
    for (let i = 0; i < ticks; i++) {
      const now = T0 + i * 60 * SEC;
      const f = feature({
        market_id: id,
        computed_at: now,
        volume_ratio_1h: NULL.ratio(r),
        bid_ask_ratio: NULL.book(r),
        volatility_1h: NULL.vol(r),
      });
      const s = snapshot({
        market_id: id,
        timestamp: now,
        last_price: NULL.price(r),
        volume_24h: 100_000,
      });
      if (d.ingest(id, f, s, now) !== null) fires++;
      if (i >= d.warmupRequired()) eligible++;
    }
  }
  return fires / eligible;
}

function report(name: string, measured: number, target: string) {
  console.log(
    `  ${name.padEnd(24)} measured ${measured.toExponential(3)} per tick   target ${target}`,
  );
}

Deno.test("null streams: false-alarm rate per detector within its target (generous bound)", () => {
  console.log("false-alarm rates on seeded null streams (100 markets × 1 000 ticks, 60 s):");
  const pv = falseAlarmRate(new PriceVelocityDetector(), 1, 100, 1000);
  report("price_velocity", pv, "≤ hazard_rate 0.004 (prior change rate)");
  assert(pv <= 0.004, `price_velocity ${pv}`);

  const vs = falseAlarmRate(new VolumeSpikeDetector(), 2, 100, 1000);
  report("volume_spike", vs, "≈ one-sided tail at minimum_z 1.65 = 0.0495 (no BH)");
  assert(vs <= 2 * 0.0495, `volume_spike ${vs}`);

  const bi = falseAlarmRate(new BookImbalanceDetector(), 3, 100, 1000);
  report("book_imbalance", bi, "≤ 0.001 (3 consecutive ratios beyond 0.72/0.28)");
  assert(bi <= 0.001, `book_imbalance ${bi}`);

  const rs = falseAlarmRate(new RegimeShiftDetector(), 4, 100, 1000);
  report("regime_shift", rs, "≤ target_alpha 0.02");
  assert(rs <= 0.02, `regime_shift ${rs}`);
});

Deno.test("null streams: cross-market divergence keeps the per-grid family-wise rate near q", () => {
  const r = new Prng(5);
  const rho = 0.8;
  const pairs = Array.from({ length: 20 }, (_, i) => ({
    market_a: `a${i}`,
    market_b: `b${i}`,
    // Spearman ρ_s = (6/π)·asin(ρ/2) for a bivariate normal with Pearson ρ.
    historical_z: Math.atanh((6 / Math.PI) * Math.asin(rho / 2)),
  }));
  const d = new CrossMarketDivergenceDetector(pairs, { enforce_activity_floor: false });
  let grids = 0, gridsWithFire = 0;
  for (let g = 0; g < 1500; g++) {
    const at = T0 + g * 60 * SEC;
    for (let i = 0; i < pairs.length; i++) {
      const x = r.normal(), y = rho * x + Math.sqrt(1 - rho * rho) * r.normal();
      d.observe(snapshot({ market_id: `a${i}`, timestamp: at, last_price: 0.5 + 0.05 * x }));
      d.observe(snapshot({ market_id: `b${i}`, timestamp: at, last_price: 0.5 + 0.05 * y }));
    }
    const out = d.evaluate(at);
    if (g >= 9) {
      grids++;
      if (out.length > 0) gridsWithFire++;
    }
  }
  const rate = gridsWithFire / grids;
  console.log(
    `  cross_market_divergence  measured ${
      rate.toExponential(3)
    } grid points with any fire   target q 0.05`,
  );
  assert(rate <= 3 * 0.05, `divergence ${rate}`);
});
