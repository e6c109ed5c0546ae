/**
 * The feature pipeline (DOMAIN §4): per-market buffers of the last 500 snapshots, a halt-aware
 * EWMA volume baseline, an interval estimate from observed gaps, and a
 * {@linkcode FeatureVector} per snapshot once warm.
 *
 * Incremental: every per-snapshot step is O(1). Windows are answered from prefix sums (volume,
 * log return, squared log return, count of valid returns) kept in double-double precision, so
 * any window size costs two lookups, and the variance is formed in double-double too (no
 * catastrophic cancellation). Results match a from-scratch recomputation to ~1e-15. The ring
 * stores (price, volume) per snapshot and the prefix sums only every 16th snapshot; the others
 * are replayed exactly (about 10 KB per market at 500 snapshots; see the layout below).
 *
 * Pure: time comes only from snapshot timestamps (integer epoch µs). State is serializable
 * ({@linkcode FeaturePipeline.state} / {@linkcode FeaturePipeline.loadState}); a round trip
 * reproduces future outputs bit for bit.
 *
 * Duplicate or out-of-order snapshots are NOT filtered here (DOMAIN §4 processes what it is
 * given: Δ ≤ 0 records no interval and decays the baseline once). Workers that may see
 * redeliveries skip inputs with `timestamp ≤ lastTimestamp(market)` before calling `update`.
 *
 * @example
 * ```ts
 * import { FeaturePipeline } from "./features.ts";
 * const pipeline = new FeaturePipeline();
 * const snapshot = { market_id: "m", timestamp: 0, last_price: 0.5, volume_24h: 1000,
 *   bid: 0.49, ask: 0.51 };
 * pipeline.update(snapshot, { bid_depth: 300, ask_depth: 100 }); // null until 50 snapshots
 * ```
 * @module
 */
import { z } from "zod";
import { AugurError } from "../config/errors.ts";
import { type FeatureVector, type MarketSnapshot, SCHEMA_VERSION } from "./models.ts";

/** Feature pipeline options (code-only defaults, DOMAIN §12). */
export interface FeatureOptions {
  /** Snapshots kept per market (500). */
  readonly buffer_size: number;
  /** Snapshots needed before a vector is emitted (50). */
  readonly warmup_size: number;
  /** EWMA smoothing of `volume_24h` per expected interval (0.05). */
  readonly ewma_alpha: number;
  /** Gaps above this many seconds are not interval samples (300). */
  readonly max_polling_interval_seconds: number;
}

/** The defaults of {@linkcode FeatureOptions}. */
export const DEFAULT_FEATURE_OPTIONS: FeatureOptions = {
  buffer_size: 500,
  warmup_size: 50,
  ewma_alpha: 0.05,
  max_polling_interval_seconds: 300,
};

/** The snapshot fields the pipeline reads. */
export type FeatureInput = Pick<
  MarketSnapshot,
  "market_id" | "timestamp" | "last_price" | "volume_24h" | "bid" | "ask"
>;

/** Per-side USD depth over the top 5 book levels; null sides mean no book. */
export interface BookDepth {
  readonly bid_depth: number | null;
  readonly ask_depth: number | null;
}

/** Interval estimate before any gap was observed (seconds). */
export const INITIAL_INTERVAL_SECONDS = 60;
/** Accepted intervals kept for the estimate. */
export const INTERVAL_HISTORY = 20;
/** Window spans in seconds: 5m, 15m, 1h, 4h. */
export const WINDOW_SECONDS = [300, 900, 3600, 14400] as const;

/** A state that cannot be loaded, or bad options. */
export class FeatureStateError extends AugurError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "FeatureStateError";
  }
}

