/**
 * Empirical false-positive rates per (detector, market) (DOMAIN.md §7.4).
 *
 * Design formula (default): over the last 30 days, FPR = FP/(FP + TN) with
 * sample_size = FP + TN; when a market's sample_size < 100 the detector-wide aggregate (all its
 * markets) is used instead, with the aggregate's sample size. The reference formula
 * (`formula: "reference"`) is FP/signals with sample_size = signals (TP + FP; 0 signals ⇒ 0, 0).
 *
 * @example
 * ```ts
 * import { computeFpr } from "./fpr.ts";
 * const rows = computeFpr([
 *   { detector_id: "volume_spike_ewma_z_v1", market_id: "m", label: "false_positive", detected_at: 0 },
 * ], { now: 1, sample_size_floor: 1 });
 * rows[0].fpr; // 1
 * ```
 * @module
 */

import type { DetectorId, FprRecord } from "../models.ts";

export type { FprRecord };

/** One labeled outcome (DOMAIN §13 signal_labels, joined with the signal); times epoch µs. */
export interface FprLabel {
  detector_id: DetectorId;
  market_id: string;
  label: "true_positive" | "false_positive" | "true_negative";
  detected_at: number;
}

/** Options of {@linkcode computeFpr}. */
export interface FprOptions {
  /** Computation time (epoch µs), stamped as `computed_at`. */
  now: number;
  /** Window in days before `now` (default 30). */
  window_days?: number;
  /** Markets with fewer samples use the detector aggregate (default 100). */
  sample_size_floor?: number;
  /** Stamped on every record (default "v0"). */
  label_protocol_version?: string;
  /** "design" (FP/(FP+TN), default) or "reference" (FP/signals, no fallback). */
  formula?: "design" | "reference";
}

interface Counts {
  tp: number;
  fp: number;
  tn: number;
}

function rate(c: Counts, formula: "design" | "reference"): { fpr: number; n: number } {
  const n = formula === "design" ? c.fp + c.tn : c.tp + c.fp;
  return { fpr: n === 0 ? 0 : c.fp / n, n };
}

/**
 * FPR table, one record per (detector, market) seen in the window, sorted by detector id then
 * market id.
 *
 * @param labels labeled outcomes
 * @param options now, window, floor, version, formula
 *
 * @example
 * ```ts
 * import { computeFpr } from "./fpr.ts";
 * computeFpr([], { now: 0 }); // []
 * ```
 */
export function computeFpr(labels: readonly FprLabel[], options: FprOptions): FprRecord[] {
  const windowUs = (options.window_days ?? 30) * 86_400_000_000;
  const floor = options.sample_size_floor ?? 100;
  const formula = options.formula ?? "design";
  const version = options.label_protocol_version ?? "v0";
  const perMarket = new Map<string, Map<string, Counts>>();
  const perDetector = new Map<string, Counts>();
  for (const l of labels) {
    if (l.detected_at <= options.now - windowUs || l.detected_at > options.now) continue;
    let markets = perMarket.get(l.detector_id);
    if (!markets) perMarket.set(l.detector_id, markets = new Map());
    let c = markets.get(l.market_id);
    if (!c) markets.set(l.market_id, c = { tp: 0, fp: 0, tn: 0 });
    let agg = perDetector.get(l.detector_id);
    if (!agg) perDetector.set(l.detector_id, agg = { tp: 0, fp: 0, tn: 0 });
    const field = l.label === "true_positive" ? "tp" : l.label === "false_positive" ? "fp" : "tn";
    c[field] += 1;
    agg[field] += 1;
  }
  const out: FprRecord[] = [];
  for (const detector of [...perMarket.keys()].sort()) {
    const markets = perMarket.get(detector)!;
    const agg = rate(perDetector.get(detector)!, formula);
    for (const market of [...markets.keys()].sort()) {
      const own = rate(markets.get(market)!, formula);
      const use = formula === "design" && own.n < floor ? agg : own;
      out.push({
        detector_id: detector as DetectorId,
        market_id: market,
        fpr: use.fpr,
        sample_size: use.n,
        computed_at: options.now,
        label_protocol_version: version,
      });
    }
  }
  return out;
}

/**
 * Look up the FPR for a (detector, market) in a table; markets absent from the table get the
 * detector's sample-weighted mean, or null when the detector has no records.
 *
 * @example
 * ```ts
 * import { lookupFpr } from "./fpr.ts";
 * lookupFpr([], { detector_id: "volume_spike_ewma_z_v1", market_id: "m" }); // null
 * ```
 */
export function lookupFpr(
  table: readonly FprRecord[],
  key: { detector_id: DetectorId; market_id: string },
): number | null {
  const detectorId = key.detector_id, marketId = key.market_id;
  let num = 0, den = 0;
  for (const r of table) {
    if (r.detector_id !== detectorId) continue;
    if (r.market_id === marketId) return r.fpr;
    num += r.fpr * r.sample_size;
    den += r.sample_size;
  }
  return den === 0 ? null : num / den;
}
