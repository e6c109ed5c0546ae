/**
 * Who receives what on the WebSocket endpoint (DOMAIN §11.3), from `consumers.toml` and the
 * watchlist's market → category map:
 * - a context goes to every consumer of its market's category (unknown market or category ⇒
 *   `default`, i.e. dashboard); `deterministic` output to all of them, `llm_assisted` output
 *   only to the opted-in ones;
 * - a brief (always `llm_assisted`) goes to its `actionable_for` consumers that are opted in
 *   (the brief carries no market id, and the LLM gate already kept only opted-in entries).
 *
 * @example
 * ```ts
 * import { WebSocketRouter } from "./websocket_routing.ts";
 * const router = WebSocketRouter.fromConfig({
 *   consumers: { categories: { inflation: { consumers: ["macro_research_agent", "dashboard"] } } },
 *   markets: { markets: [{ id: "m1", category: "inflation" }] },
 * });
 * router.consumersOfMarket("m1", "deterministic"); // ["macro_research_agent", "dashboard"]
 * ```
 * @module
 */
import { ConsumerRegistry, type ConsumersSettings } from "../pipeline/format/routing.ts";
import type {
  ConsumerType,
  IntelligenceBrief,
  InterpretationMode,
  SignalContext,
} from "../pipeline/models.ts";

/** The config sections routing reads (structurally a subset of the effective config). */
export interface RoutingConfig {
  readonly consumers: ConsumersSettings;
  readonly markets: { readonly markets: readonly { id: string; category: string }[] };
}

/**
 * Routes contexts and briefs to consumer types.
 *
 * @example
 * ```ts
 * import { WebSocketRouter } from "./websocket_routing.ts";
 * WebSocketRouter.fromConfig({ consumers: {}, markets: { markets: [] } })
 *   .consumersOfMarket("x", "deterministic"); // ["dashboard"]
 * ```
 */
export class WebSocketRouter {
  readonly registry: ConsumerRegistry;
  readonly #categories: ReadonlyMap<string, string>;
  readonly #cache = new Map<string, readonly ConsumerType[]>();

  constructor(registry: ConsumerRegistry, categories: ReadonlyMap<string, string>) {
    this.registry = registry;
    this.#categories = categories;
  }

  /**
   * Build from `config.consumers` and `config.markets`.
   *
   * @example
   * ```ts
   * import { WebSocketRouter } from "./websocket_routing.ts";
   * WebSocketRouter.fromConfig({ consumers: {}, markets: { markets: [] } });
   * ```
   */
  static fromConfig(config: RoutingConfig): WebSocketRouter {
    return new WebSocketRouter(
      ConsumerRegistry.fromConfig(config.consumers),
      new Map(config.markets.markets.map((m) => [m.id, m.category])),
    );
  }

  /** Category of a watched market (`""` when unknown). */
  categoryOf(marketId: string): string {
    return this.#categories.get(marketId) ?? "";
  }

  /** Consumers of output of `mode` about `marketId`. */
  consumersOfMarket(marketId: string, mode: InterpretationMode): readonly ConsumerType[] {
    const key = `${mode}\u0000${marketId}`;
    let out = this.#cache.get(key);
    if (!out) {
      out = Object.freeze(this.registry.route(this.categoryOf(marketId), mode).deliver);
      if (this.#cache.size > 100_000) this.#cache.clear();
      this.#cache.set(key, out);
    }
    return out;
  }

  /** Consumers of a context. */
  routeContext(context: SignalContext): readonly ConsumerType[] {
    return this.consumersOfMarket(context.signal.market_id, context.interpretation_mode);
  }

  /** Consumers of a brief: `actionable_for` ∩ opted-in, in the brief's order. */
  routeBrief(brief: IntelligenceBrief): ConsumerType[] {
    return [...new Set(brief.actionable_for)].filter((c) => this.registry.isOptedIn(c));
  }
}
