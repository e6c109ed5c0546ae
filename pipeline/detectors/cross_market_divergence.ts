/**
 * Cross-market divergence — a BATCH detector over related pairs (DOMAIN.md §5.4, DESIGN §10).
 *
 * Grid: one evaluation every 60 s of data time (g = k·60 s since the epoch). A pair contributes
 * at g when both legs have a snapshot in (g − 300 s, g] (the latest such snapshot is used) and
 * market_a is not in its pre-resolution window at g. Each contributing pair appends one aligned
 * point (≤ max(10, ⌊window/60⌋) = 240 kept); with ≥ 10 points it is tested: ρ = Spearman,
 * z = atanh(clamp ρ), SE = 1/√max(1, n − 3), T = (z − historical_z)/SE, p = erfc(|T|/√2).
 * Benjamini–Hochberg at q over the grid point's candidates; survivors become signals on
 * market_a with related_market_ids = [market_b], fdr_adjusted = true, direction 0.
 *
 * SHOULDs applied (switchable): pairs need |tanh(historical_z)| ≥ min_historical_correlation
 * (checked once, when pairs are registered) and a candidate needs at least one leg with
 * `volume_ratio_1h` > activity_floor (the latest ratio passed to {@linkcode observe}; a leg
 * whose ratio was never supplied counts as inactive).
 *
 * Cost of one grid point is proportional to the pairs of markets that have a snapshot in the
 * window (pairs are indexed by market_a), never to all market pairs.
 *
 * @example
 * ```ts
 * import { CrossMarketDivergenceDetector, pairsFromRelationships } from "./cross_market_divergence.ts";
 * const { pairs } = pairsFromRelationships([
 *   { market_a: "a", market_b: "b", type: "positive", strength: 0.9 },
 * ]);
 * const d = new CrossMarketDivergenceDetector(pairs);
 * d.evaluate(60_000_000); // [] — no snapshots yet
 * ```
 * @module
 */

import type { FeatureVector, MarketSignal, MarketSnapshot, RelationshipType } from "../models.ts";
import { benjaminiHochberg } from "../calibration/bh.ts";
import {
  buildSignal,
  checkExclusionSeconds,
  checkOption,
  DetectorError,
  inResolutionWindow,
  MICROS,
} from "./detector.ts";
import { divergenceTest, RHO_CLAMP, RollingSpearman } from "./spearman.ts";

/** `[cross_market]` options (detectors.toml keys, DOMAIN defaults) plus code-only switches. */
export interface CrossMarketOptions {
  window_seconds?: number;
  min_historical_correlation?: number;
  activity_floor?: number;
  target_fdr_q?: number;
  resolution_exclusion_seconds?: number;
  /** Apply min_historical_correlation (SHOULD; default true). */
  enforce_min_historical_correlation?: boolean;
  /** Apply activity_floor (SHOULD; default true). */
  enforce_activity_floor?: boolean;
  /** Grid step in seconds (DESIGN §10: 60). */
  grid_seconds?: number;
  /** A leg contributes at g with a snapshot in (g − this, g] (DESIGN §10: 300). */
  snapshot_max_age_seconds?: number;
  /** Minimum aligned points before testing (DOMAIN: 10). */
  min_points?: number;
}

/** A directed related pair with its historical Fisher z. */
export interface DivergencePair {
  market_a: string;
  market_b: string;
  historical_z: number;
}

/** A watchlist relationship (`markets.toml` `[[relationships]]` or a TaxonomyEdge). */
export interface RelationshipLike {
  market_a: string;
  market_b: string;
  /** `markets.toml` spelling. */
  type?: RelationshipType;
  /** TaxonomyEdge spelling. */
  relationship_type?: RelationshipType;
  strength?: number;
  /** Explicit historical z (overrides derivation). */
  historical_z?: number;
}

/** Result of {@linkcode pairsFromRelationships}. */
export interface PairSelection {
  pairs: DivergencePair[];
  /** Relationships not turned into pairs, with the reason. */
  skipped: { market_a: string; market_b: string; reason: string }[];
}

