/**
 * Schema of `consumers.toml`, category → consumer routing (DOMAIN §11.3). Unknown consumer
 * types fail loading; a missing `default` category is implied as `["dashboard"]`.
 *
 * @example
 * ```ts
 * import { ConsumersFileSchema } from "./consumers.ts";
 * ConsumersFileSchema.parse({}).categories.default.consumers; // ["dashboard"]
 * ```
 * @module
 */
import { z } from "zod";
import { table } from "./common.ts";

/** Consumer types (DOMAIN §2.1). */
export const CONSUMER_TYPES = [
  "macro_research_agent",
  "geopolitical_research_agent",
  "crypto_research_agent",
  "financial_news_desk",
  "regulatory_news_desk",
  "dashboard",
] as const;

const Consumers = z.array(z.enum(CONSUMER_TYPES));

/** `consumers.toml` (effective config key `consumers`). */
export const ConsumersFileSchema = z.strictObject({
  categories: z.record(z.string(), z.strictObject({ consumers: Consumers })).default({})
    .transform((categories) =>
      "default" in categories
        ? categories
        : { ...categories, default: { consumers: ["dashboard" as const] } }
    ),
  /** Consumers opted in to `llm_assisted` output (DOMAIN §11.3; default {dashboard}). */
  llm_assisted: table({
    consumers: Consumers.default(["dashboard"]),
  }),
});

/** The validated `consumers` section. */
export type ConsumersConfig = z.infer<typeof ConsumersFileSchema>;
