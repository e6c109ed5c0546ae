/**
 * Spearman rank correlation, Fisher z and the normal tail used by cross-market divergence
 * (DOMAIN.md §5.4), plus erfc/normal helpers shared by volume spike BH.
 *
 * @example
 * ```ts
 * import { spearman, divergenceTest } from "./spearman.ts";
 * const rho = spearman([1, 2, 3, 4], [1, 3, 2, 4]); // 0.8
 * const t = divergenceTest(rho, 4, Math.atanh(0.6));
 * ```
 * @module
 */

/** Clamp bound for ρ and edge strengths before atanh (DOMAIN §5.4). */
export const RHO_CLAMP = 0.999999;

/**
 * Average ranks (1-based; ties share the mean of their positions).
 *
 * @example
 * ```ts
 * import { averageRanks } from "./spearman.ts";
 * averageRanks([3, 1, 3]); // [2.5, 1, 2.5]
 * ```
 */
export function averageRanks(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  // Native numeric sort of a typed copy, then each value's average position by binary search:
  // (#{< v} + 1 + #{≤ v}) / 2 — exact for ties, O(n log n), no comparator calls.
  const sorted = new Float64Array(n);
  for (let i = 0; i < n; i++) sorted[i] = values[i];
  sortNumbers(sorted, 0, n - 1);
  const ranks = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    let lo = 0, hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid] < v) lo = mid + 1;
      else hi = mid;
    }
    const below = lo;
    hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid] <= v) lo = mid + 1;
      else hi = mid;
    }
    ranks[i] = (below + 1 + lo) / 2;
  }
  return ranks;
}

/** In-place quicksort (median of three, insertion sort below 16): typed-array sort is slow. */
function sortNumbers(a: Float64Array, lo: number, hi: number): void {
  while (hi - lo > 16) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < a[lo]) swap(a, mid, lo);
    if (a[hi] < a[lo]) swap(a, hi, lo);
    if (a[hi] < a[mid]) swap(a, hi, mid);
    const pivot = a[mid];
    let i = lo, j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        swap(a, i, j);
        i++;
        j--;
      }
    }
    // Recurse into the smaller part, loop on the larger (bounded stack).
    if (j - lo < hi - i) {
      sortNumbers(a, lo, j);
      lo = i;
    } else {
      sortNumbers(a, i, hi);
      hi = j;
    }
  }
  for (let i = lo + 1; i <= hi; i++) {
    const v = a[i];
    let j = i - 1;
    while (j >= lo && a[j] > v) {
      a[j + 1] = a[j];
      j--;
    }
    a[j + 1] = v;
  }
}

function swap(a: Float64Array, i: number, j: number): void {
  const t = a[i];
  a[i] = a[j];
  a[j] = t;
}

/**
 * Pearson correlation; 0 for fewer than 3 points, unequal lengths or zero variance.
 *
 * @example
 * ```ts
 * import { pearson } from "./spearman.ts";
 * pearson([1, 2, 3], [2, 4, 6]); // 1
 * ```
 */