/**
 * Pairs from watchlist relationships: historical_z = atanh(+s) for positive and atanh(−s) for
 * inverse edges, s = strength (default 1.0) clamped to 0.999999; complex/causal edges without
 * an explicit historical_z are skipped, as are pairs below min_historical_correlation (when
 * enforced) and duplicates.
 *
 * @param relationships watchlist relationships in config order
 * @param options min_historical_correlation and its switch
 *
 * @example
 * ```ts
 * import { pairsFromRelationships } from "./cross_market_divergence.ts";
 * pairsFromRelationships([{ market_a: "a", market_b: "b", type: "inverse", strength: 0.8 }])
 *   .pairs[0].historical_z; // atanh(-0.8)
 * ```
 */
export function pairsFromRelationships(
  relationships: readonly RelationshipLike[],
  options: Pick<
    CrossMarketOptions,
    "min_historical_correlation" | "enforce_min_historical_correlation"
  > = {},
): PairSelection {
  const minCorr = options.min_historical_correlation ?? 0.6;
  const enforce = options.enforce_min_historical_correlation ?? true;
  const pairs: DivergencePair[] = [];
  const skipped: PairSelection["skipped"] = [];
  const seen = new Set<string>();
  for (const r of relationships) {
    const key = `${r.market_a}::${r.market_b}`;
    const skip = (reason: string) =>
      skipped.push({ market_a: r.market_a, market_b: r.market_b, reason });
    if (r.market_a === r.market_b) {
      skip("market_a equals market_b");
      continue;
    }
    if (seen.has(key)) {
      skip("duplicate pair");
      continue;
    }
    let z = r.historical_z;
    if (z === undefined) {
      const type = r.type ?? r.relationship_type;
      const s = Math.min(RHO_CLAMP, Math.max(0, r.strength ?? 1.0));
      if (type === "positive") z = Math.atanh(s);
      else if (type === "inverse") z = Math.atanh(-s);
      else {
        skip(`no historical_z for a ${type ?? "untyped"} relationship`);
        continue;
      }
    }
    if (!Number.isFinite(z)) {
      skip(`historical_z must be finite, received ${z}`);
      continue;
    }
    if (enforce && Math.abs(Math.tanh(z)) < minCorr) {
      skip(`|tanh(historical_z)| ${Math.abs(Math.tanh(z)).toFixed(6)} < ${minCorr}`);
      continue;
    }
    seen.add(key);
    pairs.push({ market_a: r.market_a, market_b: r.market_b, historical_z: z });
  }
  return { pairs, skipped };
}

/** The part of a snapshot the detector keeps (epoch µs times). */
export interface LegSnapshot {
  platform: MarketSnapshot["platform"];
  timestamp: number;
  last_price: number;
  volume_24h: number;
  closes_at: number | null;
}

/** Serializable detector state (for the singleton's checkpoint). */
export interface CrossMarketState {
  /** Last evaluated grid point (epoch µs) or null. */
  last_grid: number | null;
  /** Aligned price series per pair key `"<market_a>::<market_b>"`. */
  series: Record<string, { a: number[]; b: number[] }>;
  /** Buffered snapshots still usable by a future grid point, per market, oldest first. */
  recent: Record<string, LegSnapshot[]>;
  /** Latest `volume_ratio_1h` per market. */
  ratios: Record<string, number>;
}

/** One tested pair at a grid point (before BH). */
export interface PairTest {
  pair: DivergencePair;
  n: number;
  rho: number;
  t: number;
  p: number;
}

interface PairSlot {
  pair: DivergencePair;
  index: number;
  key: string;
  window: RollingSpearman;
}

/**
 * Cross-market divergence detector (`cross_market_fisher_bh_v1`), one instance per process
 * (the `divergence` singleton, or inside the engine).
 *
 * @example
 * ```ts
 * import { CrossMarketDivergenceDetector } from "./cross_market_divergence.ts";
 * const d = new CrossMarketDivergenceDetector([{ market_a: "a", market_b: "b", historical_z: 1 }]);
 * d.pairCount; // 1
 * ```
 */
