/**
 * Schema of `polling.toml` (DOMAIN §3.6, §12). The file holds one `[polling]` table; the
 * effective config key `polling` is that table (so `config.polling.hot_interval_s`).
 *
 * @example
 * ```ts
 * import { PollingFileSchema } from "./polling.ts";
 * PollingFileSchema.parse({}).polling.hot_interval_s; // 15
 * ```
 * @module
 */
import { z } from "zod";
import { type ConfigIssue, natInt, posInt, posNum, table, unit } from "./common.ts";

/** `polling.toml`. */
export const PollingFileSchema = z.strictObject({
  polling: table({
    hot_interval_s: posInt(15),
    warm_interval_s: posInt(30),
    cool_interval_s: posInt(60),
    cold_interval_s: posInt(300),
    /** augur extension (DOMAIN §3.6): a signal within this window counts as `sig`. */
    signal_memory_seconds: posInt(14400),
    /** augur extension (DOMAIN §3.6 live runner): initial trade `since` lookback. */
    trade_lookback_seconds: posInt(300),
    hysteresis: table({
      hot_promote: posNum(2.2),
      hot_demote: posNum(1.8),
      warm_promote: posNum(1.5),
      warm_demote: posNum(1.3),
      cool_promote: posNum(1.1),
      cool_demote: posNum(0.9),
    }),
    platform_caps: table({
      polymarket_per_min: posInt(600),
      kalshi_per_min: posInt(1000),
      budget_safety_pct: unit(0.7),
    }),
    /** augur extension (DOMAIN §3.6): rate-limit pressure thresholds. */
    pressure: table({
      trigger_utilization: unit(0.8),
      recovery_utilization: unit(0.7),
      pressured_cold_interval_s: posInt(600),
    }),
    backoff: table({
      initial_s: posNum(1),
      max_s: posNum(60),
      max_retries: posInt(5),
      demote_after_consecutive_failures: posInt(10),
      remove_after_consecutive_failures: posInt(50),
    }),
    /** augur extension: the shape of `--source simulator` (demos, load tests). */
    simulator: table({
      markets: posInt(12),
      tick_seconds: posInt(300),
      interval_ms: natInt(0),
      event_every_seconds: natInt(0),
    }),
  }),
});

/** The validated `polling` section (the `[polling]` table). */
export type PollingConfig = z.infer<typeof PollingFileSchema>["polling"];

/**
 * Interval order and hysteresis sanity: hot ≤ warm ≤ cool ≤ cold.
 *
 * @example
 * ```ts
 * import { PollingFileSchema, validatePolling } from "./polling.ts";
 * validatePolling(PollingFileSchema.parse({}).polling); // undefined
 * ```
 */
export function validatePolling(polling: PollingConfig): ConfigIssue | undefined {
  const order = [
    "hot_interval_s",
    "warm_interval_s",
    "cool_interval_s",
    "cold_interval_s",
  ] as const;
  for (let i = 1; i < order.length; i++) {
    if (polling[order[i]] < polling[order[i - 1]]) {
      return {
        path: ["polling", order[i]],
        message: `expected a value >= polling.${order[i - 1]} (${
          polling[order[i - 1]]
        }), received number ${polling[order[i]]}`,
      };
    }
  }
  if (polling.backoff.max_s < polling.backoff.initial_s) {
    return {
      path: ["polling", "backoff", "max_s"],
      message:
        `expected a value >= polling.backoff.initial_s (${polling.backoff.initial_s}), received number ${polling.backoff.max_s}`,
    };
  }
  return undefined;
}
