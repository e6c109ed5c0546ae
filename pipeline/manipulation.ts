/**
 * Manipulation signatures (DOMAIN.md §6): evaluated once per candidate on its evidence window;
 * attaches `manipulation_flags` in canonical enum order; never suppresses a signal.
 *
 * Deviations adopted: concentration ignores trades without a counterparty (none known ⇒ no
 * flag); size-vs-depth compares notional price×size with USD depth; thin-book uses the median
 * `liquidity` of the snapshots covering the signal's window (falling back to the latest
 * snapshot at or before detection when none falls inside it).
 *
 * @example
 * ```ts
 * import { manipulationFlags } from "./manipulation.ts";
 * // manipulationFlags(signal, { trades, book_events, snapshots, closes_at }) → flags
 * ```
 * @module
 */

import {
  type BookEvent,
  copySignal,
  type Evidence,
  type ManipulationFlag,
  type MarketSignal,
  type MarketSnapshot,
  type RawTrade,
} from "./models.ts";

/** Code-only manipulation config (DOMAIN §6 defaults). */
export interface ManipulationOptions {
  herfindahl_threshold?: number;
  size_vs_depth_threshold?: number;
  cancel_replace_window_seconds?: number;
  cancel_replace_min_count?: number;
  thin_book_min_depth?: number;
  pre_resolution_window_seconds?: number;
}

/** What the signatures read: the candidate's evidence window plus the market's close time. */
export interface ManipulationEvidence {
  trades: readonly Pick<RawTrade, "price" | "size" | "counterparty" | "timestamp">[];
  book_events: readonly Pick<BookEvent, "kind" | "timestamp">[];
  snapshots: readonly Pick<MarketSnapshot, "timestamp" | "liquidity">[];
  /** Epoch µs or null. */
  closes_at: number | null;
}

/**
 * Herfindahl–Hirschman index of per-counterparty summed size; trades without a counterparty
 * are ignored (none known ⇒ 0).
 *
 * @example
 * ```ts
 * import { herfindahl } from "./manipulation.ts";
 * herfindahl([{ counterparty: "a", size: 1 }, { counterparty: "b", size: 1 }]); // 0.5
 * ```
 */
export function herfindahl(
  trades: readonly Pick<RawTrade, "counterparty" | "size">[],
): number {
  const by = new Map<string, number>();
  let total = 0;
  for (const t of trades) {
    if (t.counterparty === null || t.counterparty === undefined || !(t.size > 0)) continue;
    by.set(t.counterparty, (by.get(t.counterparty) ?? 0) + t.size);
    total += t.size;
  }
  if (total <= 0) return 0;
  let h = 0;
  for (const v of by.values()) h += (v / total) ** 2;
  return h;
}

/**
 * True when some window spanning ≤ `windowSeconds` holds ≥ `minCount` cancel/replace events.
 *
 * @example
 * ```ts
 * import { cancelReplaceBurst } from "./manipulation.ts";
 * cancelReplaceBurst([], { window_seconds: 60, min_count: 20 }); // false
 * ```
 */
export function cancelReplaceBurst(
  events: readonly Pick<BookEvent, "kind" | "timestamp">[],
  options: { window_seconds: number; min_count: number },
): boolean {
  const ts = events
    .filter((e) => e.kind === "cancel" || e.kind === "replace")
    .map((e) => e.timestamp)
    .sort((a, b) => a - b);
  const span = options.window_seconds * 1_000_000;
  const k = options.min_count;
  if (k <= 0) return true;
  for (let i = 0; i + k - 1 < ts.length; i++) if (ts[i + k - 1] - ts[i] <= span) return true;
  return false;
}

function latestAtOrBefore<T extends { timestamp: number }>(xs: readonly T[], at: number): T | null {
  let best: T | null = null;
  for (const x of xs) {
    if (x.timestamp <= at && (best === null || x.timestamp >= best.timestamp)) best = x;
  }
  return best;
}

