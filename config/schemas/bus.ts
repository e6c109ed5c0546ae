/**
 * Schema of `bus.toml`: which bus backend runs and how it is tuned (DESIGN §10, DOMAIN §12).
 *
 * @example
 * ```ts
 * import { BusFileSchema } from "./bus.ts";
 * BusFileSchema.parse({}).backend.kind; // "memory"
 * ```
 * @module
 */
import { z } from "zod";
import { bool, type ConfigIssue, envName, natInt, oneOf, posInt, str, table } from "./common.ts";

/** Bus backends. */
export const BUS_KINDS = ["memory", "nats", "redis"] as const;

/** `bus.toml` (effective config key `bus`). */
export const BusFileSchema = z.strictObject({
  backend: table({
    kind: oneOf(BUS_KINDS, "memory"),
    capacity: posInt(256),
    partitions: z.int().min(1).max(1000).default(60),
    max_in_flight: posInt(64),
    retention_hours: posInt(24),
    drain_timeout_seconds: posInt(30),
  }),
  nats: table({
    servers: z.array(z.string().min(1)).min(1).default(["nats://localhost:4222"]),
    credentials_file_env: envName("NATS_CREDENTIALS_FILE"),
    stream_name: z.string().regex(/^[A-Za-z0-9_-]+$/, {
      error: "a stream name of letters, digits, _ or -",
    }).default("augur"),
    replication_factor: z.int().min(1).max(5).default(1),
    subject_prefix: z.string().regex(/^[A-Za-z0-9_-]+$/, {
      error: "one subject token of letters, digits, _ or -",
    }).default("augur"),
    ack_wait_seconds: posInt(30),
    max_deliver: posInt(5),
    duplicate_window_seconds: posInt(120),
    batch: posInt(256),
  }),
  redis: table({
    url_env: envName("REDIS_URL"),
    stream_max_length: posInt(100000),
    consumer_group_prefix: str("augur"),
    block_ms: posInt(1000),
    claim_idle_ms: posInt(30000),
    allow_volatile: bool(false),
    batch: posInt(256),
  }),
  lock: table({
    ttl_seconds: posInt(30),
    renew_interval_seconds: posInt(10),
    wait_tick_seconds: posInt(1),
    margin_seconds: natInt(2),
    kv_bucket: str("augur_locks"),
  }),
  dlq: table({
    max_retries: natInt(5),
    retry_backoff_ms: z.array(z.int().min(0)).default([100, 1000, 5000]),
  }),
});

/** The validated `bus` section. */
export type BusConfig = z.infer<typeof BusFileSchema>;

/**
 * Cross-key checks zod cannot express per key: `P` must be fixed and the lock timings must
 * leave room to renew.
 *
 * @example
 * ```ts
 * import { BusFileSchema, validateBus } from "./bus.ts";
 * validateBus(BusFileSchema.parse({})); // undefined
 * ```
 */
export function validateBus(bus: BusConfig): ConfigIssue | undefined {
  const { lock } = bus;
  if (lock.renew_interval_seconds >= lock.ttl_seconds) {
    return {
      path: ["lock", "renew_interval_seconds"],
      message:
        `expected a value < lock.ttl_seconds (${lock.ttl_seconds}), received number ${lock.renew_interval_seconds}`,
    };
  }
  if (lock.margin_seconds >= lock.ttl_seconds) {
    return {
      path: ["lock", "margin_seconds"],
      message:
        `expected a value < lock.ttl_seconds (${lock.ttl_seconds}), received number ${lock.margin_seconds}`,
    };
  }
  return undefined;
}
