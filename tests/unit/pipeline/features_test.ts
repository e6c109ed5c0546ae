import { assert, assertAlmostEquals, assertEquals, assertThrows } from "../../helpers/assert.ts";
import {
  type BookDepth,
  type FeatureInput,
  FeaturePipeline,
  FeatureStateError,
} from "../../../pipeline/features.ts";
import { FeatureVectorSchema } from "../../../pipeline/models.ts";
import type { FeatureVector } from "../../../pipeline/models.ts";

const S = 1_000_000; // µs per second

function snap(
  t: number,
  price: number,
  volume = 100,
  extra: Partial<FeatureInput> = {},
): FeatureInput {
  return {
    market_id: "m",
    timestamp: t,
    last_price: price,
    volume_24h: volume,
    bid: null,
    ask: null,
    ...extra,
  };
}

Deno.test("hand-computed vector on a 4-snapshot buffer", () => {
  const pipeline = new FeaturePipeline({ warmup_size: 4 });
  const prices = [0.5, 0.55, 0.5, 0.6];
  let out: FeatureVector | null = null;
  prices.forEach((p, i) => {
    out = pipeline.update(
      snap(i * 30 * S, p, 100, { bid: 0.59, ask: 0.61 }),
      { bid_depth: 300, ask_depth: 100 },
    );
    if (i < 3) assertEquals(out, null);
  });
  const v = out as unknown as FeatureVector;
  assert(FeatureVectorSchema.safeParse(v).success);
  assertEquals(v.computed_at, 90 * S);
  for (
    const m of [v.price_momentum_5m, v.price_momentum_15m, v.price_momentum_1h, v.price_momentum_4h]
  ) {
    assertAlmostEquals(m, 0.2, 1e-12);
  }
  for (const s of [v.volatility_5m, v.volatility_15m, v.volatility_1h, v.volatility_4h]) {
    assertAlmostEquals(s, 0.14200145679389986, 1e-15); // Python statistics.stdev
  }
  assertEquals(v.volume_ratio_5m, 1);
  assertEquals(v.volume_ratio_1h, 1);
  assertEquals(v.bid_ask_ratio, 0.75);
  assertAlmostEquals(v.spread_pct as number, 0.02 / 0.6, 1e-12);
});

Deno.test("windows are truncated to the buffer", () => {
  const pipeline = new FeaturePipeline({ warmup_size: 3, buffer_size: 3 });
  let out: FeatureVector | null = null;
  [0.5, 0.55, 0.5, 0.6].forEach((p, i) => out = pipeline.update(snap(i * 30 * S, p)));
  const v = out as unknown as FeatureVector;
  assertAlmostEquals(v.price_momentum_1h, (0.6 - 0.55) / 0.55, 1e-12);
  assertAlmostEquals(v.volatility_4h, 0.19631528362124082, 1e-15);
});

Deno.test("window size n = max(2, ⌊S/I⌋) follows the interval estimate", () => {
  // I = 300 s ⇒ 5m window n = 2: momentum over the last two prices; volatility m < 3 ⇒ 0
  const pipeline = new FeaturePipeline({ warmup_size: 5 });
  let out: FeatureVector | null = null;
  [0.4, 0.5, 0.4, 0.5, 0.8].forEach((p, i) => out = pipeline.update(snap(i * 300 * S, p)));
  const v = out as unknown as FeatureVector;
  assertAlmostEquals(v.price_momentum_5m, (0.8 - 0.5) / 0.5, 1e-12);
  assertEquals(v.volatility_5m, 0);
  // 15m: n = 3 ⇒ prices 0.4, 0.5, 0.8
  assertAlmostEquals(v.price_momentum_15m, 1, 1e-12);
  const r = [Math.log(0.5 / 0.4), Math.log(0.8 / 0.5)];
  const mean = (r[0] + r[1]) / 2;
  assertAlmostEquals(v.volatility_15m, Math.sqrt((r[0] - mean) ** 2 + (r[1] - mean) ** 2), 1e-15);
});