export function pearson(xs: ArrayLike<number>, ys: ArrayLike<number>): number {
  const n = xs.length;
  if (n < 3 || ys.length !== n) return 0;
  let mx = 0, my = 0;
  for (let i = 0; i < n; i++) {
    mx += xs[i];
    my += ys[i];
  }
  mx /= n;
  my /= n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = xs[i] - mx, dy = ys[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return 0;
  const r = sxy / Math.sqrt(sxx * syy);
  return Math.max(-1, Math.min(1, r));
}

/**
 * Spearman ρ: Pearson on average ranks, clamped to [−1, 1]; 0 for < 3 points, unequal lengths
 * or zero variance.
 *
 * @example
 * ```ts
 * import { spearman } from "./spearman.ts";
 * spearman([0.1, 0.2, 0.3], [0.3, 0.2, 0.1]); // -1
 * ```
 */
export function spearman(xs: ArrayLike<number>, ys: ArrayLike<number>): number {
  if (xs.length < 3 || xs.length !== ys.length) return 0;
  return pearson(averageRanks(xs), averageRanks(ys));
}

/**
 * Fisher z = atanh(clamp(ρ, ±0.999999)).
 *
 * @example
 * ```ts
 * import { fisherZ } from "./spearman.ts";
 * fisherZ(1); // atanh(0.999999) ≈ 7.25
 * ```
 */
export function fisherZ(rho: number): number {
  return Math.atanh(Math.max(-RHO_CLAMP, Math.min(RHO_CLAMP, rho)));
}

/**
 * Complementary error function, accurate to ~1e-15 relative for the range used here
 * (series for x < 2.5, continued fraction above).
 *
 * @example
 * ```ts
 * import { erfc } from "./spearman.ts";
 * erfc(0); // 1
 * ```
 */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x < 2.5) {
    // erf(x) = 2/√π · e^{−x²} · Σ 2^n x^{2n+1} / (1·3·…·(2n+1)) — positive terms only.
    const x2 = x * x;
    let term = x;
    let sum = x;
    for (let n = 1; n < 200; n++) {
      term *= (2 * x2) / (2 * n + 1);
      sum += term;
      if (term < sum * 1e-17) break;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * Math.exp(-x2) * sum;
  }
  if (x > 27) return 0;
  // erfc(x) = e^{−x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))).
  let t = x;
  for (let n = 80; n >= 1; n--) t = x + n / 2 / t;
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / t;
}

/**
 * Upper standard-normal tail P(Z ≥ z) = erfc(z/√2)/2.
 *
 * @example
 * ```ts
 * import { normalUpperTail } from "./spearman.ts";
 * normalUpperTail(1.65); // ≈ 0.0495
 * ```
 */
