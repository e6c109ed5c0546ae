/**
 * The feature ring keeps (price, volume) per snapshot and the prefix sums only every few
 * snapshots, rebuilding the others by replay. These tests pin that every vector and every
 * saved state is bit for bit what a ring storing each snapshot's prefix sums gives (the
 * previous layout, kept here as the reference): same double-double operations, same order.
 */
import { assert, assertEquals } from "../../helpers/assert.ts";
import {
  type BookDepth,
  type FeatureInput,
  type FeatureOptions,
  FeaturePipeline,
} from "../../../pipeline/features.ts";
import type { FeatureVector } from "../../../pipeline/models.ts";

const S = 1_000_000;
const SPLITTER = 134217729;

// Double-double helpers with module outputs, as the pipeline computes them.
let hi = 0;
let lo = 0;
function add(h: number, l: number, x: number): void {
  const s = h + x;
  const bp = s - h;
  const e = (h - (s - bp)) + (x - bp) + l;
  hi = s + e;
  lo = e - (hi - s);
}
function sub(hb: number, lb: number, ha: number, la: number): void {
  const s = hb - ha;
  const bp = s - hb;
  const e = (hb - (s - bp)) + (-ha - bp) + (lb - la);
  hi = s + e;
  lo = e - (hi - s);
}
function productError(a: number, b: number, p: number): number {
  let c = SPLITTER * a;
  const ah = c - (c - a);
  const al = a - ah;
  c = SPLITTER * b;
  const bh = c - (c - b);
  const bl = b - bh;
  return ((ah * bh - p) + ah * bl + al * bh) + al * bl;
}
function variance(s1h: number, s1l: number, s2h: number, s2l: number, k: number): number {
  const p = s1h * s1h;
  const pe = productError(s1h, s1h, p) + 2 * s1h * s1l;
  const qh = p / k;
  const t = qh * k;
  const ql = (((p - t) - productError(qh, k, t)) + pe) / k;
  sub(s2h, s2l, qh, ql);
  const v = (hi + lo) / (k - 1);
  return v > 0 ? v : 0;
}

/** Every snapshot's prefix sums, never evicted (absolute index → entry). */
interface Entry {
  p: number;
  v: number;
  /** Σ volumes before (exclusive); Σ r and Σ r² through (inclusive); valid returns. */
  V: [number, number];
  R: [number, number];
  Q: [number, number];
  n: number;
}

/** One market on the previous layout (DOMAIN §4 steps as in the pipeline). */
class PrefixReference {
  entries: Entry[] = [];
  intervals: number[] = [];
  interval = 60;
  baseline = 0;
  initialized = false;
  last: number | null = null;
  constructor(readonly o: FeatureOptions) {}