/** Serializable per-market state (plain JSON; all numbers finite). */
export const FeatureStateSchema = z.strictObject({
  version: z.literal(1),
  /** Snapshots seen so far. */
  count: z.int().min(0),
  last_timestamp: z.int().nullable(),
  /** Accepted intervals, oldest first (≤ 20). */
  intervals: z.array(z.int().positive()).max(INTERVAL_HISTORY),
  /** Interval estimate I (seconds). */
  interval: z.int().positive(),
  baseline: z.number(),
  initialized: z.boolean(),
  /** Absolute index of the oldest retained snapshot. */
  first_index: z.int().min(0),
  /** Retained prices and volumes, oldest first (`count − first_index` of each). */
  prices: z.array(z.number()),
  volumes: z.array(z.number()),
  /**
   * Prefix sums at `first_index`: [volume before it hi, lo, log returns through it hi, lo,
   * squared log returns hi, lo, valid returns].
   */
  anchor: z.tuple([
    z.number(),
    z.number(),
    z.number(),
    z.number(),
    z.number(),
    z.number(),
    z.number(),
  ]),
});
/** Serializable per-market state. */
export type FeatureState = z.infer<typeof FeatureStateSchema>;

// Ring layout: one Float64Array. The first 2·capacity slots hold (price, volume) of each
// retained snapshot; after them come the marks, one every SPACING snapshots (counted from
// the first retained one, `base`), each the prefix sums AT its snapshot: Σ volumes before
// it (exclusive, so a window [a, b] is answered from entries a and b only), Σ log returns
// and Σ squared log returns through it (inclusive: the return of entry i pairs i−1 and i),
// both double-double, and the count of valid returns. The prefix sums of any other retained
// snapshot are rebuilt by replaying the appends since the mark before it: the same
// floating-point operations in the same order, so a window reads exactly the values a ring
// keeping every snapshot's prefix sums would (7 fewer doubles per snapshot: 10 KB instead of
// 36 KB per market at 500 snapshots). The newest snapshot's prefix sums are kept as fields.
// Last come four cursors, one per window: the start snapshot (offset from `base`) a window
// last read and its prefix sums; a window's start mostly moves one snapshot per update, so
// the replay starts there (one step) whenever it lies between the mark and the new start.
const SPACING = 16;
const MARK = 7;
const CURSOR = 1 + MARK; // offset (−1: none), then the prefix sums
const CURSORS = 4 * CURSOR;
const V_HI = 0; // Σ volumes BEFORE this entry (exclusive prefix), double-double
const V_LO = 1;
const R_HI = 2;
const R_LO = 3;
const Q_HI = 4;
const Q_LO = 5;
const COUNT = 6;
const INITIAL_CAPACITY = 32; // a multiple of SPACING
const SPLITTER = 134217729; // 2^27 + 1

// Per-call scratch of MarketFeatures#vector (synchronous, never re-entered).
const MOMENTUM = new Float64Array(4);
const VOLATILITY = new Float64Array(4);
const VOLUME_RATIO = new Float64Array(2);

// Scratch outputs of the double-double helpers (avoid allocation on the hot path).
let outHi = 0;
let outLo = 0;

// Scratch output of MarketFeatures#prefixAt: the prefix sums of one snapshot.
const PREFIX = new Float64Array(MARK);

/** (hi, lo) + x → (outHi, outLo). */
function ddAdd(hi: number, lo: number, x: number): void {
  const s = hi + x;
  const bp = s - hi;
  const e = (hi - (s - bp)) + (x - bp) + lo;
  outHi = s + e;
  outLo = e - (outHi - s);
}

/** (hb, lb) − (ha, la) → (outHi, outLo). */
function ddSub(hb: number, lb: number, ha: number, la: number): void {
  const s = hb - ha;
  const bp = s - hb;
  const e = (hb - (s - bp)) + (-ha - bp) + (lb - la);
  outHi = s + e;
  outLo = e - (outHi - s);
}

/** Rounding error of a × b (Dekker). */
function productError(a: number, b: number, p: number): number {
  let c = SPLITTER * a;
  const ah = c - (c - a);
  const al = a - ah;
  c = SPLITTER * b;
  const bh = c - (c - b);
  const bl = b - bh;
  return ((ah * bh - p) + ah * bl + al * bh) + al * bl;
}

