import {
  CrossMarketDivergenceDetector,
  type DivergencePair,
  pairsFromRelationships,
} from "../../../../pipeline/detectors/cross_market_divergence.ts";
import { fisherZ, spearman } from "../../../../pipeline/detectors/spearman.ts";
import { MarketSignalSchema } from "../../../../pipeline/models.ts";
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "../../../helpers/assert.ts";
import { SEC, snapshot } from "../../../helpers/detector_inputs.ts";

const G0 = 1_773_576_000_000_000; // a multiple of 60 s
const MIN = 60 * SEC;

function observe(
  d: CrossMarketDivergenceDetector,
  at: number,
  prices: Record<string, number>,
  opts: { ratio?: number; closes_at?: number | null } = {},
) {
  for (const [m, p] of Object.entries(prices)) {
    d.observe(
      snapshot({ market_id: m, timestamp: at, last_price: p, closes_at: opts.closes_at ?? null }),
      { volume_ratio_1h: opts.ratio ?? 1.5 },
    );
  }
}

/** a rises, b falls: ρ = −1 against a historical +0.9 ⇒ strong divergence. */
function diverging(d: CrossMarketDivergenceDetector, points: number, extra = {}) {
  const out = [];
  for (let i = 0; i < points; i++) {
    const g = G0 + i * MIN;
    observe(d, g - 10 * SEC, { a: 0.3 + i * 0.01, b: 0.7 - i * 0.01 }, extra);
    out.push(d.evaluateDetailed(g));
  }
  return out;
}

const PAIR: DivergencePair = { market_a: "a", market_b: "b", historical_z: Math.atanh(0.9) };

Deno.test("divergence: fires from the 10th aligned point with the §5.4 fields", () => {
  const d = new CrossMarketDivergenceDetector([PAIR]);
  const res = diverging(d, 12);
  assertEquals(res.map((r) => r.signals.length), [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
  const s = res[9].signals[0];
  assertEquals([s.market_id, s.related_market_ids, s.direction, s.fdr_adjusted], [
    "a",
    ["b"],
    0,
    true,
  ]);
  assertEquals([s.window_seconds, s.detected_at, s.liquidity_tier], [14_400, G0 + 9 * MIN, "mid"]);
  assertAlmostEquals(s.raw_features.spearman_rho as number, -1, 1e-12);
  assertEquals(s.raw_features.related_market_id, "b");
  assertAlmostEquals(s.magnitude, 1 - (s.raw_features.p_value as number), 1e-12);
  assertEquals(s.raw_features.calibration_provenance, "cross_market_fisher_bh_v1@identity_v0");
  assert(MarketSignalSchema.safeParse(s).success);
});

Deno.test("divergence: a pair tracking its historical correlation does not fire", () => {
  const xs = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];
  const ys = [0.2, 0.1, 0.4, 0.3, 0.6, 0.5, 0.8, 0.7, 1.0, 0.9];
  const z = fisherZ(spearman(xs, ys));
  const d = new CrossMarketDivergenceDetector([{ market_a: "a", market_b: "b", historical_z: z }]);
  let last;
  for (let i = 0; i < 10; i++) {
    observe(d, G0 + i * MIN, { a: xs[i], b: ys[i] });
    last = d.evaluateDetailed(G0 + i * MIN);
  }
  assertEquals(last!.signals, []);
  assertEquals(last!.tests.length, 1);
  assertAlmostEquals(last!.tests[0].p, 1, 1e-9);
});

Deno.test("divergence: reference pair vs atanh(0.6) gives p 0.005944", () => {
  const xs = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];
  const ys = [0.2, 0.1, 0.4, 0.3, 0.6, 0.5, 0.8, 0.7, 1.0, 0.9];
  const d = new CrossMarketDivergenceDetector([{
    market_a: "a",
    market_b: "b",
    historical_z: Math.atanh(0.6),
  }]);
  let last;
  for (let i = 0; i < 10; i++) {
    observe(d, G0 + i * MIN, { a: xs[i], b: ys[i] });
    last = d.evaluateDetailed(G0 + i * MIN);
  }
  assertAlmostEquals(last!.tests[0].p, 0.005944, 5e-7);
  assertEquals(last!.signals.length, 1);
});

Deno.test("divergence: a leg older than 300 s or newer than g does not contribute", () => {
  const d = new CrossMarketDivergenceDetector([PAIR]);
  d.observe(snapshot({ market_id: "a", timestamp: G0 - 10 * SEC }), { volume_ratio_1h: 2 });
  d.observe(snapshot({ market_id: "b", timestamp: G0 - 300 * SEC }), { volume_ratio_1h: 2 });
  d.observe(snapshot({ market_id: "b", timestamp: G0 + SEC }), { volume_ratio_1h: 2 });
  d.evaluate(G0);
  assertEquals(d.state().series, {});
  d.evaluate(G0 + MIN);
  assertEquals(d.state().series["a::b"].a.length, 1);
});