Deno.test("zero prices: momentum guard and skipped return pairs", () => {
  const pipeline = new FeaturePipeline({ warmup_size: 4 });
  let out: FeatureVector | null = null;
  [0, 0.5, 0.6, 0.3].forEach((p, i) => out = pipeline.update(snap(i * 30 * S, p)));
  const v = out as unknown as FeatureVector;
  assertEquals(v.price_momentum_5m, 0); // p_1 = 0
  const r = [Math.log(0.6 / 0.5), Math.log(0.3 / 0.6)];
  const mean = (r[0] + r[1]) / 2;
  assertAlmostEquals(v.volatility_5m, Math.sqrt((r[0] - mean) ** 2 + (r[1] - mean) ** 2), 1e-15);
  // only one valid return ⇒ 0
  const p2 = new FeaturePipeline({ warmup_size: 3 });
  let w: FeatureVector | null = null;
  [0.5, 0, 0.5].forEach((p, i) => w = p2.update(snap(i * 30 * S, p)));
  assertEquals((w as unknown as FeatureVector).volatility_5m, 0);
});

Deno.test("interval estimate: whole seconds truncated, mean of the last 20, halts excluded", () => {
  const pipeline = new FeaturePipeline();
  const market = () => pipeline.state("m")!;
  pipeline.update(snap(0, 0.5));
  assertEquals(market().interval, 60); // initial
  pipeline.update(snap(30.9 * S, 0.5)); // Δ = 30 (fraction truncated)
  assertEquals(market().intervals, [30]);
  pipeline.update(snap(30.9 * S + 45 * S, 0.5));
  assertEquals(market().interval, 37); // ⌊37.5⌋
  pipeline.update(snap(30.9 * S + 45 * S + 301 * S, 0.5)); // > 300 s: not recorded
  assertEquals(market().intervals, [30, 45]);
  let t = 30.9 * S + 45 * S + 301 * S;
  pipeline.update(snap(t, 0.5)); // Δ = 0: not recorded
  assertEquals(market().intervals, [30, 45]);
  for (let i = 0; i < 25; i++) pipeline.update(snap(t += 10 * S, 0.5));
  assertEquals(market().intervals.length, 20);
  assertEquals(market().interval, 10);
});

Deno.test("halt-aware EWMA decays with the true Δ, including gaps over 300 s", () => {
  const pipeline = new FeaturePipeline();
  pipeline.update(snap(0, 0.5, 100));
  assertEquals(pipeline.state("m")!.baseline, 100);
  pipeline.update(snap(30 * S, 0.5, 200)); // I = 30, k = 1
  assertAlmostEquals(pipeline.state("m")!.baseline, 105, 1e-12);
  pipeline.update(snap(1030 * S, 0.5, 200)); // Δ = 1000 > 2I ⇒ k = ⌊1000/30⌋ = 33
  assertAlmostEquals(pipeline.state("m")!.baseline, 182.5175385276203, 1e-9);
  assertEquals(pipeline.state("m")!.interval, 30);
  // Δ ≤ 2I ⇒ k = 1
  pipeline.update(snap(1090 * S, 0.5, 0));
  assertAlmostEquals(pipeline.state("m")!.baseline, 0.95 * 182.5175385276203, 1e-9);
});

Deno.test("volume ratio: Σvolume / (B·m); B ≤ 0 ⇒ 1.0", () => {
  const p = new FeaturePipeline({ warmup_size: 3 });
  let out: FeatureVector | null = null;
  [100, 100, 400].forEach((v, i) => out = p.update(snap(i * 30 * S, 0.5, v)));
  const baseline = 0.95 * (0.95 * 100 + 0.05 * 100) + 0.05 * 400;
  assertAlmostEquals(
    (out as unknown as FeatureVector).volume_ratio_5m,
    600 / (baseline * 3),
    1e-12,
  );
  const zero = new FeaturePipeline({ warmup_size: 2 });
  zero.update(snap(0, 0.5, 0));
  const v = zero.update(snap(30 * S, 0.5, 0))!;
  assertEquals(v.volume_ratio_5m, 1);
  assertEquals(v.volume_ratio_1h, 1);
});

