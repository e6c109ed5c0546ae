/**
 * Schema of `forbidden_tokens.toml` (DOMAIN §11.5): `[<category>] phrases = [...]`. The
 * effective config key `forbidden_tokens` is `{ categories, phrases }` where `phrases` is the
 * flattened, lower-cased, de-duplicated list sorted ascending (the order the LLM prompt lists).
 *
 * @example
 * ```ts
 * import { ForbiddenTokensFileSchema, flattenForbiddenTokens } from "./forbidden_tokens.ts";
 * const file = ForbiddenTokensFileSchema.parse({ price_projection: { phrases: ["price will"] } });
 * flattenForbiddenTokens(file).phrases; // ["price will"]
 * ```
 * @module
 */
import { z } from "zod";

/** The phrases of DOMAIN §11.5, used when the file is absent. */
export const DEFAULT_FORBIDDEN_TOKENS: Record<string, { phrases: string[] }> = {
  causal_narrative: {
    phrases: [
      "may be driven by",
      "consistent with new information",
      "potentially indicates",
      "likely reflects",
      "suggests that",
      "appears to be caused by",
      "indicates that the market",
    ],
  },
  price_projection: {
    phrases: [
      "price will",
      "expect the price to",
      "likely to resolve",
      "probability of resolution",
      "will resolve yes",
      "will resolve no",
    ],
  },
  manipulation_speculation: {
    phrases: [
      "is being manipulated",
      "market manipulation by",
      "coordinated activity by",
      "evidence of collusion",
    ],
  },
};

/** `forbidden_tokens.toml`: any category name, each a table with `phrases`. */
export const ForbiddenTokensFileSchema = z.record(
  z.string(),
  z.strictObject({ phrases: z.array(z.string().min(1)) }),
);

/** The effective `forbidden_tokens` section. */
export interface ForbiddenTokensConfig {
  /** Phrases per category, as configured. */
  categories: Record<string, { phrases: string[] }>;
  /** All phrases, lower-cased, unique, sorted ascending. */
  phrases: string[];
}

/**
 * Build the effective section from the parsed file (or the defaults when absent/empty).
 *
 * @example
 * ```ts
 * import { flattenForbiddenTokens } from "./forbidden_tokens.ts";
 * flattenForbiddenTokens({ a: { phrases: ["B", "a"] } }).phrases; // ["a", "b"]
 * ```
 */
export function flattenForbiddenTokens(
  file: Record<string, { phrases: string[] }> | undefined,
): ForbiddenTokensConfig {
  const categories = file && Object.keys(file).length > 0 ? file : DEFAULT_FORBIDDEN_TOKENS;
  const phrases = [
    ...new Set(Object.values(categories).flatMap((c) => c.phrases.map((p) => p.toLowerCase()))),
  ].sort();
  return { categories: structuredClone(categories), phrases };
}