/** Sample variance (divisor k − 1) from double-double sums S1 = Σr, S2 = Σr². */
function sampleVariance(s1h: number, s1l: number, s2h: number, s2l: number, k: number): number {
  // S1² as double-double
  const p = s1h * s1h;
  const pe = productError(s1h, s1h, p) + 2 * s1h * s1l;
  // (S1²)/k as double-double
  const qh = p / k;
  const t = qh * k;
  const te = productError(qh, k, t);
  const ql = (((p - t) - te) + pe) / k;
  // S2 − S1²/k
  ddSub(s2h, s2l, qh, ql);
  const numerator = outHi + outLo;
  const v = numerator / (k - 1);
  return v > 0 ? v : 0;
}

/** Whole seconds between two µs instants, truncated toward zero. */
function wholeSeconds(later: number, earlier: number): number {
  const d = later - earlier;
  let q = Math.trunc(d / 1_000_000);
  // the quotient can round onto the next integer for huge |d|; fix exactly
  if (d >= 0 ? q * 1_000_000 > d : q * 1_000_000 < d) q += d >= 0 ? -1 : 1;
  return q;
}

/** Ring capacity (snapshots) once grown: every window start and the mark before it. */
function ringCapacity(bufferSize: number): number {
  return Math.ceil((bufferSize + SPACING - 1) / SPACING) * SPACING;
}

/** Doubles of a ring of `capacity` snapshots (a multiple of SPACING). */
function ringLength(capacity: number): number {
  return capacity * 2 + (capacity / SPACING) * MARK + CURSORS;
}

/** An empty ring: no cursor set. */
function newRing(capacity: number): Float64Array {
  const ring = new Float64Array(ringLength(capacity));
  for (let c = ring.length - CURSORS; c < ring.length; c += CURSOR) ring[c] = -1;
  return ring;
}

/**
 * One market's incremental feature state.
 *
 * @example
 * ```ts
 * import { MarketFeatures } from "./features.ts";
 * const m = new MarketFeatures("m");
 * m.update({ market_id: "m", timestamp: 0, last_price: 0.5, volume_24h: 10, bid: null,
 *   ask: null }, null); // null (warming up)
 * ```
 */
export class MarketFeatures {
  readonly marketId: string;
  readonly #options: FeatureOptions;
  readonly #fullCapacity: number;
  #ring: Float64Array;
  #capacity: number;
  /** Absolute index of the first snapshot this ring held (marks count from it). */
  #base = 0;
  #count = 0;
  // Prefix sums at the newest snapshot (the values its mark would hold).
  #vHi = 0;
  #vLo = 0;
  #rHi = 0;
  #rLo = 0;
  #qHi = 0;
  #qLo = 0;
  #valid = 0;
  #lastTimestamp: number | null = null;
  #intervals: number[] = [];
  #intervalSum = 0;
  #interval = INITIAL_INTERVAL_SECONDS;
  #baseline = 0;
  #initialized = false;

  constructor(marketId: string, options: FeatureOptions = DEFAULT_FEATURE_OPTIONS) {
    this.marketId = marketId;
    this.#options = options;
    this.#fullCapacity = ringCapacity(options.buffer_size);
    this.#capacity = Math.min(INITIAL_CAPACITY, this.#fullCapacity);
    this.#ring = newRing(this.#capacity);
  }

  /** Snapshots seen. */
  get count(): number {
    return this.#count;
  }

  /** Timestamp (µs) of the last snapshot, or null. */
  get lastTimestamp(): number | null {
    return this.#lastTimestamp;
  }

  /** Current interval estimate I (seconds). */
  get interval(): number {
    return this.#interval;
  }

  /** Current EWMA volume baseline B. */
  get baseline(): number {
    return this.#baseline;
  }