  update(s: FeatureInput, depth: BookDepth | null): FeatureVector | null {
    let delta = 0;
    if (this.last !== null) {
      delta = Math.trunc((s.timestamp - this.last) / S);
      if (delta > 0 && delta <= this.o.max_polling_interval_seconds) {
        this.intervals.push(delta);
        if (this.intervals.length > 20) this.intervals.shift();
        const sum = this.intervals.reduce((a, b) => a + b, 0);
        this.interval = Math.max(1, Math.floor(sum / this.intervals.length));
      }
    }
    this.last = s.timestamp;
    const prev = this.entries.at(-1);
    const e: Entry = { p: s.last_price, v: s.volume_24h, V: [0, 0], R: [0, 0], Q: [0, 0], n: 0 };
    if (prev) {
      add(prev.V[0], prev.V[1], prev.v);
      e.V = [hi, lo];
      e.R = prev.R;
      e.Q = prev.Q;
      e.n = prev.n;
      if (prev.p > 0 && e.p > 0) {
        const r = Math.log(e.p / prev.p);
        add(prev.R[0], prev.R[1], r);
        e.R = [hi, lo];
        const square = r * r;
        add(prev.Q[0], prev.Q[1] + productError(r, r, square), square);
        e.Q = [hi, lo];
        e.n = prev.n + 1;
      }
    }
    this.entries.push(e);
    if (!this.initialized) {
      this.baseline = s.volume_24h;
      this.initialized = true;
    } else {
      const k = delta > 2 * this.interval ? Math.max(1, Math.floor(delta / this.interval)) : 1;
      const d = Math.pow(1 - this.o.ewma_alpha, k);
      this.baseline = d * this.baseline + (1 - d) * s.volume_24h;
    }
    const length = Math.min(this.entries.length, this.o.buffer_size);
    if (length < this.o.warmup_size) return null;
    const b = this.entries.length - 1;
    const last = this.entries[b];
    const momentum = [0, 0, 0, 0];
    const volatility = [0, 0, 0, 0];
    const ratio = [1, 1];
    for (const [w, span] of [300, 900, 3600, 14400].entries()) {
      const m = Math.min(Math.max(2, Math.floor(span / this.interval)), length);
      const first = this.entries[b - m + 1];
      if (m >= 2 && first.p > 0) momentum[w] = (last.p - first.p) / first.p + 0;
      const k = last.n - first.n;
      if (m >= 3 && k >= 2) {
        sub(last.R[0], last.R[1], first.R[0], first.R[1]);
        const [s1h, s1l] = [hi, lo];
        sub(last.Q[0], last.Q[1], first.Q[0], first.Q[1]);
        volatility[w] = Math.sqrt(variance(s1h, s1l, hi, lo, k)) + 0;
      }
      if ((w === 0 || w === 2) && this.baseline > 0) {
        add(last.V[0], last.V[1], last.v);
        sub(hi, lo, first.V[0], first.V[1]);
        ratio[w === 0 ? 0 : 1] = (hi + lo) / (this.baseline * m) + 0;
      }
    }
    let spread: number | null = null;
    if (s.bid !== null && s.ask !== null && (s.ask + s.bid) / 2 > 0) {
      spread = (s.ask - s.bid) / ((s.ask + s.bid) / 2) + 0;
    }
    let bidAsk: number | null = null;
    if (depth && depth.bid_depth !== null && depth.ask_depth !== null) {
      const total = depth.bid_depth + depth.ask_depth;
      if (total > 0) bidAsk = depth.bid_depth / total + 0;
    }
    return {
      market_id: s.market_id,
      computed_at: s.timestamp,
      price_momentum_5m: momentum[0],
      price_momentum_15m: momentum[1],
      price_momentum_1h: momentum[2],
      price_momentum_4h: momentum[3],
      volatility_5m: volatility[0],
      volatility_15m: volatility[1],
      volatility_1h: volatility[2],
      volatility_4h: volatility[3],
      volume_ratio_5m: ratio[0],
      volume_ratio_1h: ratio[1],
      bid_ask_ratio: bidAsk,
      spread_pct: spread,
      schema_version: "1.0.0",
    };
  }

  /** The saved anchor: prefix sums of the oldest retained snapshot. */
  anchor(): number[] {
    const e = this.entries[Math.max(0, this.entries.length - this.o.buffer_size)];
    return [e.V[0], e.V[1], e.R[0], e.R[1], e.Q[0], e.Q[1], e.n].map((x) => x + 0);
  }
}

/**
 * Snapshots of a few markets whose cadence changes in phases (so window starts jump back and
 * forth across the marks), with halts, repeated times, zero prices and huge volumes.
 */
