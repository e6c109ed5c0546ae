/**
 * The watchlist a process works with: `markets.toml` for live and replayed data, or the
 * simulator's generated watchlist (markets, categories, relationships) for
 * `--source simulator[:seed]`, so contexts and divergence pairs match the simulated markets.
 *
 * @example
 * ```ts
 * import { watchlistFor } from "./watchlist.ts";
 * // const { markets, relationships } = watchlistFor(config, "simulator:42");
 * ```
 * @module
 */
import type { AugurConfig } from "../config/loader.ts";
import { parseSourceSpec } from "../adapters/markets/source_factory.ts";
import { simulatorWatchlist } from "../adapters/markets/simulator.ts";
import type { WatchedMarket } from "../adapters/markets/source.ts";
import type { TaxonomyEdge } from "../pipeline/models.ts";

/** A watched market with its routing/prompt category. */
export type WatchlistMarket = WatchedMarket & { readonly category: string };

/** Markets and relationships of one run. */
export interface Watchlist {
  readonly markets: readonly WatchlistMarket[];
  readonly relationships: readonly TaxonomyEdge[];
}

/**
 * The watchlist for a source spec (`live`, `simulator[:seed]` — `[polling.simulator] markets`
 * simulated markets —, `replay:FILE`).
 */
export function watchlistFor(config: AugurConfig, source: string | undefined): Watchlist {
  if (parseSourceSpec(source ?? "live").kind === "simulator") {
    const sim = simulatorWatchlist({ markets: config.polling.simulator.markets });
    return {
      markets: sim.markets,
      relationships: sim.relationships.map((r) => ({
        market_a: r.market_a,
        market_b: r.market_b,
        relationship_type: r.type,
        strength: r.strength,
        source: "manual" as const,
      })),
    };
  }
  return {
    markets: config.markets.markets.filter((m) => m.active).map((m) => ({
      id: m.id,
      platform: m.platform,
      platform_market_id: m.platform_market_id,
      category: m.category,
      poll_priority: m.poll_priority,
    })),
    relationships: config.markets.relationships.map((r) => ({
      market_a: r.market_a,
      market_b: r.market_b,
      relationship_type: r.type,
      strength: r.strength,
      source: r.source,
    })),
  };
}

/** Ids of markets that take part in any relationship. */
export function relatedMarkets(watchlist: Watchlist): Set<string> {
  const ids = new Set<string>();
  for (const r of watchlist.relationships) {
    ids.add(r.market_a);
    ids.add(r.market_b);
  }
  return ids;
}