Deno.test("divergence: never inside market_a's resolution window", () => {
  const d = new CrossMarketDivergenceDetector([PAIR]);
  const res = diverging(d, 15, { closes_at: G0 + 3 * 3600 * SEC });
  assertEquals(res.flatMap((r) => r.signals), []);
  assertEquals(d.state().series, {});
});

Deno.test("divergence: activity floor (SHOULD) gates candidates; can be switched off", () => {
  const quiet = diverging(new CrossMarketDivergenceDetector([PAIR]), 12, { ratio: 1.0 });
  assertEquals(quiet.flatMap((r) => r.signals), []);
  const off = diverging(
    new CrossMarketDivergenceDetector([PAIR], { enforce_activity_floor: false }),
    12,
    { ratio: 1.0 },
  );
  assertEquals(off.flatMap((r) => r.signals).length, 3);
});

Deno.test("divergence: BH across pairs keeps the divergent pair only; one signal per pair per grid", () => {
  const pairs: DivergencePair[] = [
    PAIR,
    // Null pairs: they move together exactly as history says (ρ = 1 ⇒ T = 0, p = 1).
    { market_a: "c", market_b: "d", historical_z: fisherZ(1) },
    { market_a: "e", market_b: "f", historical_z: fisherZ(1) },
  ];
  const d = new CrossMarketDivergenceDetector(pairs);
  const noise = [0.5, 0.52, 0.49, 0.55, 0.51, 0.53, 0.5, 0.56, 0.54, 0.57, 0.55, 0.58];
  const seen = new Set<string>();
  let total = 0;
  for (let i = 0; i < 12; i++) {
    const g = G0 + i * MIN;
    observe(d, g, {
      a: 0.3 + i * 0.01,
      b: 0.7 - i * 0.01,
      c: noise[i],
      d: noise[i] * 0.9,
      e: noise[i],
      f: noise[i],
    });
    const res = d.evaluateDetailed(g);
    for (const s of res.signals) {
      assertEquals(s.market_id, "a");
      assert(!seen.has(s.signal_id));
      seen.add(s.signal_id);
      total++;
    }
    if (i >= 9) assertEquals(res.tests.length, 3);
  }
  assertEquals(total, 3);
});

Deno.test("divergence: advanceTo walks the 60 s grid; grid points must increase", () => {
  const d = new CrossMarketDivergenceDetector([PAIR]);
  for (let i = 0; i < 12; i++) {
    observe(d, G0 + i * MIN - SEC, { a: 0.3 + i * 0.01, b: 0.7 - i * 0.01 });
  }
  assertEquals(d.advanceTo(G0 - 1), []);
  const sig = d.advanceTo(G0 + 11 * MIN + 30 * SEC);
  // Grid points G0 … G0+11m each see one new aligned point; the 10th, 11th, 12th fire.
  assertEquals(sig.map((s) => s.detected_at), [G0 + 9 * MIN, G0 + 10 * MIN, G0 + 11 * MIN]);
  assertEquals(d.lastGrid, G0 + 11 * MIN);
  assertThrows(() => d.evaluate(G0), Error, "after the last one");
});

Deno.test("divergence: checkpoint mid-stream restores identical future outputs", () => {
  const run = (cut: number | null) => {
    let d = new CrossMarketDivergenceDetector([PAIR]);
    const out = [];
    for (let i = 0; i < 20; i++) {
      if (i === cut) {
        const saved = JSON.parse(JSON.stringify(d.state()));
        d = new CrossMarketDivergenceDetector([PAIR]);
        d.loadState(saved);
      }
      const g = G0 + i * MIN;
      observe(d, g - 5 * SEC, { a: 0.3 + ((i * 7) % 5) * 0.02, b: 0.7 - i * 0.01 });
      observe(d, g + 20 * SEC, { a: 0.9, b: 0.1 }); // belongs to the next grid point
      out.push(...d.evaluate(g));
    }
    return out;
  };
  const whole = run(null);
  assert(whole.length > 0);
  assertEquals(run(11), whole);
});

Deno.test("pairsFromRelationships: atanh(±strength), clamps 1.0, skips complex and weak edges", () => {
  const { pairs, skipped } = pairsFromRelationships([
    { market_a: "a", market_b: "b", type: "positive" },
    { market_a: "a", market_b: "c", relationship_type: "inverse", strength: 0.8 },
    { market_a: "a", market_b: "d", type: "complex", strength: 0.9 },
    { market_a: "a", market_b: "e", type: "positive", strength: 0.5 },
    { market_a: "a", market_b: "b", type: "positive" },
  ]);
  assertEquals(pairs.map((p) => p.market_b), ["b", "c"]);
  assertAlmostEquals(pairs[0].historical_z, Math.atanh(0.999999), 1e-12);
  assertAlmostEquals(pairs[1].historical_z, Math.atanh(-0.8), 1e-12);
  assertEquals(skipped.map((s) => s.market_b), ["d", "e", "b"]);
  const loose = pairsFromRelationships(
    [{ market_a: "a", market_b: "e", type: "positive", strength: 0.5 }],
    { enforce_min_historical_correlation: false },
  );
  assertEquals(loose.pairs.length, 1);
});