Deno.test("spread_pct and bid_ask_ratio null cases", () => {
  const cases: [Partial<FeatureInput>, BookDepth | null, number | null, number | null][] = [
    [{ bid: null, ask: 0.5 }, null, null, null],
    [{ bid: 0, ask: 0 }, { bid_depth: 0, ask_depth: 0 }, null, null],
    [{ bid: 0.4, ask: 0.6 }, { bid_depth: 0, ask_depth: 50 }, 0.4, 0],
    [{ bid: 0.4, ask: 0.6 }, { bid_depth: 10, ask_depth: null }, 0.4, null],
  ];
  for (const [quote, depth, spread, ratio] of cases) {
    const p = new FeaturePipeline({ warmup_size: 1 });
    const v = p.update(snap(0, 0.5, 100, quote), depth)!;
    assertAlmostEquals(v.spread_pct ?? -1, spread ?? -1, 1e-12);
    assertEquals(v.bid_ask_ratio, ratio);
  }
});

// ---------------------------------------------------------------------------------------
// From-scratch reference (DOMAIN §4, written independently of the incremental code)
// ---------------------------------------------------------------------------------------

class Reference {
  buffer: { p: number; v: number }[] = [];
  intervals: number[] = [];
  interval = 60;
  baseline = 0;
  initialized = false;
  last: number | null = null;

  update(s: FeatureInput, depth: BookDepth | null): FeatureVector | null {
    let delta = 0;
    if (this.last !== null) {
      delta = Math.trunc((s.timestamp - this.last) / S);
      if (delta > 0 && delta <= 300) {
        this.intervals.push(delta);
        if (this.intervals.length > 20) this.intervals.shift();
        const mean = this.intervals.reduce((a, b) => a + b, 0) / this.intervals.length;
        this.interval = Math.max(1, Math.floor(mean));
      }
    }
    this.last = s.timestamp;
    this.buffer.push({ p: s.last_price, v: s.volume_24h });
    if (this.buffer.length > 500) this.buffer.shift();
    if (!this.initialized) {
      this.baseline = s.volume_24h;
      this.initialized = true;
    } else {
      const k = delta > 2 * this.interval ? Math.max(1, Math.floor(delta / this.interval)) : 1;
      const d = (1 - 0.05) ** k;
      this.baseline = d * this.baseline + (1 - d) * s.volume_24h;
    }
    if (this.buffer.length < 50) return null;
    const win = (span: number) => {
      const n = Math.max(2, Math.floor(span / this.interval));
      return this.buffer.slice(-Math.min(n, this.buffer.length));
    };
    const momentum = (w: { p: number }[]) =>
      w.length < 2 || w[0].p <= 0 ? 0 : (w[w.length - 1].p - w[0].p) / w[0].p;
    const volatility = (w: { p: number }[]) => {
      if (w.length < 3) return 0;
      const r: number[] = [];
      for (let i = 0; i + 1 < w.length; i++) {
        if (w[i].p > 0 && w[i + 1].p > 0) r.push(Math.log(w[i + 1].p / w[i].p));
      }
      if (r.length < 2) return 0;
      const mean = r.reduce((a, b) => a + b, 0) / r.length;
      return Math.sqrt(r.reduce((a, b) => a + (b - mean) ** 2, 0) / (r.length - 1));
    };
    const ratio = (w: { v: number }[]) =>
      w.length === 0 || this.baseline <= 0
        ? 1
        : w.reduce((a, b) => a + b.v, 0) / (this.baseline * w.length);
    const [w5, w15, w60, w240] = [300, 900, 3600, 14400].map(win);
    let spread: number | null = null;
    if (s.bid !== null && s.ask !== null && (s.ask + s.bid) / 2 > 0) {
      spread = (s.ask - s.bid) / ((s.ask + s.bid) / 2);
    }
    let ratioDepth: number | null = null;
    if (depth && depth.bid_depth !== null && depth.ask_depth !== null) {
      const total = depth.bid_depth + depth.ask_depth;
      if (total > 0) ratioDepth = depth.bid_depth / total;
    }
    return {
      market_id: s.market_id,
      computed_at: s.timestamp,
      price_momentum_5m: momentum(w5),
      price_momentum_15m: momentum(w15),
      price_momentum_1h: momentum(w60),
      price_momentum_4h: momentum(w240),
      volatility_5m: volatility(w5),
      volatility_15m: volatility(w15),
      volatility_1h: volatility(w60),
      volatility_4h: volatility(w240),
      volume_ratio_5m: ratio(w5),
      volume_ratio_1h: ratio(w60),
      bid_ask_ratio: ratioDepth,
      spread_pct: spread,
      schema_version: "1.0.0",
    };
  }
}

