/**
 * Reliability-curve building (DOMAIN.md §7.2): decile bins of labeled raw scores, per-bin
 * (mean raw, precision), then isotonic regression (pool-adjacent-violators) so confidence is
 * non-decreasing in the raw score. Pure: the caller supplies `now`, the version and the labels.
 *
 * ## Label format (`augur calibrate --labels FILE`)
 *
 * JSON Lines (one object per line) or a JSON array of objects:
 *
 * ```json
 * {"detector_id":"volume_spike_ewma_z_v1","liquidity_tier":"mid","raw":0.42,"label":true,
 *  "detected_at":"2026-03-15T12:00:07Z"}
 * ```
 *
 * - `detector_id` — one of the five detector ids; `liquidity_tier` — high | mid | low.
 * - `raw` — the raw score in [0, 1] (price velocity P5; cross-market 1 − p; others magnitude).
 * - `label` — `true`/`false`, `1`/`0`, or `"true_positive"`/`"false_positive"` (DOMAIN §13
 *   signal_labels; `"true_negative"` rows are ignored for curves: they are not signals).
 * - `detected_at` — ISO-8601 UTC string or integer epoch µs; only the last `window_days`
 *   (default 30) before `now` are used. Optional `signal_id` is carried for audit only.
 *
 * Label rule (DOMAIN §7.2): TP iff the event lists the market and
 * ground_truth_timestamp − detected_at ∈ (0, 24 h] — see {@linkcode labelSignal}.
 *
 * @example
 * ```ts
 * import { buildCurves } from "./pava.ts";
 * const labels = Array.from({ length: 200 }, (_, i) => ({
 *   detector_id: "volume_spike_ewma_z_v1", liquidity_tier: "mid" as const,
 *   raw: i / 200, label: i % 3 === 0, detected_at: 0,
 * }));
 * const curves = buildCurves(labels, { now: 1, curve_version: "curve_v1.0" });
 * ```
 * @module
 */

import {
  DETECTOR_IDS,
  type DetectorId,
  type LiquidityTier,
  type ReliabilityCurve,
} from "../models.ts";

type Tier = LiquidityTier;

/** One weighted point for {@linkcode pava}. */
export interface WeightedPoint {
  x: number;
  y: number;
  w: number;
}

/**
 * Weighted isotonic (non-decreasing) regression by pool-adjacent-violators. Input must be sorted
 * by x; returns the fitted y for every input point.
 *
 * @example
 * ```ts
 * import { pava } from "./pava.ts";
 * pava([{ x: 0, y: 1, w: 1 }, { x: 1, y: 0, w: 1 }]); // [0.5, 0.5]
 * ```
 */
export function pava(points: readonly WeightedPoint[]): number[] {
  const vals: number[] = [], wts: number[] = [], sizes: number[] = [];
  for (const p of points) {
    vals.push(p.y);
    wts.push(p.w);
    sizes.push(1);
    while (vals.length > 1 && vals[vals.length - 2] > vals[vals.length - 1]) {
      const v2 = vals.pop()!, w2 = wts.pop()!, s2 = sizes.pop()!;
      const v1 = vals.pop()!, w1 = wts.pop()!, s1 = sizes.pop()!;
      const w = w1 + w2;
      vals.push(w > 0 ? (v1 * w1 + v2 * w2) / w : (v1 + v2) / 2);
      wts.push(w);
      sizes.push(s1 + s2);
    }
  }
  const out: number[] = [];
  for (let i = 0; i < vals.length; i++) for (let k = 0; k < sizes[i]; k++) out.push(vals[i]);
  return out;
}

/** A labeled raw score (see the module doc for the file format). */
export interface CalibrationLabel {
  detector_id: DetectorId;
  liquidity_tier: Tier;
  raw: number;
  label: boolean | 0 | 1 | "true_positive" | "false_positive" | "true_negative";
  /** Epoch µs or ISO-8601 UTC string. */
  detected_at: number | string;
  signal_id?: string;
}

/** Options of {@linkcode buildCurves} / {@linkcode buildCurvePoints}. */
export interface BuildCurveOptions {
  /** Build instant (epoch µs), stamped as `built_at`. */
  now: number;
  /** New curve version, e.g. `curve_v1.3`. */
  curve_version: string;
  /** Only labels with detected_at in (now − window_days, now] are used (default 30). */
  window_days?: number;
  /** Fewer labels than this for a (detector, tier) ⇒ no curve (identity fallback; default 100). */
  min_samples?: number;
  /** Number of equal-count bins (default 10: deciles). */
  bins?: number;
}

/** Error raised for malformed labels. */
export class LabelError extends Error {
  /** @param message what was expected and what was received */
  constructor(message: string) {
    super(message);
    this.name = "LabelError";
  }
}

function labelValue(l: CalibrationLabel["label"]): 0 | 1 | null {
  if (l === true || l === 1 || l === "true_positive") return 1;
  if (l === false || l === 0 || l === "false_positive") return 0;
  if (l === "true_negative") return null;
  throw new LabelError(
    `label: expected true|false|1|0|"true_positive"|"false_positive"|"true_negative", received ${
      JSON.stringify(l)
    }`,
  );
}

/**
 * Parse a `detected_at` field (epoch µs integer or ISO-8601 string with zone) to epoch µs.
 *
 * @example
 * ```ts
 * import { toMicros } from "./pava.ts";
 * toMicros("1970-01-01T00:00:01Z"); // 1_000_000
 * ```
 */
