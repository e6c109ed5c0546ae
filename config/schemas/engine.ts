/**
 * Schema of `engine.toml` (augur extension): runtime knobs DOMAIN §12 lists as code-only
 * defaults (features, manipulation, calibration drift) and the process settings of DESIGN §10
 * (checkpoints, the dedup data-time window, context waits). Every key has a default, so the
 * file is optional.
 *
 * @example
 * ```ts
 * import { EngineFileSchema } from "./engine.ts";
 * EngineFileSchema.parse({}).features.warmup_size; // 50
 * ```
 * @module
 */
import { z } from "zod";
import { natNum, posInt, table, unit } from "./common.ts";

/** `engine.toml` (effective config key `engine`). */
export const EngineFileSchema = z.strictObject({
  runtime: table({
    /** Partition-ordered kinds checkpoint worker state this often (DESIGN §10). */
    checkpoint_interval_seconds: posInt(60),
    /** Dedup's data-time window W, aligned to fingerprint buckets (DESIGN §10). */
    dedup_window_seconds: posInt(30),
    /** Longest time context assembly waits for a tick to be fully stored (DESIGN §10). */
    context_wait_timeout_seconds: posInt(30),
  }),
  features: table({
    buffer_size: posInt(500),
    warmup_size: posInt(50),
    ewma_alpha: z.number().gt(0).max(1).default(0.05),
    max_polling_interval_seconds: posInt(300),
  }),
  manipulation: table({
    herfindahl_threshold: unit(0.4),
    size_vs_depth_threshold: natNum(0.4),
    cancel_replace_window_seconds: posInt(60),
    cancel_replace_min_count: posInt(20),
    thin_book_min_depth: natNum(5000),
    pre_resolution_window_seconds: posInt(21600),
  }),
  calibration: table({
    target_fdr_q: z.number().gt(0).lt(1).default(0.05),
    sample_size_floor: posInt(100),
    psi_trigger_threshold: natNum(0.2),
    ks_p_value_threshold: unit(0.01),
  }),
});

/** The validated `engine` section. */
export type EngineConfig = z.infer<typeof EngineFileSchema>;