  /**
   * Ingest one snapshot; returns the feature vector once warm, else null.
   */
  update(snapshot: FeatureInput, depth: BookDepth | null = null): FeatureVector | null {
    const ts = snapshot.timestamp;
    const price = snapshot.last_price;
    const volume = snapshot.volume_24h;
    const options = this.#options;

    // 1. Δ and the interval estimate.
    let delta = 0;
    const hasPrevious = this.#lastTimestamp !== null;
    if (hasPrevious) {
      delta = wholeSeconds(ts, this.#lastTimestamp as number);
      if (delta > 0 && delta <= options.max_polling_interval_seconds) {
        this.#intervals.push(delta);
        this.#intervalSum += delta;
        if (this.#intervals.length > INTERVAL_HISTORY) {
          this.#intervalSum -= this.#intervals.shift() as number;
        }
        this.#interval = Math.max(1, Math.floor(this.#intervalSum / this.#intervals.length));
      }
    }
    this.#lastTimestamp = ts;

    // 2. Append to the buffer (ring of prefix sums).
    this.#append(price, volume);

    // 3. Halt-aware EWMA with the true Δ.
    if (!this.#initialized) {
      this.#baseline = volume;
      this.#initialized = true;
    } else {
      const interval = this.#interval;
      const k = delta > 2 * interval ? Math.max(1, Math.floor(delta / interval)) : 1;
      const d = Math.pow(1 - options.ewma_alpha, k);
      this.#baseline = d * this.#baseline + (1 - d) * volume;
    }

    // 4. Warm-up.
    const length = this.#count < options.buffer_size ? this.#count : options.buffer_size;
    if (length < options.warmup_size) return null;
    return this.#vector(snapshot, depth, length);
  }

  #append(price: number, volume: number): void {
    const offset = this.#count - this.#base;
    if (offset >= this.#capacity && this.#capacity < this.#fullCapacity) this.#grow();
    const cap = this.#capacity;
    const ring = this.#ring;
    if (offset > 0) {
      const prev = ((offset - 1) % cap) * 2;
      const previousPrice = ring[prev];
      ddAdd(this.#vHi, this.#vLo, ring[prev + 1]);
      this.#vHi = outHi;
      this.#vLo = outLo;
      if (previousPrice > 0 && price > 0) {
        const r = Math.log(price / previousPrice);
        ddAdd(this.#rHi, this.#rLo, r);
        this.#rHi = outHi;
        this.#rLo = outLo;
        // r² exactly as a double-double (the rounding of r·r would dominate tiny variances)
        const square = r * r;
        ddAdd(this.#qHi, this.#qLo + productError(r, r, square), square);
        this.#qHi = outHi;
        this.#qLo = outLo;
        this.#valid = this.#valid + 1;
      }
    } else {
      // the first snapshot: nothing before it
      this.#vHi = 0;
      this.#vLo = 0;
      this.#rHi = 0;
      this.#rLo = 0;
      this.#qHi = 0;
      this.#qLo = 0;
      this.#valid = 0;
    }
    const at = (offset % cap) * 2;
    ring[at] = price;
    ring[at + 1] = volume;
    if (offset % SPACING === 0) this.#writeMark(offset);
    this.#count++;
  }

  /** Store the newest snapshot's prefix sums as the mark of `offset` (a multiple of SPACING). */
  #writeMark(offset: number): void {
    const cap = this.#capacity;
    const ring = this.#ring;
    const at = 2 * cap + ((offset / SPACING) % (cap / SPACING)) * MARK;
    ring[at + V_HI] = this.#vHi;
    ring[at + V_LO] = this.#vLo;
    ring[at + R_HI] = this.#rHi;
    ring[at + R_LO] = this.#rLo;
    ring[at + Q_HI] = this.#qHi;
    ring[at + Q_LO] = this.#qLo;
    ring[at + COUNT] = this.#valid;
  }

  /** Grow while no entry has wrapped yet (offset === capacity): positions stay put. */
  #grow(): void {
    const cap = this.#capacity;
    const next = Math.min(cap * 2, this.#fullCapacity);
    const old = this.#ring;
    const ring = new Float64Array(ringLength(next));
    const marks = 2 * cap + (cap / SPACING) * MARK;
    ring.set(old.subarray(0, 2 * cap)); // snapshots
    ring.set(old.subarray(2 * cap, marks), 2 * next); // marks
    ring.set(old.subarray(marks), ring.length - CURSORS); // cursors
    this.#ring = ring;
    this.#capacity = next;
  }

  /**
   * Prefix sums of the retained snapshot at absolute `index` into {@linkcode PREFIX}: the
   * mark at or before it (or window `cursor`'s last start, when between the two), then the
   * appends after it replayed (see the ring layout). With a cursor, the result becomes its
   * new position.
   */
  #prefixAt(index: number, cursor = -1): void {
    const cap = this.#capacity;
    const ring = this.#ring;
    const offset = index - this.#base;
    const markOffset = offset - offset % SPACING;
    let m = 2 * cap + ((markOffset / SPACING) % (cap / SPACING)) * MARK;
    let from = markOffset;
    const c = cursor < 0 ? -1 : ringLength(cap) - CURSORS + cursor * CURSOR;
    if (c >= 0 && ring[c] >= markOffset && ring[c] <= offset) {
      from = ring[c];
      m = c + 1;
    }
    let vHi = ring[m + V_HI];
    let vLo = ring[m + V_LO];
    let rHi = ring[m + R_HI];
    let rLo = ring[m + R_LO];
    let qHi = ring[m + Q_HI];
    let qLo = ring[m + Q_LO];
    let valid = ring[m + COUNT];
    let at = (from % cap) * 2;
    for (let o = from + 1; o <= offset; o++) {
      const previousPrice = ring[at];
      ddAdd(vHi, vLo, ring[at + 1]);
      vHi = outHi;
      vLo = outLo;
      at = (o % cap) * 2;
      const price = ring[at];
      if (previousPrice > 0 && price > 0) {
        const r = Math.log(price / previousPrice);
        ddAdd(rHi, rLo, r);
        rHi = outHi;
        rLo = outLo;
        const square = r * r;
        ddAdd(qHi, qLo + productError(r, r, square), square);
        qHi = outHi;
        qLo = outLo;
        valid = valid + 1;
      }
    }
    PREFIX[V_HI] = vHi;
    PREFIX[V_LO] = vLo;
    PREFIX[R_HI] = rHi;
    PREFIX[R_LO] = rLo;
    PREFIX[Q_HI] = qHi;
    PREFIX[Q_LO] = qLo;
    PREFIX[COUNT] = valid;
    if (c >= 0) {
      ring[c] = offset;
      ring[c + 1 + V_HI] = vHi;
      ring[c + 1 + V_LO] = vLo;
      ring[c + 1 + R_HI] = rHi;
      ring[c + 1 + R_LO] = rLo;
      ring[c + 1 + Q_HI] = qHi;
      ring[c + 1 + Q_LO] = qLo;
      ring[c + 1 + COUNT] = valid;
    }
  }

  #vector(snapshot: FeatureInput, depth: BookDepth | null, length: number): FeatureVector {
    const ring = this.#ring;
    const cap = this.#capacity;
    const base = this.#base;
    const b = this.#count - 1;
    const pLast = ring[((b - base) % cap) * 2];
    const interval = this.#interval;
    const baseline = this.#baseline;
    const momentum = MOMENTUM;
    const volatility = VOLATILITY;
    const volumeRatio = VOLUME_RATIO;
    momentum.fill(0);
    volatility.fill(0);
    volumeRatio.fill(1);
    for (let w = 0; w < 4; w++) {
      const n = Math.max(2, Math.floor(WINDOW_SECONDS[w] / interval));
      const m = n < length ? n : length;
      const a = b - m + 1;
      // momentum
      const pFirst = ring[((a - base) % cap) * 2];
      if (m >= 2 && pFirst > 0) momentum[w] = (pLast - pFirst) / pFirst + 0;
      const ratio = (w === 0 || w === 2) && baseline > 0;
      if (m < 3 && !ratio) continue;
      this.#prefixAt(a, w);
      // volatility over pairs a+1..b
      if (m >= 3) {
        const k = this.#valid - PREFIX[COUNT];
        if (k >= 2) {
          ddSub(this.#rHi, this.#rLo, PREFIX[R_HI], PREFIX[R_LO]);
          const s1h = outHi;
          const s1l = outLo;
          ddSub(this.#qHi, this.#qLo, PREFIX[Q_HI], PREFIX[Q_LO]);
          volatility[w] = Math.sqrt(sampleVariance(s1h, s1l, outHi, outLo, k)) + 0;
        }
      }
      // volume ratio (5m → w 0, 1h → w 2) over snapshots a..b
      if (ratio) {
        // Σ v_a..v_b = (prefix-before(b) + v_b) − prefix-before(a)
        ddAdd(this.#vHi, this.#vLo, ring[((b - base) % cap) * 2 + 1]);
        ddSub(outHi, outLo, PREFIX[V_HI], PREFIX[V_LO]);
        const sum = outHi + outLo;
        volumeRatio[w === 0 ? 0 : 1] = sum / (baseline * m) + 0;
      }
    }
    const bid = snapshot.bid;
    const ask = snapshot.ask;
    let spreadPct: number | null = null;
    if (bid !== null && ask !== null) {
      const mid = (ask + bid) / 2;
      if (mid > 0) spreadPct = (ask - bid) / mid + 0;
    }
    let bidAskRatio: number | null = null;
    if (depth !== null && depth.bid_depth !== null && depth.ask_depth !== null) {
      const total = depth.bid_depth + depth.ask_depth;
      if (total > 0) bidAskRatio = depth.bid_depth / total + 0;
    }
    return {
      market_id: snapshot.market_id,
      computed_at: snapshot.timestamp,
      price_momentum_5m: momentum[0],
      price_momentum_15m: momentum[1],
      price_momentum_1h: momentum[2],
      price_momentum_4h: momentum[3],
      volatility_5m: volatility[0],
      volatility_15m: volatility[1],
      volatility_1h: volatility[2],
      volatility_4h: volatility[3],
      volume_ratio_5m: volumeRatio[0],
      volume_ratio_1h: volumeRatio[1],
      bid_ask_ratio: bidAskRatio,
      spread_pct: spreadPct,
      schema_version: SCHEMA_VERSION,
    };
  }

  /** Serializable state (see {@linkcode FeatureStateSchema}). */
  state(): FeatureState {
    const cap = this.#capacity;
    const ring = this.#ring;
    const base = this.#base;
    const first = Math.max(0, this.#count - this.#options.buffer_size);
    const prices: number[] = [];
    const volumes: number[] = [];
    for (let i = first; i < this.#count; i++) {
      const at = ((i - base) % cap) * 2;
      prices.push(ring[at]);
      volumes.push(ring[at + 1]);
    }
    const z = (x: number) => x + 0; // JSON has no −0
    let anchor: FeatureState["anchor"] = [0, 0, 0, 0, 0, 0, 0];
    if (this.#count > 0) {
      this.#prefixAt(first);
      anchor = [
        z(PREFIX[V_HI]),
        z(PREFIX[V_LO]),
        z(PREFIX[R_HI]),
        z(PREFIX[R_LO]),
        z(PREFIX[Q_HI]),
        z(PREFIX[Q_LO]),
        PREFIX[COUNT],
      ];
    }
    return {
      version: 1,
      count: this.#count,
      last_timestamp: this.#lastTimestamp,
      intervals: [...this.#intervals],
      interval: this.#interval,
      baseline: this.#baseline,
      initialized: this.#initialized,
      first_index: first,
      prices,
      volumes,
      anchor,
    };
  }

  /** Replace this market's state by a serialized one (validated). */
  loadState(input: unknown): void {
    const parsed = FeatureStateSchema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new FeatureStateError(
        `feature state of ${this.marketId}: ${issue.path.join(".") || "<root>"}: ${issue.message}`,
        { cause: parsed.error },
      );
    }
    const s = parsed.data;
    const retained = s.count - s.first_index;
    const expectedFirst = Math.max(0, s.count - this.#options.buffer_size);
    if (
      s.first_index !== expectedFirst || s.prices.length !== retained ||
      s.volumes.length !== retained
    ) {
      throw new FeatureStateError(
        `feature state of ${this.marketId}: expected first_index ${expectedFirst} and ` +
          `${s.count - expectedFirst} prices/volumes for count ${s.count} (buffer_size ` +
          `${this.#options.buffer_size}), received first_index ${s.first_index}, ` +
          `${s.prices.length} prices, ${s.volumes.length} volumes`,
      );
    }
    let capacity = Math.min(INITIAL_CAPACITY, this.#fullCapacity);
    while (capacity < retained && capacity < this.#fullCapacity) {
      capacity = Math.min(capacity * 2, this.#fullCapacity);
    }
    this.#ring = newRing(capacity);
    this.#capacity = capacity;
    this.#base = s.first_index;
    if (retained > 0) {
      this.#ring[0] = s.prices[0];
      this.#ring[1] = s.volumes[0];
      [this.#vHi, this.#vLo, this.#rHi, this.#rLo, this.#qHi, this.#qLo, this.#valid] = s.anchor;
      this.#writeMark(0);
      this.#count = s.first_index + 1;
      for (let i = 1; i < retained; i++) this.#append(s.prices[i], s.volumes[i]);
    } else {
      this.#count = 0;
    }
    this.#lastTimestamp = s.last_timestamp;
    this.#intervals = [...s.intervals];
    this.#intervalSum = s.intervals.reduce((x, y) => x + y, 0);
    this.#interval = s.interval;
    this.#baseline = s.baseline;
    this.#initialized = s.initialized;
  }
}

function checkOptions(options: FeatureOptions): FeatureOptions {
  const { buffer_size, warmup_size, ewma_alpha, max_polling_interval_seconds } = options;
  const problems: string[] = [];
  if (!Number.isSafeInteger(buffer_size) || buffer_size < 3) {
    problems.push(`buffer_size: expected an integer ≥ 3, received ${buffer_size}`);
  }
  if (!Number.isSafeInteger(warmup_size) || warmup_size < 1) {
    problems.push(`warmup_size: expected an integer ≥ 1, received ${warmup_size}`);
  }
  if (!(ewma_alpha > 0 && ewma_alpha <= 1)) {
    problems.push(`ewma_alpha: expected a number in (0, 1], received ${ewma_alpha}`);
  }
  if (!(max_polling_interval_seconds > 0)) {
    problems.push(
      `max_polling_interval_seconds: expected > 0, received ${max_polling_interval_seconds}`,
    );
  }
  if (problems.length > 0) throw new FeatureStateError(`feature options: ${problems.join("; ")}`);
  return options;
}

/**
 * Feature state for many markets.
 *
 * @example
 * ```ts
 * import { FeaturePipeline } from "./features.ts";
 * const a = new FeaturePipeline({ warmup_size: 50 });
 * const saved = a.state("m"); // null: unknown market
 * ```
 */
export class FeaturePipeline {
  readonly options: FeatureOptions;
  readonly #markets = new Map<string, MarketFeatures>();

  constructor(options: Partial<FeatureOptions> = {}) {
    this.options = checkOptions({ ...DEFAULT_FEATURE_OPTIONS, ...options });
  }

  #market(marketId: string): MarketFeatures {
    let market = this.#markets.get(marketId);
    if (market === undefined) {
      market = new MarketFeatures(marketId, this.options);
      this.#markets.set(marketId, market);
    }
    return market;
  }

  /** Ingest one snapshot (and the latest book depth); the vector once warm, else null. */
  update(snapshot: FeatureInput, depth: BookDepth | null = null): FeatureVector | null {
    return this.#market(snapshot.market_id).update(snapshot, depth);
  }

  /** Timestamp (µs) of a market's last snapshot, or null if unseen. */
  lastTimestamp(marketId: string): number | null {
    return this.#markets.get(marketId)?.lastTimestamp ?? null;
  }

  /** Markets with state, in first-seen order. */
  markets(): string[] {
    return [...this.#markets.keys()];
  }

  /** Serializable state of a market, or null if unseen. */
  state(marketId: string): FeatureState | null {
    return this.#markets.get(marketId)?.state() ?? null;
  }

  /** Restore a market from {@linkcode FeaturePipeline.state} output. */
  loadState(marketId: string, state: unknown): void {
    const market = new MarketFeatures(marketId, this.options);
    market.loadState(state);
    this.#markets.set(marketId, market);
  }

  /** Forget a market. */
  reset(marketId: string): void {
    this.#markets.delete(marketId);
  }
}
