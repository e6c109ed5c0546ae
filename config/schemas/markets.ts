/**
 * Schema of `markets.toml`, the watchlist (DOMAIN §3.1): `[[markets]]` and
 * `[[relationships]]`. This file must exist; effective config key `markets` holds both arrays
 * (`config.markets.markets`, `config.markets.relationships`).
 *
 * @example
 * ```ts
 * import { MarketsFileSchema } from "./markets.ts";
 * const file = MarketsFileSchema.parse({
 *   markets: [{ id: "kalshi_fed", platform: "kalshi", platform_market_id: "FED-26JUN" }],
 * });
 * file.markets[0].poll_priority; // "normal"
 * ```
 * @module
 */
import { z } from "zod";
import { nearest } from "../errors.ts";
import { bool, type ConfigIssue, oneOf, requiredString, str, unit } from "./common.ts";

/** Platforms (DOMAIN §2.1). */
export const PLATFORMS = ["polymarket", "kalshi"] as const;
/** Relationship types (DOMAIN §2.1). */
export const RELATIONSHIP_TYPES = ["positive", "inverse", "complex", "causal"] as const;
/** Edge sources (DOMAIN §2.1). */
export const EDGE_SOURCES = ["manual", "embedding"] as const;
/** Watchlist poll priorities (DOMAIN §3.1); `normal` means the default tier (cool). */
export const POLL_PRIORITIES = ["hot", "warm", "cool", "cold", "normal"] as const;

/** One `[[markets]]` entry. */
export const WatchedMarketSchema = z.strictObject({
  id: requiredString(),
  platform: z.enum(PLATFORMS),
  platform_market_id: requiredString(),
  category: str(""),
  active: bool(true),
  poll_priority: oneOf(POLL_PRIORITIES, "normal"),
});

/** One `[[relationships]]` entry (a TaxonomyEdge). */
export const RelationshipSchema = z.strictObject({
  market_a: requiredString(),
  market_b: requiredString(),
  type: z.enum(RELATIONSHIP_TYPES),
  strength: unit(1.0),
  source: oneOf(EDGE_SOURCES, "manual"),
});

/** `markets.toml`. */
export const MarketsFileSchema = z.strictObject({
  markets: z.array(WatchedMarketSchema).default([]),
  relationships: z.array(RelationshipSchema).default([]),
});

/** The validated `markets` section. */
export type MarketsConfig = z.infer<typeof MarketsFileSchema>;
/** One watched market. */
export type WatchedMarket = z.infer<typeof WatchedMarketSchema>;
/** One relationship edge. */
export type Relationship = z.infer<typeof RelationshipSchema>;

/**
 * Cross-entry checks: unique ids, relationships between known distinct markets, at least one
 * active market.
 *
 * @example
 * ```ts
 * import { MarketsFileSchema, validateMarkets } from "./markets.ts";
 * validateMarkets(MarketsFileSchema.parse({})); // { path: ["markets"], message: "no active market ..." }
 * ```
 */
export function validateMarkets(file: MarketsConfig): ConfigIssue | undefined {
  const first = new Map<string, number>();
  for (const [i, market] of file.markets.entries()) {
    const seen = first.get(market.id);
    if (seen !== undefined) {
      return {
        path: ["markets", i, "id"],
        message: `duplicate market id "${market.id}" (first defined at markets[${seen}])`,
      };
    }
    first.set(market.id, i);
  }
  const ids = [...first.keys()];
  for (const [i, edge] of file.relationships.entries()) {
    for (const side of ["market_a", "market_b"] as const) {
      if (!first.has(edge[side])) {
        const hint = nearest(edge[side], ids);
        return {
          path: ["relationships", i, side],
          message: `unknown market "${edge[side]}"${
            hint ? ` (did you mean "${hint}"?)` : " (expected the id of a [[markets]] entry)"
          }`,
        };
      }
    }
    if (edge.market_a === edge.market_b) {
      return {
        path: ["relationships", i, "market_b"],
        message: `expected a market other than market_a, received "${edge.market_b}"`,
      };
    }
  }
  if (!file.markets.some((m) => m.active)) {
    return {
      path: ["markets"],
      message: "no active market (expected at least one [[markets]] entry with active = true)",
    };
  }
  return undefined;
}
