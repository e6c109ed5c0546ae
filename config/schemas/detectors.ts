/**
 * Schema of `detectors.toml` (DOMAIN §5.1–§5.5, §12): one table per detector with the keys of
 * its "Config:" line, plus `resolution_exclusion_seconds` (21 600) in every table.
 *
 * @example
 * ```ts
 * import { DetectorsFileSchema } from "./detectors.ts";
 * DetectorsFileSchema.parse({}).price_velocity.fire_threshold; // 0.7
 * ```
 * @module
 */
import { z } from "zod";
import { bool, natInt, natNum, posInt, posNum, table, unit } from "./common.ts";

const exclusion = () => natInt(21600);

/** `detectors.toml` (effective config key `detectors`). */
export const DetectorsFileSchema = z.strictObject({
  price_velocity: table({
    hazard_rate: z.number().gt(0).lt(1).default(0.004),
    alpha_prior: posNum(1),
    beta_prior: posNum(1),
    run_length_cap: z.int().min(2).default(1000),
    fire_threshold: unit(0.7),
    cooldown_seconds: natInt(900),
    resolution_exclusion_seconds: exclusion(),
  }),
  volume_spike: table({
    ewma_alpha: z.number().gt(0).max(1).default(0.05),
    min_absolute_volume: natNum(10000),
    minimum_z: z.number().default(1.65),
    target_fdr_q: z.number().gt(0).lt(1).default(0.05),
    /** augur extension (DOMAIN §5.2 "OPTIONAL"): apply BH over the cycle's candidates. */
    fdr_enabled: bool(false),
    resolution_exclusion_seconds: exclusion(),
  }),
  book_imbalance: table({
    depth_levels: posInt(5),
    bullish_threshold: z.number().gt(0.5).max(1).default(0.72),
    bearish_threshold: z.number().min(0).lt(0.5).default(0.28),
    persistence_snapshots: posInt(3),
    minimum_total_depth: natNum(5000),
    resolution_exclusion_seconds: exclusion(),
  }),
  cross_market: table({
    window_seconds: posInt(14400),
    min_historical_correlation: unit(0.6),
    activity_floor: natNum(1.0),
    target_fdr_q: z.number().gt(0).lt(1).default(0.05),
    /** augur extension (DESIGN §10): data-time grid step of the divergence singleton. */
    grid_seconds: posInt(60),
    /** augur extension (DESIGN §10): a leg counts at g with a snapshot in (g − this, g]. */
    leg_staleness_seconds: posInt(300),
    resolution_exclusion_seconds: exclusion(),
  }),
  regime_shift: table({
    k_multiplier: posNum(0.5),
    h_multiplier: posNum(4.0),
    dormancy_minimum_seconds: natInt(21600),
    adaptive_cooldown_factor: posNum(2.0),
    target_alpha: z.number().gt(0).lt(1).default(0.02),
    resolution_exclusion_seconds: exclusion(),
  }),
});

/** The validated `detectors` section. */
export type DetectorsConfig = z.infer<typeof DetectorsFileSchema>;