function* stream(
  count: number,
  markets: number,
  seed: number,
): Generator<[FeatureInput, BookDepth]> {
  let state = seed >>> 0;
  const rand = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 4294967296;
  const price = Array.from({ length: markets }, () => 0.2 + 0.6 * rand());
  const volume = Array.from({ length: markets }, () => 1e4 + 1e6 * rand());
  const time = Array.from({ length: markets }, () => 1_700_000_000 * S);
  const cadences = [1, 5, 15, 30, 60, 300];
  for (let i = 0; i < count; i++) {
    const m = Math.floor(rand() * markets);
    const cadence = cadences[((i >> 9) + m) % cadences.length];
    const u = rand();
    time[m] += u < 0.01 ? 400 * S : u < 0.02 ? 0 : cadence * S + Math.floor(rand() * S);
    price[m] = rand() < 0.005
      ? 0
      : Math.min(1, Math.max(0.01, (price[m] || 0.5) + 0.02 * (rand() - 0.5)));
    volume[m] = rand() < 0.002
      ? 1e15 * rand()
      : Math.max(0, volume[m] * (1 + 0.1 * (rand() - 0.5)));
    yield [{
      market_id: `m${m}`,
      timestamp: time[m],
      last_price: price[m],
      volume_24h: volume[m],
      bid: price[m] - 0.01,
      ask: price[m] + 0.01,
    }, { bid_depth: rand() * 1e4, ask_depth: rand() * 1e4 }];
  }
}

/** Same vector, compared with Object.is (−0 ≠ 0, NaN = NaN). */
function assertIdentical(actual: FeatureVector | null, expected: FeatureVector | null, at: string) {
  if (actual === null || expected === null) {
    assertEquals(actual, expected, at);
    return;
  }
  for (const [key, value] of Object.entries(expected)) {
    const got = actual[key as keyof FeatureVector];
    assert(Object.is(got, value), `${at} ${key}: ${got} vs ${value}`);
  }
}

const SIZES: Partial<FeatureOptions>[] = [
  { buffer_size: 3, warmup_size: 1 },
  { buffer_size: 16, warmup_size: 2 },
  { buffer_size: 17, warmup_size: 17 },
  { buffer_size: 100, warmup_size: 5 },
  { buffer_size: 500, warmup_size: 50 },
  { buffer_size: 529, warmup_size: 1 },
];

Deno.test("feature ring: vectors and saved anchors equal a ring keeping every prefix sum", () => {
  for (const [i, size] of SIZES.entries()) {
    const pipeline = new FeaturePipeline(size);
    const references = new Map<string, PrefixReference>();
    let vectors = 0;
    for (const [s, depth] of stream(6_000, 3, 11 + i)) {
      let reference = references.get(s.market_id);
      if (!reference) {
        references.set(s.market_id, reference = new PrefixReference(pipeline.options));
      }
      const expected = reference.update(s, depth);
      assertIdentical(pipeline.update(s, depth), expected, `buffer ${size.buffer_size}`);
      if (expected) vectors++;
    }
    assert(vectors > 5_000, `buffer ${size.buffer_size}: ${vectors} vectors`);
    for (const [market, reference] of references) {
      assertEquals(pipeline.state(market)!.anchor, reference.anchor(), market);
    }
  }
});

Deno.test("feature ring: a loaded state continues bit for bit (any cut, any buffer size)", () => {
  for (const size of SIZES) {
    const all = [...stream(3_000, 2, 5)];
    for (const cut of [1, 15, 16, 17, 33, 100, 517, 1_100, 2_999]) {
      const first = new FeaturePipeline(size);
      const references = new Map<string, PrefixReference>();
      for (const [s, depth] of all.slice(0, cut)) {
        first.update(s, depth);
        let reference = references.get(s.market_id);
        if (!reference) references.set(s.market_id, reference = new PrefixReference(first.options));
        reference.update(s, depth);
      }
      const second = new FeaturePipeline(size);
      for (const market of first.markets()) {
        second.loadState(market, JSON.parse(JSON.stringify(first.state(market))));
      }
      for (const [s, depth] of all.slice(cut)) {
        let reference = references.get(s.market_id);
        if (!reference) references.set(s.market_id, reference = new PrefixReference(first.options));
        const expected = reference.update(s, depth);
        assertIdentical(second.update(s, depth), expected, `cut ${cut}`);
      }
    }
  }
});
