/**
 * Consumer registry and routing (DOMAIN §11.3) from `consumers.toml`: category → consumers,
 * unknown category → `default` (dashboard only). Deterministic output goes to every
 * candidate; `llm_assisted` output only to opted-in consumers, the rest reported as suppressed.
 *
 * @example
 * ```ts
 * import { ConsumerRegistry } from "./routing.ts";
 * const registry = ConsumerRegistry.fromConfig({
 *   categories: { monetary_policy: { consumers: ["macro_research_agent", "dashboard"] } },
 *   llm_assisted: { consumers: ["dashboard"] },
 * });
 * registry.route("monetary_policy", "llm_assisted");
 * // { deliver: ["dashboard"], suppressed: ["macro_research_agent"] }
 * registry.consumersFor("unknown"); // ["dashboard"]
 * ```
 * @module
 */
import { CONSUMER_TYPES, type ConsumerType, type InterpretationMode } from "../models.ts";

/** `config.consumers` shape (subset). */
export interface ConsumersSettings {
  categories?: Readonly<Record<string, { consumers: readonly ConsumerType[] }>>;
  llm_assisted?: { consumers: readonly ConsumerType[] };
}

/** Routing decision for one output. */
export interface Route {
  /** Consumers that receive the output, in configured order. */
  deliver: ConsumerType[];
  /** Candidates that do not (not opted in to llm_assisted output). */
  suppressed: ConsumerType[];
}

/** An unknown consumer type in the routing config. */
export class RoutingConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RoutingConfigError";
  }
}

const DEFAULT_CONSUMERS: readonly ConsumerType[] = Object.freeze(["dashboard"] as ConsumerType[]);

function checkList(where: string, list: readonly string[]): ConsumerType[] {
  for (const c of list) {
    if (!(CONSUMER_TYPES as readonly string[]).includes(c)) {
      throw new RoutingConfigError(
        `${where}: expected one of ${CONSUMER_TYPES.join(", ")}, received ${JSON.stringify(c)}`,
      );
    }
  }
  return [...new Set(list as ConsumerType[])];
}

/**
 * Immutable routing table.
 *
 * @example
 * ```ts
 * import { ConsumerRegistry } from "./routing.ts";
 * ConsumerRegistry.fromConfig({}).consumersFor("anything"); // ["dashboard"]
 * ```
 */
export class ConsumerRegistry {
  readonly #byCategory: ReadonlyMap<string, readonly ConsumerType[]>;
  readonly #default: readonly ConsumerType[];
  readonly #optedIn: ReadonlySet<ConsumerType>;

  private constructor(settings: ConsumersSettings) {
    const map = new Map<string, readonly ConsumerType[]>();
    for (const [name, entry] of Object.entries(settings.categories ?? {})) {
      map.set(name, Object.freeze(checkList(`categories.${name}.consumers`, entry.consumers)));
    }
    this.#default = map.get("default") ?? DEFAULT_CONSUMERS;
    this.#byCategory = map;
    this.#optedIn = new Set(
      checkList("llm_assisted.consumers", settings.llm_assisted?.consumers ?? ["dashboard"]),
    );
  }

  /**
   * Build from `config.consumers`.
   *
   * @example
   * ```ts
   * import { ConsumerRegistry } from "./routing.ts";
   * ConsumerRegistry.fromConfig({ categories: {} });
   * ```
   */
  static fromConfig(settings: ConsumersSettings): ConsumerRegistry {
    return new ConsumerRegistry(settings);
  }

  /** Consumers opted in to `llm_assisted` output, in ConsumerType order. */
  get optedIn(): ConsumerType[] {
    return CONSUMER_TYPES.filter((c) => this.#optedIn.has(c));
  }

  /** Whether a consumer receives `llm_assisted` output. */
  isOptedIn(consumer: ConsumerType): boolean {
    return this.#optedIn.has(consumer);
  }

  /**
   * Candidate consumers of a category (unknown or empty category ⇒ `default`).
   *
   * @example
   * ```ts
   * import { ConsumerRegistry } from "./routing.ts";
   * ConsumerRegistry.fromConfig({}).consumersFor(""); // ["dashboard"]
   * ```
   */
  consumersFor(category: string): ConsumerType[] {
    return [...(this.#byCategory.get(category) ?? this.#default)];
  }

  /**
   * Who gets an output of `mode` for a market of `category`.
   *
   * @example
   * ```ts
   * import { ConsumerRegistry } from "./routing.ts";
   * ConsumerRegistry.fromConfig({}).route("x", "deterministic"); // { deliver: ["dashboard"], suppressed: [] }
   * ```
   */
  route(category: string, mode: InterpretationMode): Route {
    const candidates = this.consumersFor(category);
    if (mode === "deterministic") return { deliver: candidates, suppressed: [] };
    return {
      deliver: candidates.filter((c) => this.#optedIn.has(c)),
      suppressed: candidates.filter((c) => !this.#optedIn.has(c)),
    };
  }
}