/** Deterministic random stream of snapshots for a few markets with gaps, halts, zeros. */
function* randomSnapshots(
  count: number,
  markets: number,
  seed: number,
): Generator<[FeatureInput, BookDepth | null]> {
  let state = seed >>> 0;
  const rand = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
  const price: number[] = [];
  const volume: number[] = [];
  const time: number[] = [];
  for (let m = 0; m < markets; m++) {
    price.push(0.2 + 0.6 * rand());
    volume.push(10_000 + 1e6 * rand());
    time.push(1_700_000_000 * S + Math.floor(rand() * 1e9));
  }
  const cadences = [15, 30, 60, 300];
  for (let i = 0; i < count; i++) {
    const m = Math.floor(rand() * markets);
    const u = rand();
    let step: number;
    if (u < 0.01) step = (301 + Math.floor(rand() * 20000)) * S; // halt
    else if (u < 0.015) step = 0; // duplicate time
    else step = cadences[m % 4] * S + Math.floor((rand() - 0.5) * 4 * S); // jitter
    time[m] += step;
    const regime = (i >> 12) % 3;
    if (regime === 2) price[m] = price[m] * (1 + 1e-7 * (rand() - 0.5)); // tiny moves
    else price[m] = Math.min(1, Math.max(0, price[m] + 0.02 * (rand() - 0.5)));
    if (rand() < 0.002) price[m] = 0;
    volume[m] = Math.max(0, volume[m] * (1 + 0.1 * (rand() - 0.5)));
    if (rand() < 0.002) volume[m] = 0;
    else if (volume[m] === 0 && rand() < 0.05) volume[m] = 50_000;
    const bid = rand() < 0.1 ? null : Math.max(0, price[m] - 0.01);
    const ask = rand() < 0.1 ? null : Math.min(1, price[m] + 0.01);
    const depth = rand() < 0.1 ? null : { bid_depth: rand() * 1e4, ask_depth: rand() * 1e4 };
    yield [{
      market_id: `m${m}`,
      timestamp: time[m],
      last_price: price[m],
      volume_24h: volume[m],
      bid,
      ask,
    }, depth];
  }
}

const FIELDS = [
  "price_momentum_5m",
  "price_momentum_15m",
  "price_momentum_1h",
  "price_momentum_4h",
  "volatility_5m",
  "volatility_15m",
  "volatility_1h",
  "volatility_4h",
  "volume_ratio_5m",
  "volume_ratio_1h",
  "bid_ask_ratio",
  "spread_pct",
] as const;

