/**
 * The market taxonomy (DOMAIN §9): watchlist relationships indexed under both endpoints.
 * The reverse copy of an edge keeps its type, strength and source. Pure and immutable.
 *
 * @example
 * ```ts
 * import { Taxonomy } from "./taxonomy.ts";
 * const taxonomy = Taxonomy.fromRelationships([
 *   { market_a: "a", market_b: "b", type: "inverse", strength: 0.9 },
 *   { market_a: "c", market_b: "a", type: "complex" },
 * ]);
 * taxonomy.edgesOf("a").map((e) => e.market_b); // ["b", "c"]
 * taxonomy.clusterFor("a"); // ["b"] (complex edges never cluster)
 * ```
 * @module
 */
import type { EdgeSource, RelationshipType, TaxonomyEdge } from "./models.ts";
import { RELATIONSHIP_TYPES } from "./models.ts";

/** Edge types `cluster_for` uses by default (never `complex`). */
export const DEFAULT_CLUSTER_TYPES: readonly RelationshipType[] = ["positive", "inverse", "causal"];

/** A relationship as `markets.toml` spells it (`type`) or as a TaxonomyEdge (`relationship_type`). */
export interface RelationshipInput {
  market_a: string;
  market_b: string;
  /** `markets.toml` spelling. */
  type?: RelationshipType;
  /** TaxonomyEdge spelling. */
  relationship_type?: RelationshipType;
  /** 0..1, default 1.0. */
  strength?: number;
  /** Default `manual`. */
  source?: EdgeSource;
}

/** A relationship that cannot be indexed. */
export class TaxonomyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TaxonomyError";
  }
}

/**
 * Relationship index over both directions. `edgesOf(m)` returns every edge touching `m`,
 * oriented so `market_a === m`, in config order.
 *
 * @example
 * ```ts
 * import { Taxonomy } from "./taxonomy.ts";
 * const t = new Taxonomy([{ market_a: "a", market_b: "b", relationship_type: "positive",
 *   strength: 1, source: "manual" }]);
 * t.edgesOf("b")[0].market_b; // "a"
 * ```
 */
export class Taxonomy {
  readonly #edges: readonly TaxonomyEdge[];
  readonly #byMarket = new Map<string, TaxonomyEdge[]>();
  static readonly #empty: readonly TaxonomyEdge[] = Object.freeze([]);

  constructor(edges: readonly TaxonomyEdge[]) {
    const kept: TaxonomyEdge[] = [];
    for (const [i, edge] of edges.entries()) {
      if (!RELATIONSHIP_TYPES.includes(edge.relationship_type)) {
        throw new TaxonomyError(
          `relationships[${i}].type: expected one of ${RELATIONSHIP_TYPES.join(", ")}, received ${
            JSON.stringify(edge.relationship_type)
          }`,
        );
      }
      if (edge.market_a === edge.market_b) continue; // a market is not its own neighbour
      const forward = Object.freeze({ ...edge });
      const reverse = Object.freeze({ ...edge, market_a: edge.market_b, market_b: edge.market_a });
      kept.push(forward);
      this.#add(forward);
      this.#add(reverse);
    }
    this.#edges = Object.freeze(kept);
    for (const list of this.#byMarket.values()) Object.freeze(list);
  }

  /**
   * Build from watchlist relationships (`config.markets.relationships`) or TaxonomyEdges.
   *
   * @example
   * ```ts
   * import { Taxonomy } from "./taxonomy.ts";
   * Taxonomy.fromRelationships([{ market_a: "a", market_b: "b", type: "causal" }]).size; // 1
   * ```
   */
  static fromRelationships(relationships: readonly RelationshipInput[]): Taxonomy {
    return new Taxonomy(relationships.map((r, i) => {
      const type = r.relationship_type ?? r.type;
      if (type === undefined) {
        throw new TaxonomyError(
          `relationships[${i}].type: expected a relationship type, received none`,
        );
      }
      const strength = r.strength ?? 1.0;
      if (!(strength >= 0 && strength <= 1)) {
        throw new TaxonomyError(
          `relationships[${i}].strength: expected a number in [0, 1], received ${strength}`,
        );
      }
      return {
        market_a: r.market_a,
        market_b: r.market_b,
        relationship_type: type,
        strength,
        source: r.source ?? "manual",
      };
    }));
  }

  #add(edge: TaxonomyEdge): void {
    let list = this.#byMarket.get(edge.market_a);
    if (list === undefined) {
      list = [];
      this.#byMarket.set(edge.market_a, list);
    }
    list.push(edge);
  }

  /** Number of (undirected) edges. */
  get size(): number {
    return this.#edges.length;
  }

  /** The edges as configured (forward direction), in config order. */
  get edges(): readonly TaxonomyEdge[] {
    return this.#edges;
  }

  /**
   * Every edge of `marketId` (any type), oriented `market_a = marketId`, in config order.
   *
   * @example
   * ```ts
   * import { Taxonomy } from "./taxonomy.ts";
   * Taxonomy.fromRelationships([]).edgesOf("x"); // []
   * ```
   */
  edgesOf(marketId: string): readonly TaxonomyEdge[] {
    return this.#byMarket.get(marketId) ?? Taxonomy.#empty;
  }

  /**
   * Neighbours of `marketId` whose edge type is in `types` (default positive, inverse, causal),
   * in config order, without repeats. Direct neighbours only (not transitive).
   *
   * @example
   * ```ts
   * import { Taxonomy } from "./taxonomy.ts";
   * const t = Taxonomy.fromRelationships([{ market_a: "a", market_b: "b", type: "complex" }]);
   * t.clusterFor("a"); // []
   * t.clusterFor("a", ["complex"]); // ["b"]
   * ```
   */
  clusterFor(
    marketId: string,
    types: readonly RelationshipType[] = DEFAULT_CLUSTER_TYPES,
  ): string[] {
    const out: string[] = [];
    for (const edge of this.edgesOf(marketId)) {
      if (types.includes(edge.relationship_type) && !out.includes(edge.market_b)) {
        out.push(edge.market_b);
      }
    }
    return out;
  }
}

/**
 * Function form of {@linkcode Taxonomy.clusterFor} (DOMAIN §9 `cluster_for(market, types)`).
 *
 * @example
 * ```ts
 * import { clusterFor, Taxonomy } from "./taxonomy.ts";
 * clusterFor(Taxonomy.fromRelationships([{ market_a: "a", market_b: "b", type: "positive" }]), "b");
 * // ["a"]
 * ```
 */
export function clusterFor(
  taxonomy: Taxonomy,
  marketId: string,
  types: readonly RelationshipType[] = DEFAULT_CLUSTER_TYPES,
): string[] {
  return taxonomy.clusterFor(marketId, types);
}
