/**
 * Drift monitor: PSI and two-sample Kolmogorov–Smirnov between baseline (30 days) and current
 * (7 days) raw scores of a detector (DOMAIN.md §7.5). Alerting only; never changes signals.
 *
 * @example
 * ```ts
 * import { checkDrift } from "./drift.ts";
 * const r = checkDrift([0.1, 0.2], [0.8, 0.9], { detector_id: "volume_spike_ewma_z_v1", now: 0 });
 * r.triggered; // true (PSI > 0.2)
 * ```
 * @module
 */

import type { DetectorId, DriftReport } from "../models.ts";

export type { DriftReport };

/** Options of {@linkcode checkDrift}. */
export interface DriftOptions {
  /** Detector id stamped on the report. */
  detector_id: DetectorId;
  /** Check time (epoch µs), stamped as `checked_at`. */
  now: number;
  /** PSI above this triggers (default 0.2). */
  psi_trigger_threshold?: number;
  /** KS p-value below this triggers (default 0.01). */
  ks_p_value_threshold?: number;
}

/**
 * Population stability index: 10 equal-width bins over the combined [min, max]; bins empty in
 * both samples skipped; fractions floored at 1e-6; PSI = Σ(c − b)·ln(c/b). Equal bounds or an
 * empty sample ⇒ 0.
 *
 * @example
 * ```ts
 * import { psi } from "./drift.ts";
 * psi([0.1, 0.2, 0.3, 0.4, 0.5], [0.5, 0.6, 0.7, 0.8, 0.9]); // ≈ 19.5296
 * ```
 */
export function psi(baseline: readonly number[], current: readonly number[]): number {
  if (baseline.length === 0 || current.length === 0) return 0;
  let lo = Infinity, hi = -Infinity;
  for (const v of baseline) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
  for (const v of current) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
  if (!(hi > lo)) return 0;
  const bins = 10;
  const count = (xs: readonly number[]) => {
    const c = new Array<number>(bins).fill(0);
    for (const v of xs) {
      const b = Math.max(0, Math.min(bins - 1, Math.floor(((v - lo) / (hi - lo)) * bins)));
      c[b] += 1;
    }
    return c;
  };
  const cb = count(baseline), cc = count(current);
  let total = 0;
  for (let i = 0; i < bins; i++) {
    if (cb[i] === 0 && cc[i] === 0) continue;
    const b = Math.max(1e-6, cb[i] / baseline.length);
    const c = Math.max(1e-6, cc[i] / current.length);
    total += (c - b) * Math.log(c / b);
  }
  return total;
}

/** Result of {@linkcode ksTest}. */
export interface KsResult {
  statistic: number;
  p_value: number;
}

/**
 * Two-sample KS: D = max |F_b − F_c| over the union of values (CDF with ≤);
 * λ = √(n₁n₂/(n₁ + n₂))·D; p = min(1, 2e^(−2λ²)), 1 when λ = 0; empty ⇒ (0, 1).
 *
 * @example
 * ```ts
 * import { ksTest } from "./drift.ts";
 * ksTest([0.1, 0.2, 0.3, 0.4, 0.5], [0.5, 0.6, 0.7, 0.8, 0.9]); // D 0.8, p ≈ 0.081524
 * ```
 */
export function ksTest(baseline: readonly number[], current: readonly number[]): KsResult {
  const n1 = baseline.length, n2 = current.length;
  if (n1 === 0 || n2 === 0) return { statistic: 0, p_value: 1 };
  const b = [...baseline].sort((x, y) => x - y);
  const c = [...current].sort((x, y) => x - y);
  let i = 0, j = 0, d = 0;
  while (i < n1 || j < n2) {
    // Next value of the union; advance both CDFs past every copy of it (≤).
    const v = j >= n2 || (i < n1 && b[i] <= c[j]) ? b[i] : c[j];
    while (i < n1 && b[i] <= v) i++;
    while (j < n2 && c[j] <= v) j++;
    d = Math.max(d, Math.abs(i / n1 - j / n2));
  }
  const lambda = Math.sqrt((n1 * n2) / (n1 + n2)) * d;
  const p = lambda === 0 ? 1 : Math.min(1, 2 * Math.exp(-2 * lambda * lambda));
  return { statistic: d, p_value: p };
}

/**
 * Full drift check for one detector: trigger if PSI > 0.2 or KS p < 0.01 (defaults).
 *
 * @param baseline baseline raw scores (30 days)
 * @param current current raw scores (7 days)
 * @param options detector id, thresholds and `now`
 *
 * @example
 * ```ts
 * import { checkDrift } from "./drift.ts";
 * checkDrift([0.5], [0.5], { detector_id: "regime_shift_cusum_v1", now: 1 }).triggered; // false
 * ```
 */
export function checkDrift(
  baseline: readonly number[],
  current: readonly number[],
  options: DriftOptions,
): DriftReport {
  const psiValue = psi(baseline, current);
  const ks = ksTest(baseline, current);
  const metrics: ("psi" | "ks")[] = [];
  if (psiValue > (options.psi_trigger_threshold ?? 0.2)) metrics.push("psi");
  if (ks.p_value < (options.ks_p_value_threshold ?? 0.01)) metrics.push("ks");
  return {
    detector_id: options.detector_id,
    psi: psiValue,
    ks_statistic: ks.statistic,
    ks_p_value: ks.p_value,
    triggered: metrics.length > 0,
    triggered_metrics: metrics,
    checked_at: options.now,
  };
}
