/**
 * Schema of `investigation_prompts.toml`, the prompt library (DOMAIN §9): `[[prompts]]` with
 * `signal_type`, `market_category`, `prompts`. Effective config key `prompts` is the array.
 *
 * @example
 * ```ts
 * import { InvestigationPromptsFileSchema } from "./investigation_prompts.ts";
 * InvestigationPromptsFileSchema.parse({}).prompts; // []
 * ```
 * @module
 */
import { z } from "zod";
import { type ConfigIssue, requiredString } from "./common.ts";

/** Signal types (DOMAIN §2.1). */
export const SIGNAL_TYPES = [
  "price_velocity",
  "volume_spike",
  "book_imbalance",
  "cross_market_divergence",
  "regime_shift",
] as const;

/** One `[[prompts]]` entry. */
export const PromptEntrySchema = z.strictObject({
  signal_type: z.enum(SIGNAL_TYPES),
  market_category: requiredString(),
  prompts: z.array(z.string().min(1)).min(1),
});

/** `investigation_prompts.toml`. */
export const InvestigationPromptsFileSchema = z.strictObject({
  prompts: z.array(PromptEntrySchema).default([]),
});

/** One prompt library entry. */
export type PromptEntry = z.infer<typeof PromptEntrySchema>;

/**
 * Rejects duplicate (signal_type, market_category) pairs.
 *
 * @example
 * ```ts
 * import { validatePrompts } from "./investigation_prompts.ts";
 * validatePrompts([]); // undefined
 * ```
 */
export function validatePrompts(prompts: readonly PromptEntry[]): ConfigIssue | undefined {
  const seen = new Map<string, number>();
  for (const [i, entry] of prompts.entries()) {
    const key = `${entry.signal_type}/${entry.market_category}`;
    const first = seen.get(key);
    if (first !== undefined) {
      return {
        path: ["prompts", i],
        message: `duplicate entry for ${key} (first defined at prompts[${first}])`,
      };
    }
    seen.set(key, i);
  }
  return undefined;
}