export function normalUpperTail(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

/** Result of {@linkcode divergenceTest}. */
export interface DivergenceTest {
  z: number;
  se: number;
  t: number;
  p: number;
}

/**
 * Compare a sample correlation against the historical Fisher z: SE = 1/√max(1, n − 3),
 * T = (z − historical_z)/SE, two-sided p = erfc(|T|/√2).
 *
 * @example
 * ```ts
 * import { divergenceTest } from "./spearman.ts";
 * divergenceTest(0.939394, 10, Math.atanh(0.6)).p; // ≈ 0.005944
 * ```
 */
export function divergenceTest(rho: number, n: number, historicalZ: number): DivergenceTest {
  const z = fisherZ(rho);
  const se = 1 / Math.sqrt(Math.max(1, n - 3));
  const t = (z - historicalZ) / se;
  return { z, se, t, p: erfc(Math.abs(t) / Math.SQRT2) };
}

/**
 * Spearman ρ over a sliding window of aligned pairs, updated in O(n) per push without sorting:
 * each element keeps #{smaller} and #{equal} counts on its leg, so its average rank is
 * less + (equal + 1)/2. {@linkcode RollingSpearman.rho} sums in chronological order and equals
 * {@linkcode spearman} on the chronological arrays bit for bit.
 *
 * @example
 * ```ts
 * import { RollingSpearman } from "./spearman.ts";
 * const r = new RollingSpearman(240);
 * for (let i = 0; i < 5; i++) r.push(i, -i);
 * r.rho(); // -1
 * ```
 */
export class RollingSpearman {
  readonly capacity: number;
  #a: Float64Array;
  #b: Float64Array;
  #lessA: Int32Array;
  #eqA: Int32Array;
  #lessB: Int32Array;
  #eqB: Int32Array;
  #head = 0; // index of the oldest element
  #n = 0;

  /** @param capacity window length (points kept) */
  constructor(capacity: number) {
    this.capacity = capacity;
    this.#a = new Float64Array(capacity);
    this.#b = new Float64Array(capacity);
    this.#lessA = new Int32Array(capacity);
    this.#eqA = new Int32Array(capacity);
    this.#lessB = new Int32Array(capacity);
    this.#eqB = new Int32Array(capacity);
  }

  /** Number of aligned points held. */
  get length(): number {
    return this.#n;
  }

  /**
   * Append one aligned pair, evicting the oldest when full.
   *
   * @param x leg a value
   * @param y leg b value
   */
  push(x: number, y: number): void {
    const cap = this.capacity;
    const evict = this.#n === cap;
    const head = this.#head, n = this.#n;
    updateLeg(this.#a, this.#lessA, this.#eqA, head, n, evict, cap, x);
    const la = SCRATCH[0], ea = SCRATCH[1];
    updateLeg(this.#b, this.#lessB, this.#eqB, head, n, evict, cap, y);
    const lb = SCRATCH[0], eb = SCRATCH[1];
    const at = evict ? head : (head + n) % cap;
    this.#a[at] = x;
    this.#b[at] = y;
    this.#lessA[at] = la;
    this.#eqA[at] = ea;
    this.#lessB[at] = lb;
    this.#eqB[at] = eb;
    if (evict) this.#head = (head + 1) % cap;
    else this.#n++;
  }

  /** ρ of the window (0 for < 3 points or zero variance), as {@linkcode spearman}. */
  rho(): number {
    const n = this.#n;
    if (n < 3) return 0;
    const cap = this.capacity;
    // Mean of average ranks is exactly (n + 1)/2 (sums of halves are exact); computed as
    // pearson() does (sum / n) to stay bit-identical.
    let sa = 0, sb = 0;
    for (let k = 0; k < n; k++) {
      const i = (this.#head + k) % cap;
      sa += this.#lessA[i] + (this.#eqA[i] + 1) / 2;
      sb += this.#lessB[i] + (this.#eqB[i] + 1) / 2;
    }
    const ma = sa / n, mb = sb / n;
    let sxy = 0, sxx = 0, syy = 0;
    for (let k = 0; k < n; k++) {
      const i = (this.#head + k) % cap;
      const dx = this.#lessA[i] + (this.#eqA[i] + 1) / 2 - ma;
      const dy = this.#lessB[i] + (this.#eqB[i] + 1) / 2 - mb;
      sxy += dx * dy;
      sxx += dx * dx;
      syy += dy * dy;
    }
    if (sxx === 0 || syy === 0) return 0;
    const r = sxy / Math.sqrt(sxx * syy);
    return Math.max(-1, Math.min(1, r));
  }

  /** The window's values, oldest first. */
  values(): { a: number[]; b: number[] } {
    const a: number[] = [], b: number[] = [];
    for (let k = 0; k < this.#n; k++) {
      const i = (this.#head + k) % this.capacity;
      a.push(this.#a[i]);
      b.push(this.#b[i]);
    }
    return { a, b };
  }
}

const SCRATCH = new Int32Array(2);

/**
 * One leg's rank-count update for RollingSpearman.push: evict the oldest (when full), count
 * the new value against the survivors, and bump survivors' counts. Results in SCRATCH
 * ([less, equal] of the new value). Internal; positional arguments for speed.
 */
function updateLeg(
  vals: Float64Array,
  less: Int32Array,
  eq: Int32Array,
  head: number,
  n: number,
  evict: boolean,
  cap: number,
  v: number,
): void {
  const u = evict ? vals[head] : NaN;
  let lv = 0, ev = 1;
  const first = evict ? head + 1 : head;
  const end = head + n; // exclusive, may exceed cap
  const stop1 = end < cap ? end : cap;
  for (let i = first; i < stop1; i++) {
    const x = vals[i];
    if (u < x) less[i]--;
    else if (u === x) eq[i]--;
    if (v < x) less[i]++;
    else if (v === x) {
      eq[i]++;
      ev++;
    } else lv++;
  }
  for (let i = first > cap ? first - cap : 0, stop2 = end - cap; i < stop2; i++) {
    const x = vals[i];
    if (u < x) less[i]--;
    else if (u === x) eq[i]--;
    if (v < x) less[i]++;
    else if (v === x) {
      eq[i]++;
      ev++;
    } else lv++;
  }
  SCRATCH[0] = lv;
  SCRATCH[1] = ev;
}