export class CrossMarketDivergenceDetector {
  readonly detector_id = "cross_market_fisher_bh_v1" as const;
  readonly signal_type = "cross_market_divergence" as const;
  readonly options: Required<CrossMarketOptions>;
  readonly #slots: PairSlot[] = [];
  readonly #byA = new Map<string, PairSlot[]>();
  readonly #byKey = new Map<string, PairSlot>();
  /** Markets on either leg of some pair: only these are buffered. */
  readonly #related = new Set<string>();
  #recent = new Map<string, LegSnapshot[]>();
  #ratios = new Map<string, number>();
  #lastGrid: number | null = null;
  readonly #maxPoints: number;

  /**
   * @param pairs directed pairs (see {@linkcode pairsFromRelationships}); duplicates rejected
   * @param options `[cross_market]` table
   */
  constructor(pairs: readonly DivergencePair[], options: CrossMarketOptions = {}) {
    const o: Required<CrossMarketOptions> = {
      window_seconds: options.window_seconds ?? 14_400,
      min_historical_correlation: options.min_historical_correlation ?? 0.6,
      activity_floor: options.activity_floor ?? 1.0,
      target_fdr_q: options.target_fdr_q ?? 0.05,
      resolution_exclusion_seconds: options.resolution_exclusion_seconds ?? 21_600,
      enforce_min_historical_correlation: options.enforce_min_historical_correlation ?? true,
      enforce_activity_floor: options.enforce_activity_floor ?? true,
      grid_seconds: options.grid_seconds ?? 60,
      snapshot_max_age_seconds: options.snapshot_max_age_seconds ?? 300,
      min_points: options.min_points ?? 10,
    };
    const t = "[cross_market]";
    checkOption(o.window_seconds, {
      name: `${t} window_seconds`,
      ok: (v) => Number.isInteger(v) && v > 0,
      expected: "an integer > 0",
    });
    checkOption(o.min_historical_correlation, {
      name: `${t} min_historical_correlation`,
      ok: (v) => v >= 0 && v <= 1,
      expected: "a number in [0, 1]",
    });
    checkOption(o.activity_floor, {
      name: `${t} activity_floor`,
      ok: Number.isFinite,
      expected: "a finite number",
    });
    checkOption(o.target_fdr_q, {
      name: `${t} target_fdr_q`,
      ok: (v) => v > 0 && v < 1,
      expected: "a number in (0, 1)",
    });
    checkExclusionSeconds(t, o.resolution_exclusion_seconds);
    checkOption(o.grid_seconds, {
      name: `${t} grid_seconds`,
      ok: (v) => Number.isInteger(v) && v > 0,
      expected: "an integer > 0",
    });
    checkOption(o.snapshot_max_age_seconds, {
      name: `${t} snapshot_max_age_seconds`,
      ok: (v) => v > 0,
      expected: "a number > 0",
    });
    checkOption(o.min_points, {
      name: `${t} min_points`,
      ok: (v) => Number.isInteger(v) && v >= 3,
      expected: "an integer ≥ 3",
    });
    this.options = o;
    this.#maxPoints = Math.max(10, Math.floor(o.window_seconds / 60));
    for (const p of pairs) {
      const key = `${p.market_a}::${p.market_b}`;
      if (this.#byKey.has(key)) throw new DetectorError(`${t} duplicate pair ${key}`);
      if (!Number.isFinite(p.historical_z)) {
        throw new DetectorError(`${t} pair ${key}: historical_z: expected a finite number`);
      }
      const slot: PairSlot = {
        pair: { ...p },
        index: this.#slots.length,
        key,
        window: new RollingSpearman(this.#maxPoints),
      };
      this.#slots.push(slot);
      this.#byKey.set(key, slot);
      let list = this.#byA.get(p.market_a);
      if (!list) this.#byA.set(p.market_a, list = []);
      list.push(slot);
      this.#related.add(p.market_a);
      this.#related.add(p.market_b);
    }
  }

  /** Number of registered pairs. */
  get pairCount(): number {
    return this.#slots.length;
  }

  /** Last evaluated grid point (epoch µs) or null. */
  get lastGrid(): number | null {
    return this.#lastGrid;
  }

  /** Pair keys `"<market_a>::<market_b>"` that involve `marketId` on either leg. */
  pairsOf(marketId: string): string[] {
    return this.#slots
      .filter((s) => s.pair.market_a === marketId || s.pair.market_b === marketId)
      .map((s) => s.key);
  }

  /**
   * Record a market's snapshot (and optionally its same-tick features, for the activity floor).
   * Snapshots may arrive in any order; each grid point uses the latest one ≤ g. Markets that
   * are in no pair are ignored, so memory and cost follow the related pairs.
   *
   * @param snapshot the market snapshot (its `timestamp` is the tick time)
   * @param feature the same tick's feature vector, if known
   */
  observe(
    snapshot: Pick<
      MarketSnapshot,
      "market_id" | "platform" | "timestamp" | "last_price" | "volume_24h" | "closes_at"
    >,
    feature?: Pick<FeatureVector, "volume_ratio_1h"> | null,
  ): void {
    if (!this.#related.has(snapshot.market_id)) return; // in no pair: nothing to keep
    if (feature) this.#ratios.set(snapshot.market_id, feature.volume_ratio_1h);
    const maxAge = this.options.snapshot_max_age_seconds * MICROS;
    if (this.#lastGrid !== null && snapshot.timestamp <= this.#lastGrid - maxAge) return;
    const leg: LegSnapshot = {
      platform: snapshot.platform,
      timestamp: snapshot.timestamp,
      last_price: snapshot.last_price,
      volume_24h: snapshot.volume_24h,
      closes_at: snapshot.closes_at,
    };
    let list = this.#recent.get(snapshot.market_id);
    if (!list) this.#recent.set(snapshot.market_id, list = []);
    let i = list.length;
    while (i > 0 && list[i - 1].timestamp > leg.timestamp) i--;
    if (i > 0 && list[i - 1].timestamp === leg.timestamp) list[i - 1] = leg;
    else list.splice(i, 0, leg);
  }

  #legAt(marketId: string, g: number, minExclusive: number): LegSnapshot | null {
    const list = this.#recent.get(marketId);
    if (!list) return null;
    for (let i = list.length - 1; i >= 0; i--) {
      const ts = list[i].timestamp;
      if (ts <= g) return ts > minExclusive ? list[i] : null;
    }
    return null;
  }

  /**
   * Evaluate one grid point g (epoch µs; must increase between calls): append points, test,
   * BH, and return the surviving signals in rank order (smallest p first).
   *
   * @param g grid time, used as `now`/`detected_at`
   * @returns signals (flags empty, identity provenance)
   */
  evaluate(g: number): MarketSignal[] {
    return this.evaluateDetailed(g).signals;
  }

  /**
   * Like {@linkcode evaluate} but also returns every tested pair (for reports and tests).
   *
   * @param g grid time (epoch µs)
   */
  evaluateDetailed(g: number): { signals: MarketSignal[]; tests: PairTest[] } {
    if (!Number.isSafeInteger(g)) {
      throw new DetectorError(`grid point: expected integer epoch µs, received ${g}`);
    }
    if (this.#lastGrid !== null && g <= this.#lastGrid) {
      throw new DetectorError(
        `grid point: expected a time after the last one (${this.#lastGrid}), received ${g}`,
      );
    }
    const o = this.options;
    const minTs = g - o.snapshot_max_age_seconds * MICROS;
    // Markets with a snapshot in (g − max_age, g] that are market_a of some pair.
    const touched: PairSlot[] = [];
    for (const [market, slots] of this.#byA) {
      if (!this.#recent.has(market)) continue;
      if (this.#legAt(market, g, minTs) === null) continue;
      for (const s of slots) touched.push(s);
    }
    if (touched.length > 1) touched.sort((x, y) => x.index - y.index);
    const tests: PairTest[] = [];
    const legs: LegSnapshot[] = [];
    for (const slot of touched) {
      const a = this.#legAt(slot.pair.market_a, g, minTs)!;
      const b = this.#legAt(slot.pair.market_b, g, minTs);
      if (b === null) continue;
      if (inResolutionWindow(a.closes_at, g, o.resolution_exclusion_seconds)) continue;
      slot.window.push(a.last_price, b.last_price);
      const n = slot.window.length;
      if (n < o.min_points) continue;
      if (o.enforce_activity_floor) {
        const ra = this.#ratios.get(slot.pair.market_a);
        const rb = this.#ratios.get(slot.pair.market_b);
        const active = (ra !== undefined && ra > o.activity_floor) ||
          (rb !== undefined && rb > o.activity_floor);
        if (!active) continue;
      }
      const rho = slot.window.rho();
      const dt = divergenceTest(rho, n, slot.pair.historical_z);
      tests.push({ pair: slot.pair, n, rho, t: dt.t, p: dt.p });
      legs.push(a);
    }
    const accepted = benjaminiHochberg(
      tests.map((t, i) => ({ key: i, p: t.p })),
      o.target_fdr_q,
    );
    const signals = accepted.map((i) => {
      const t = tests[i];
      return buildSignal({
        detector_id: this.detector_id,
        signal_type: this.signal_type,
        market_id: t.pair.market_a,
        snapshot: legs[i],
        now: g,
        magnitude: 1 - t.p,
        direction: 0,
        window_seconds: o.window_seconds,
        raw_score: 1 - t.p,
        raw_features: {
          spearman_rho: t.rho,
          p_value: t.p,
          historical_z: t.pair.historical_z,
          related_market_id: t.pair.market_b,
        },
        related_market_ids: [t.pair.market_b],
        fdr_adjusted: true,
      });
    });
    this.#lastGrid = g;
    this.#prune(g);
    return { signals, tests };
  }

  /**
   * Evaluate every grid point in (last grid, upTo] in order (only the latest grid point ≤ upTo
   * on the first call) and return all signals.
   *
   * @param upTo data time every input up to which has been observed (epoch µs)
   */
  advanceTo(upTo: number): MarketSignal[] {
    const step = this.options.grid_seconds * MICROS;
    const last = Math.floor(upTo / step) * step;
    let g = this.#lastGrid === null ? last : this.#lastGrid + step;
    const out: MarketSignal[] = [];
    for (; g <= last; g += step) out.push(...this.evaluate(g));
    return out;
  }

  #prune(g: number): void {
    const minTs = g - this.options.snapshot_max_age_seconds * MICROS;
    for (const [market, list] of this.#recent) {
      let drop = 0;
      while (drop < list.length && list[drop].timestamp <= minTs) drop++;
      if (drop === list.length) this.#recent.delete(market);
      else if (drop > 0) list.splice(0, drop);
    }
  }

  /** Plain-JSON checkpoint of the whole detector (pairs come from config, not the state). */
  state(): CrossMarketState {
    const series: CrossMarketState["series"] = {};
    for (const s of this.#slots) if (s.window.length > 0) series[s.key] = s.window.values();
    const recent: CrossMarketState["recent"] = {};
    for (const m of [...this.#recent.keys()].sort()) {
      recent[m] = this.#recent.get(m)!.map((l) => ({ ...l }));
    }
    const ratios: CrossMarketState["ratios"] = {};
    for (const m of [...this.#ratios.keys()].sort()) ratios[m] = this.#ratios.get(m)!;
    return { last_grid: this.#lastGrid, series, recent, ratios };
  }

  /**
   * Restore a checkpoint; series of pairs no longer configured are ignored.
   *
   * @param state output of {@linkcode state}
   */
  loadState(state: CrossMarketState): void {
    if (typeof state !== "object" || state === null) {
      throw new DetectorError(`cross-market state: expected an object, received ${state}`);
    }
    for (const s of this.#slots) {
      const saved = state.series?.[s.key];
      if (saved && saved.a.length !== saved.b.length) {
        throw new DetectorError(`cross-market state ${s.key}: a and b differ in length`);
      }
      s.window = new RollingSpearman(this.#maxPoints);
      if (saved) {
        const a = saved.a.slice(-this.#maxPoints), b = saved.b.slice(-this.#maxPoints);
        for (let i = 0; i < a.length; i++) s.window.push(a[i], b[i]);
      }
    }
    this.#recent = new Map(
      Object.entries(state.recent ?? {}).map(([m, l]) => [m, l.map((x) => ({ ...x }))]),
    );
    this.#ratios = new Map(Object.entries(state.ratios ?? {}));
    this.#lastGrid = state.last_grid ?? null;
  }

  /** Forget all series, buffered snapshots and ratios. */
  reset(): void {
    for (const s of this.#slots) s.window = new RollingSpearman(this.#maxPoints);
    this.#recent.clear();
    this.#ratios.clear();
    this.#lastGrid = null;
  }
}
