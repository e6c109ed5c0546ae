/**
 * Volume spike detector — EWMA z-score of `volume_ratio_1h` (DOMAIN.md §5.2), with the optional
 * Benjamini–Hochberg step over one cycle's candidates ({@linkcode applyVolumeSpikeFdr}).
 *
 * @example
 * ```ts
 * import { VolumeSpikeDetector } from "./volume_spike.ts";
 * new VolumeSpikeDetector().warmupRequired(); // 30
 * ```
 * @module
 */

import {
  copySignal,
  type FeatureVector,
  type MarketSignal,
  type MarketSnapshot,
} from "../models.ts";
import { benjaminiHochberg } from "../calibration/bh.ts";
import { normalUpperTail } from "./spearman.ts";
import {
  buildSignal,
  checkExclusionSeconds,
  checkOption,
  checkWarmup,
  clamp01,
  DEFAULT_RESOLUTION_EXCLUSION_SECONDS,
  inResolutionWindow,
  PerMarketDetector,
} from "./detector.ts";

/** `[volume_spike]` options (detectors.toml keys, DOMAIN defaults). */
export interface VolumeSpikeOptions {
  ewma_alpha?: number;
  min_absolute_volume?: number;
  minimum_z?: number;
  target_fdr_q?: number;
  resolution_exclusion_seconds?: number;
  /** Vectors before firing is allowed (code-only; default 30). */
  warmup?: number;
}

/** Per-market state (plain JSON). */
export interface VolumeSpikeState {
  mean: number;
  variance: number;
  count: number;
}

/**
 * Volume spike detector (`volume_spike_ewma_z_v1`). No cooldown: it fires on every tick whose
 * z ≥ minimum_z.
 *
 * @example
 * ```ts
 * import { VolumeSpikeDetector } from "./volume_spike.ts";
 * new VolumeSpikeDetector({ minimum_z: 2 }).options.minimum_z; // 2
 * ```
 */
export class VolumeSpikeDetector extends PerMarketDetector<VolumeSpikeState, VolumeSpikeState> {
  readonly detector_id = "volume_spike_ewma_z_v1" as const;
  readonly signal_type = "volume_spike" as const;
  readonly options: Required<VolumeSpikeOptions>;

  /** @param options `[volume_spike]` table */
  constructor(options: VolumeSpikeOptions = {}) {
    super();
    const o = {
      ewma_alpha: options.ewma_alpha ?? 0.05,
      min_absolute_volume: options.min_absolute_volume ?? 10_000,
      minimum_z: options.minimum_z ?? 1.65,
      target_fdr_q: options.target_fdr_q ?? 0.05,
      resolution_exclusion_seconds: options.resolution_exclusion_seconds ??
        DEFAULT_RESOLUTION_EXCLUSION_SECONDS,
      warmup: options.warmup ?? 30,
    };
    const t = "[volume_spike]";
    checkOption(o.ewma_alpha, {
      name: `${t} ewma_alpha`,
      ok: (v) => v > 0 && v <= 1,
      expected: "a number in (0, 1]",
    });
    checkOption(o.min_absolute_volume, {
      name: `${t} min_absolute_volume`,
      ok: (v) => v >= 0,
      expected: "a number ≥ 0",
    });
    checkOption(o.minimum_z, {
      name: `${t} minimum_z`,
      ok: Number.isFinite,
      expected: "a finite number",
    });
    checkOption(o.target_fdr_q, {
      name: `${t} target_fdr_q`,
      ok: (v) => v > 0 && v < 1,
      expected: "a number in (0, 1)",
    });
    checkExclusionSeconds(t, o.resolution_exclusion_seconds);
    checkWarmup(t, o.warmup);
    this.options = o;
  }

  /** @inheritdoc */
  warmupRequired(): number {
    return this.options.warmup;
  }

  /** @inheritdoc */
  ingest(
    marketId: string,
    feature: FeatureVector,
    snapshot: MarketSnapshot,
    now: number,
  ): MarketSignal | null {
    const o = this.options;
    if (inResolutionWindow(snapshot.closes_at, now, o.resolution_exclusion_seconds)) return null;
    if (snapshot.volume_24h < o.min_absolute_volume) return null;
    let s = this.live.get(marketId);
    if (s === undefined) {
      s = { mean: 1.0, variance: 0.25, count: 0 };
      this.live.set(marketId, s);
    }
    const x = feature.volume_ratio_1h;
    const a = o.ewma_alpha;
    const d = x - s.mean;
    s.mean += a * d;
    s.variance = (1 - a) * (s.variance + a * d * d);
    s.count += 1;
    if (s.count < o.warmup) return null;
    const sigma = Math.max(1e-6, Math.sqrt(s.variance));
    const z = (x - s.mean) / sigma;
    if (!(z >= o.minimum_z)) return null;
    return buildSignal({
      detector_id: this.detector_id,
      signal_type: this.signal_type,
      market_id: marketId,
      snapshot,
      now,
      magnitude: clamp01((z - o.minimum_z) / 6),
      direction: 1,
      window_seconds: 3600,
      raw_features: {
        volume_ratio_1h: x,
        ewma_mean: s.mean,
        ewma_std: sigma,
        z_score: z,
      },
    });
  }

  protected toJson(l: VolumeSpikeState): VolumeSpikeState {
    return { mean: l.mean, variance: l.variance, count: l.count };
  }

  protected fromJson(s: VolumeSpikeState): VolumeSpikeState {
    if (![s.mean, s.variance, s.count].every(Number.isFinite)) {
      throw new TypeError("mean, variance and count must be finite numbers");
    }
    return { mean: s.mean, variance: s.variance, count: s.count };
  }
}

/**
 * Optional BH step (DOMAIN §5.2) over one cycle's volume-spike candidates: p = upper normal
 * tail of `z_score`; survivors are returned (in input order) with `fdr_adjusted = true`, the
 * others dropped.
 *
 * @param candidates the cycle's volume-spike signals
 * @param options `target_fdr_q` (default 0.05)
 *
 * @example
 * ```ts
 * import { applyVolumeSpikeFdr } from "./volume_spike.ts";
 * applyVolumeSpikeFdr([]); // []
 * ```
 */
export function applyVolumeSpikeFdr(
  candidates: readonly MarketSignal[],
  options: { target_fdr_q?: number } = {},
): MarketSignal[] {
  const items = candidates.map((s, i) => {
    const z = s.raw_features["z_score"];
    return { key: i, p: typeof z === "number" ? normalUpperTail(z) : 1 };
  });
  const accepted = new Set(benjaminiHochberg(items, options.target_fdr_q ?? 0.05));
  return candidates
    .filter((_, i) => accepted.has(i))
    .map((s) => copySignal(s, { fdr_adjusted: true }));
}
