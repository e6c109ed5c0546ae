/**
 * Schema of `dedup.toml` (DOMAIN §8, §12). The file holds one `[dedup]` table; the effective
 * config key `dedup` is that table (so `config.dedup.storm.trigger_signal_rate_per_sec`).
 *
 * @example
 * ```ts
 * import { DedupFileSchema } from "./dedup.ts";
 * DedupFileSchema.parse({}).dedup.fingerprint_bucket_seconds; // 30
 * ```
 * @module
 */
import { z } from "zod";
import { natNum, posInt, table, unit } from "./common.ts";

/** Relationship types that may merge a cluster (never `complex`). */
export const CLUSTER_RELATIONSHIP_TYPES = ["positive", "inverse", "causal"] as const;

/** `dedup.toml`. */
export const DedupFileSchema = z.strictObject({
  dedup: table({
    fingerprint_bucket_seconds: posInt(30),
    cluster_window_seconds: posInt(90),
    cluster_relationship_types: z.array(z.enum(CLUSTER_RELATIONSHIP_TYPES)).default([
      "positive",
      "inverse",
      "causal",
    ]),
    bus: table({
      queue_capacity: posInt(256),
      per_consumer_buffer: posInt(64),
      context_assembler_concurrency: posInt(4),
      llm_formatter_concurrency: posInt(1),
    }),
    storm: table({
      trigger_signal_rate_per_sec: natNum(20),
      trigger_signal_rate_window_sec: posInt(30),
      trigger_queue_depth_pct: unit(0.75),
      trigger_queue_depth_window_sec: posInt(10),
      recovery_signal_rate_per_sec: natNum(5),
      recovery_signal_rate_window_sec: posInt(60),
      recovery_queue_depth_pct: unit(0.25),
      recovery_queue_depth_window_sec: posInt(30),
    }),
  }),
});

/** The validated `dedup` section (the `[dedup]` table). */
export type DedupConfig = z.infer<typeof DedupFileSchema>["dedup"];
