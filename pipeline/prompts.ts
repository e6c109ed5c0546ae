/**
 * The investigation prompt library (DOMAIN §9): entries keyed by (signal_type,
 * market_category), duplicates rejected, immutable, with a coverage report of missing pairs.
 *
 * @example
 * ```ts
 * import { PromptLibrary } from "./prompts.ts";
 * const library = PromptLibrary.fromEntries([
 *   { signal_type: "price_velocity", market_category: "monetary_policy", prompts: ["Check FOMC."] },
 * ]);
 * library.get("price_velocity", "monetary_policy"); // ["Check FOMC."]
 * library.get("volume_spike", "monetary_policy"); // []
 * ```
 * @module
 */
import { SIGNAL_TYPES, type SignalType } from "./models.ts";

/** One library entry (`[[prompts]]` of `investigation_prompts.toml`). */
export interface PromptEntryInput {
  signal_type: SignalType;
  market_category: string;
  prompts: readonly string[];
}

/** A (signal_type, market_category) pair without prompts. */
export interface MissingPair {
  signal_type: SignalType;
  market_category: string;
}

/** Coverage of the library over a set of categories. */
export interface PromptCoverage {
  /** Pairs with prompts, in (category, signal type) order. */
  covered: MissingPair[];
  /** Pairs without prompts, in (category, signal type) order. */
  missing: MissingPair[];
}

/** A bad library (duplicate or invalid entry). */
export class PromptLibraryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PromptLibraryError";
  }
}

const EMPTY: readonly string[] = Object.freeze([]);

/**
 * Immutable prompt library.
 *
 * @example
 * ```ts
 * import { PromptLibrary } from "./prompts.ts";
 * PromptLibrary.fromEntries([]).size; // 0
 * ```
 */
export class PromptLibrary {
  readonly #map: ReadonlyMap<string, readonly string[]>;
  readonly #entries: readonly PromptEntryInput[];

  private constructor(entries: readonly PromptEntryInput[]) {
    const map = new Map<string, readonly string[]>();
    const first = new Map<string, number>();
    const kept: PromptEntryInput[] = [];
    for (const [i, e] of entries.entries()) {
      if (!SIGNAL_TYPES.includes(e.signal_type)) {
        throw new PromptLibraryError(
          `prompts[${i}].signal_type: expected one of ${SIGNAL_TYPES.join(", ")}, received ${
            JSON.stringify(e.signal_type)
          }`,
        );
      }
      if (typeof e.market_category !== "string" || e.market_category === "") {
        throw new PromptLibraryError(
          `prompts[${i}].market_category: expected a non-empty string, received ${
            JSON.stringify(e.market_category)
          }`,
        );
      }
      const key = `${e.signal_type}\u0000${e.market_category}`;
      const seen = first.get(key);
      if (seen !== undefined) {
        throw new PromptLibraryError(
          `prompts[${i}]: duplicate entry for ${e.signal_type}/${e.market_category} (first defined at prompts[${seen}])`,
        );
      }
      first.set(key, i);
      const prompts = Object.freeze([...e.prompts]);
      map.set(key, prompts);
      kept.push(Object.freeze({
        signal_type: e.signal_type,
        market_category: e.market_category,
        prompts,
      }));
    }
    this.#map = map;
    this.#entries = Object.freeze(kept);
  }

  /**
   * Build from `config.prompts` (the `[[prompts]]` array). Throws on duplicates.
   *
   * @example
   * ```ts
   * import { PromptLibrary } from "./prompts.ts";
   * const e = { signal_type: "regime_shift" as const, market_category: "x", prompts: ["p"] };
   * PromptLibrary.fromEntries([e, e]); // throws PromptLibraryError
   * ```
   */
  static fromEntries(entries: readonly PromptEntryInput[]): PromptLibrary {
    return new PromptLibrary(entries);
  }

  /** Number of entries. */
  get size(): number {
    return this.#entries.length;
  }

  /** The entries, in file order. */
  get entries(): readonly PromptEntryInput[] {
    return this.#entries;
  }

  /**
   * Prompts for (signal_type, category), or `[]`.
   *
   * @example
   * ```ts
   * import { PromptLibrary } from "./prompts.ts";
   * PromptLibrary.fromEntries([]).get("price_velocity", ""); // []
   * ```
   */
  get(signalType: SignalType, category: string): readonly string[] {
    return this.#map.get(`${signalType}\u0000${category}`) ?? EMPTY;
  }

  /**
   * Which (signal type, category) pairs have prompts, over the given categories (e.g. those of
   * the watchlist; `""` ignored) and every signal type.
   *
   * @example
   * ```ts
   * import { PromptLibrary } from "./prompts.ts";
   * PromptLibrary.fromEntries([]).coverage(["inflation"]).missing.length; // 5
   * ```
   */
  coverage(categories: Iterable<string>): PromptCoverage {
    const cats = [...new Set(categories)].filter((c) => c !== "").sort();
    const covered: MissingPair[] = [];
    const missing: MissingPair[] = [];
    for (const market_category of cats) {
      for (const signal_type of SIGNAL_TYPES) {
        const pair = { signal_type, market_category };
        (this.#map.has(`${signal_type}\u0000${market_category}`) ? covered : missing).push(pair);
      }
    }
    return { covered, missing };
  }
}
