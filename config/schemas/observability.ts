/**
 * Schema of `observability.toml`: metrics endpoint, tracing and logs (DESIGN §7).
 *
 * @example
 * ```ts
 * import { ObservabilityFileSchema } from "./observability.ts";
 * ObservabilityFileSchema.parse({}).metrics.port; // 9090
 * ```
 * @module
 */
import { z } from "zod";
import { bool, oneOf, port, str, table, unit } from "./common.ts";

/** Log levels accepted in `[logs] level`. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

/** `observability.toml` (effective config key `observability`). */
export const ObservabilityFileSchema = z.strictObject({
  metrics: table({
    kind: oneOf(["prometheus", "disabled"] as const, "prometheus"),
    bind: z.string().min(1).default("0.0.0.0"),
    port: port(9090),
  }),
  traces: table({
    enabled: bool(false),
    sampling_ratio: unit(0.1),
    service_name: str("augur"),
  }),
  logs: table({
    level: oneOf(LOG_LEVELS, "info"),
    format: oneOf(["json"] as const, "json"),
  }),
});

/** The validated `observability` section. */
export type ObservabilityConfig = z.infer<typeof ObservabilityFileSchema>;
