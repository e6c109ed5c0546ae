/**
 * Schema of `storage.toml`: the store backend, TimescaleDB hypertable policies and the
 * batching sink (DESIGN §6, DOMAIN §12).
 *
 * @example
 * ```ts
 * import { StorageFileSchema } from "./storage.ts";
 * StorageFileSchema.parse({}).backend.kind; // "duckdb"
 * ```
 * @module
 */
import { z } from "zod";
import { bool, envName, natInt, oneOf, posInt, str, table } from "./common.ts";

/** Store backends. */
export const STORAGE_KINDS = ["duckdb", "timescaledb"] as const;

/** `storage.toml` (effective config key `storage`). */
export const StorageFileSchema = z.strictObject({
  backend: table({
    kind: oneOf(STORAGE_KINDS, "duckdb"),
    duckdb_path: z.string().min(1).default("data/augur.duckdb"),
    timescale_url_env: envName("AUGUR_TIMESCALE_URL"),
  }),
  connection: table({
    pool_size: posInt(20),
    max_overflow: natInt(10),
    pool_timeout_seconds: posInt(30),
  }),
  hypertable: table({
    snapshot_chunk_days: posInt(1),
    feature_chunk_days: posInt(1),
    signal_chunk_days: posInt(7),
    compress_segmentby: str("market_id"),
  }),
  compression: table({
    snapshot_after_days: natInt(7),
    feature_after_days: natInt(7),
    signal_after_days: natInt(30),
  }),
  retention: table({
    snapshot_days: natInt(0),
    feature_days: natInt(30),
    signal_days: natInt(0),
  }),
  dual_write: table({
    enabled: bool(false),
    lag_alert_seconds: posInt(10),
  }),
  sink: table({
    batch_size: posInt(500),
    max_delay_ms: posInt(200),
  }),
});

/** The validated `storage` section. */
export type StorageConfig = z.infer<typeof StorageFileSchema>;