Deno.test("incremental equals from-scratch to 1e-9 (relative above 1) on 100,000 random snapshots", () => {
  const pipeline = new FeaturePipeline();
  const references = new Map<string, Reference>();
  let emitted = 0;
  let worst = 0;
  for (const [s, depth] of randomSnapshots(100_000, 20, 42)) {
    let ref = references.get(s.market_id);
    if (!ref) references.set(s.market_id, ref = new Reference());
    const expected = ref.update(s, depth);
    const actual = pipeline.update(s, depth);
    if (expected === null) {
      assertEquals(actual, null);
      continue;
    }
    assert(actual !== null);
    emitted++;
    assertEquals(actual.computed_at, expected.computed_at);
    assertEquals(actual.market_id, expected.market_id);
    for (const f of FIELDS) {
      const a = actual[f];
      const e = expected[f];
      if (a === null || e === null) {
        assertEquals(a, e, f);
        continue;
      }
      // absolute below 1, relative above (volume ratios explode when the baseline nears 0)
      const diff = Math.abs(a - e) / Math.max(1, Math.abs(e));
      worst = Math.max(worst, diff);
      assert(diff <= 1e-9, `${f}: incremental ${a} vs scratch ${e} at ${s.timestamp}`);
    }
  }
  assert(emitted > 90_000, `emitted ${emitted}`);
  assert(worst < 1e-12, `worst difference ${worst}`);
});

Deno.test("state/loadState round trip reproduces future outputs bit for bit", () => {
  const stream = [...randomSnapshots(12_000, 3, 7)];
  for (const cut of [0, 1, 40, 63, 64, 65, 130, 600, 1500, 3000, 9000]) {
    const a = new FeaturePipeline();
    for (const [s, d] of stream.slice(0, cut)) a.update(s, d);
    const b = new FeaturePipeline();
    for (const market of a.markets()) {
      const saved = JSON.parse(JSON.stringify(a.state(market)));
      b.loadState(market, saved);
      assertEquals(b.state(market), a.state(market));
    }
    for (const [s, d] of stream.slice(cut)) {
      const x = a.update(s, d);
      const y = b.update(s, d);
      assertEquals(y, x);
    }
  }
});

Deno.test("loadState rejects malformed state with a typed error", () => {
  const p = new FeaturePipeline();
  for (let i = 0; i < 10; i++) p.update(snap(i * 30 * S, 0.5));
  const state = p.state("m")!;
  assertThrows(() => p.loadState("m", { ...state, prices: [1] }), FeatureStateError, "prices");
  assertThrows(() => p.loadState("m", { ...state, extra: 1 }), FeatureStateError);
  assertThrows(() => p.loadState("m", { ...state, count: -1 }), FeatureStateError, "count");
  assertThrows(() => new FeaturePipeline({ ewma_alpha: 0 }), FeatureStateError, "ewma_alpha");
});

Deno.test("pure: same inputs in two pipelines give identical outputs", () => {
  const a = new FeaturePipeline();
  const b = new FeaturePipeline();
  for (const [s, d] of randomSnapshots(3_000, 2, 99)) assertEquals(a.update(s, d), b.update(s, d));
  assertEquals(a.lastTimestamp("m0"), b.lastTimestamp("m0"));
  assertEquals(a.lastTimestamp("nope"), null);
  a.reset("m0");
  assertEquals(a.state("m0"), null);
});

Deno.test("numerically stable on constant drift (near-zero variance) and huge volumes", () => {
  const pipeline = new FeaturePipeline();
  const ref = new Reference();
  let price = 0.001;
  for (let i = 0; i < 3000; i++) {
    price *= 1.0005;
    const s = snap(i * 15 * S, price, 1e12 + i);
    const expected = ref.update(s, null);
    const actual = pipeline.update(s, null);
    if (expected === null) continue;
    for (const f of FIELDS) {
      const a = actual![f];
      const e = expected[f];
      if (a === null || e === null) {
        assertEquals(a, e);
        continue;
      }
      assert(Math.abs(a - e) <= 1e-12 * Math.max(1, Math.abs(e)), `${f}: ${a} vs ${e}`);
    }
  }
});
