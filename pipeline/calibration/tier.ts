/**
 * Liquidity tiers (DOMAIN.md §5 common rules, §7): from a 24 h volume, and the intended rolling
 * 7-day variant (mean daily volume over the last 7 days, reassigned per day by the caller).
 *
 * @example
 * ```ts
 * import { tierFromVolume } from "./tier.ts";
 * tierFromVolume(60_000); // "mid"
 * ```
 * @module
 */

import type { LiquidityTier } from "../models.ts";

/** Liquidity tier (alias of the model's `LiquidityTier`). */
export type Tier = LiquidityTier;

/** Tier thresholds on USD volume per day. */
export interface TierOptions {
  /** ≥ this ⇒ high (default 250 000). */
  high_threshold?: number;
  /** ≥ this ⇒ mid (default 50 000). */
  mid_threshold?: number;
}

/**
 * Tier from a 24 h USD volume: ≥ 250 000 high, ≥ 50 000 mid, else low.
 *
 * @example
 * ```ts
 * import { tierFromVolume } from "./tier.ts";
 * tierFromVolume(250_000); // "high"
 * ```
 */
export function tierFromVolume(volume24h: number, options: TierOptions = {}): Tier {
  if (volume24h >= (options.high_threshold ?? 250_000)) return "high";
  if (volume24h >= (options.mid_threshold ?? 50_000)) return "mid";
  return "low";
}

/** One observation of a market's trailing 24 h volume at an instant (epoch µs). */
export interface VolumeSample {
  at: number;
  volume_24h: number;
}

/** Options of {@linkcode rollingTier}. */
export interface RollingTierOptions extends TierOptions {
  /** Evaluation instant (epoch µs). */
  now: number;
  /** Window length in seconds (default 7 days). */
  window_seconds?: number;
  /** Below this mean daily volume the market is not tracked (default 10 000). */
  tracking_floor?: number;
}

/** Result of {@linkcode rollingTier}. */
export interface RollingTier {
  tier: Tier;
  /** Mean of the per-day volume over the window (0 without samples). */
  mean_daily_volume: number;
  /** False when the mean is below the tracking floor (DOMAIN §5: < 10 000/day not tracked). */
  tracked: boolean;
}

/**
 * Tier from the rolling window: samples in (now − window, now] are grouped per UTC day, the last
 * sample of each day is that day's 24 h volume, and the tier uses the mean over days.
 *
 * @example
 * ```ts
 * import { rollingTier } from "./tier.ts";
 * const day = 86_400_000_000;
 * rollingTier([{ at: day, volume_24h: 300_000 }], { now: day }).tier; // "high"
 * ```
 */
export function rollingTier(
  samples: readonly VolumeSample[],
  options: RollingTierOptions,
): RollingTier {
  const windowUs = (options.window_seconds ?? 7 * 86_400) * 1_000_000;
  const dayUs = 86_400_000_000;
  const perDay = new Map<number, VolumeSample>();
  for (const s of samples) {
    if (s.at <= options.now - windowUs || s.at > options.now) continue;
    const day = Math.floor(s.at / dayUs);
    const prev = perDay.get(day);
    if (!prev || s.at >= prev.at) perDay.set(day, s);
  }
  let sum = 0;
  for (const s of perDay.values()) sum += s.volume_24h;
  const mean = perDay.size === 0 ? 0 : sum / perDay.size;
  return {
    tier: tierFromVolume(mean, options),
    mean_daily_volume: mean,
    tracked: mean >= (options.tracking_floor ?? 10_000),
  };
}