export function toMicros(value: number | string): number {
  if (typeof value === "number") {
    if (!Number.isInteger(value)) {
      throw new LabelError(`detected_at: expected integer epoch µs, received ${value}`);
    }
    return value;
  }
  const m = /^(.*?)(?:\.(\d{1,6}))?(Z|[+-]\d\d:\d\d)$/.exec(value);
  const ms = m ? Date.parse(`${m[1]}${m[3]}`) : NaN;
  if (!m || Number.isNaN(ms)) {
    throw new LabelError(`detected_at: expected ISO-8601 UTC datetime, received ${value}`);
  }
  const frac = m[2] ? Number(m[2].padEnd(6, "0")) : 0;
  return ms * 1000 + frac;
}

/**
 * Curve points for one (detector, tier) from (raw, label) pairs: sort by raw, equal-count bins,
 * per bin (mean raw, precision), PAVA weighted by bin size. Returns [] for no pairs.
 *
 * @example
 * ```ts
 * import { buildCurvePoints } from "./pava.ts";
 * buildCurvePoints([{ raw: 0.2, label: 0 }, { raw: 0.8, label: 1 }], { bins: 2 });
 * // [[0.2, 0], [0.8, 1]]
 * ```
 */
export function buildCurvePoints(
  pairs: readonly { raw: number; label: 0 | 1 }[],
  options: { bins?: number } = {},
): [number, number][] {
  const bins = options.bins ?? 10;
  const sorted = [...pairs].sort((a, b) => a.raw - b.raw || a.label - b.label);
  const n = sorted.length;
  const pts: WeightedPoint[] = [];
  for (let b = 0; b < bins; b++) {
    const lo = Math.floor((b * n) / bins), hi = Math.floor(((b + 1) * n) / bins);
    if (hi <= lo) continue;
    let sx = 0, sy = 0;
    for (let i = lo; i < hi; i++) (sx += sorted[i].raw), (sy += sorted[i].label);
    pts.push({ x: sx / (hi - lo), y: sy / (hi - lo), w: hi - lo });
  }
  const ys = pava(pts);
  return pts.map((p, i) => [p.x, ys[i]]);
}

/**
 * Build one curve per (detector, tier) with at least `min_samples` labeled signals in the
 * window, ordered by detector id then tier (high, mid, low). Pairs without enough labels get no
 * curve, so calibration falls back to identity for them.
 *
 * @param labels labeled raw scores (module doc: format)
 * @param options now, version, window, sample floor, bins
 *
 * @example
 * ```ts
 * import { buildCurves } from "./pava.ts";
 * buildCurves([], { now: 0, curve_version: "curve_v1.0" }); // []
 * ```
 */
export function buildCurves(
  labels: readonly CalibrationLabel[],
  options: BuildCurveOptions,
): ReliabilityCurve[] {
  const windowUs = (options.window_days ?? 30) * 86_400_000_000;
  const minSamples = options.min_samples ?? 100;
  const groups = new Map<string, { raw: number; label: 0 | 1 }[]>();
  for (const [i, l] of labels.entries()) {
    if (!(DETECTOR_IDS as readonly string[]).includes(l.detector_id)) {
      throw new LabelError(
        `label ${i}: detector_id: expected one of ${DETECTOR_IDS.join("|")}, received ${
          JSON.stringify(l.detector_id)
        }`,
      );
    }
    if (l.liquidity_tier !== "high" && l.liquidity_tier !== "mid" && l.liquidity_tier !== "low") {
      throw new LabelError(
        `label ${i}: liquidity_tier: expected high|mid|low, received ${
          JSON.stringify(l.liquidity_tier)
        }`,
      );
    }
    if (!(typeof l.raw === "number" && l.raw >= 0 && l.raw <= 1)) {
      throw new LabelError(`label ${i}: raw: expected a number in [0, 1], received ${l.raw}`);
    }
    const at = toMicros(l.detected_at);
    const v = labelValue(l.label);
    if (at <= options.now - windowUs || at > options.now || v === null) continue;
    const key = `${l.detector_id}\u0000${l.liquidity_tier}`;
    let g = groups.get(key);
    if (!g) groups.set(key, g = []);
    g.push({ raw: l.raw, label: v });
  }
  const tierOrder: Record<Tier, number> = { high: 0, mid: 1, low: 2 };
  const keys = [...groups.keys()].sort((a, b) => {
    const [da, ta] = a.split("\u0000"), [db, tb] = b.split("\u0000");
    return da < db ? -1 : da > db ? 1 : tierOrder[ta as Tier] - tierOrder[tb as Tier];
  });
  const out: ReliabilityCurve[] = [];
  for (const key of keys) {
    const pairs = groups.get(key)!;
    if (pairs.length < minSamples) continue;
    const [detector_id, tier] = key.split("\u0000");
    out.push({
      detector_id: detector_id as DetectorId,
      liquidity_tier: tier as Tier,
      curve_version: options.curve_version,
      deciles: buildCurvePoints(pairs, { bins: options.bins }),
      built_at: options.now,
    });
  }
  return out;
}

/**
 * DOMAIN §7.2 label rule: true positive iff some event lists the market and
 * ground_truth_timestamp − detected_at ∈ (0, 24 h].
 *
 * @param signal the signal's market and detection time (epoch µs)
 * @param events ground-truth events (market ids they list, timestamp in epoch µs)
 *
 * @example
 * ```ts
 * import { labelSignal } from "./pava.ts";
 * labelSignal({ market_id: "m", detected_at: 0 }, [{ market_ids: ["m"], ground_truth_timestamp: 60e6 }]);
 * // true
 * ```
 */
export function labelSignal(
  signal: { market_id: string; detected_at: number },
  events: readonly { market_ids: readonly string[]; ground_truth_timestamp: number }[],
): boolean {
  return events.some((e) => {
    const d = e.ground_truth_timestamp - signal.detected_at;
    return d > 0 && d <= 86_400_000_000 && e.market_ids.includes(signal.market_id);
  });
}