/**
 * Evaluate the signature catalog; flags in canonical order.
 *
 * @param signal the candidate (uses detected_at and window_seconds)
 * @param evidence trades, book events, snapshots, closes_at
 * @param options thresholds (DOMAIN §6 defaults)
 *
 * @example
 * ```ts
 * import { manipulationFlags } from "./manipulation.ts";
 * manipulationFlags({ detected_at: 0, window_seconds: 300 },
 *   { trades: [], book_events: [], snapshots: [], closes_at: 3_600_000_000 });
 * // ["pre_resolution_window"]
 * ```
 */
export function manipulationFlags(
  signal: Pick<MarketSignal, "detected_at" | "window_seconds">,
  evidence: ManipulationEvidence,
  options: ManipulationOptions = {},
): ManipulationFlag[] {
  const o = {
    herfindahl_threshold: options.herfindahl_threshold ?? 0.4,
    size_vs_depth_threshold: options.size_vs_depth_threshold ?? 0.4,
    cancel_replace_window_seconds: options.cancel_replace_window_seconds ?? 60,
    cancel_replace_min_count: options.cancel_replace_min_count ?? 20,
    thin_book_min_depth: options.thin_book_min_depth ?? 5_000,
    pre_resolution_window_seconds: options.pre_resolution_window_seconds ?? 21_600,
  };
  const now = signal.detected_at;
  const flags: ManipulationFlag[] = [];
  // 1. single_counterparty_concentration
  if (herfindahl(evidence.trades) > o.herfindahl_threshold) {
    flags.push("single_counterparty_concentration");
  }
  // 2. size_vs_depth_outlier: notional vs USD depth of the most recent snapshot.
  const latest = latestAtOrBefore(evidence.snapshots, now) ??
    latestAtOrBefore(evidence.snapshots, Number.MAX_SAFE_INTEGER);
  const depth = latest?.liquidity ?? 0;
  if (
    depth > 0 &&
    evidence.trades.some((t) => (t.price * t.size) / depth > o.size_vs_depth_threshold)
  ) {
    flags.push("size_vs_depth_outlier");
  }
  // 3. cancel_replace_burst
  if (
    cancelReplaceBurst(evidence.book_events, {
      window_seconds: o.cancel_replace_window_seconds,
      min_count: o.cancel_replace_min_count,
    })
  ) {
    flags.push("cancel_replace_burst");
  }
  // 4. thin_book_during_move: median liquidity over the snapshots covering the window.
  const from = now - signal.window_seconds * 1_000_000;
  let covering = evidence.snapshots.filter((s) => s.timestamp > from && s.timestamp <= now);
  if (covering.length === 0 && latest) covering = [latest];
  if (covering.length > 0) {
    const liq = covering.map((s) => s.liquidity).sort((a, b) => a - b);
    if (liq[Math.floor(liq.length / 2)] < o.thin_book_min_depth) {
      flags.push("thin_book_during_move");
    }
  }
  // 5. pre_resolution_window
  if (evidence.closes_at !== null) {
    const d = evidence.closes_at - now;
    if (d >= 0 && d < o.pre_resolution_window_seconds * 1_000_000) {
      flags.push("pre_resolution_window");
    }
  }
  return flags;
}

/**
 * Copy of the signal with `manipulation_flags` set from the evidence (never suppresses).
 *
 * @param signal the candidate
 * @param evidence DOMAIN §6 inputs; a models `Evidence` plus `closes_at` fits
 * @param options thresholds
 *
 * @example
 * ```ts
 * import { attachManipulationFlags } from "./manipulation.ts";
 * // const flagged = attachManipulationFlags(signal, { ...message.evidence, closes_at: message.closes_at });
 * ```
 */
export function attachManipulationFlags(
  signal: MarketSignal,
  evidence: ManipulationEvidence | (Evidence & { closes_at: number | null }),
  options: ManipulationOptions = {},
): MarketSignal {
  return copySignal(signal, { manipulation_flags: manipulationFlags(signal, evidence, options) });
}
