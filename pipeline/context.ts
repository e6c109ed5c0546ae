/**
 * Context assembly (DOMAIN §9): MarketSignal → SignalContext, a pure function of the signal,
 * pre-fetched snapshots, the taxonomy, the prompt library and market → category.
 *
 * The core {@linkcode assembleContext} is synchronous and takes {@linkcode ContextInputs}
 * (the market's latest snapshot and each neighbour's latest + prior snapshot). The async
 * helper {@linkcode gatherContextInputs} fetches exactly those through a caller-supplied
 * {@linkcode SnapshotLookup} (sync or async methods). No clock, no randomness, no I/O here.
 *
 * **[DEVIATION]** a missing snapshot or a null `closes_at` fails only that signal with a
 * typed {@linkcode MissingMetadataError} (the caller logs and skips it).
 *
 * @example
 * ```ts
 * import { assembleContext, gatherContextInputs } from "./context.ts";
 * import type { ContextDeps, SnapshotLookup } from "./context.ts";
 * import type { MarketSignal } from "./models.ts";
 * declare const signal: MarketSignal;
 * declare const lookup: SnapshotLookup;
 * declare const deps: ContextDeps;
 * const inputs = await gatherContextInputs(signal, { lookup, taxonomy: deps.taxonomy });
 * const context = assembleContext(signal, inputs, deps);
 * ```
 * @module
 */
import { AugurError } from "../config/errors.ts";
import {
  type MarketSignal,
  type MarketSnapshot,
  type RelatedMarketState,
  SCHEMA_VERSION,
  type SignalContext,
} from "./models.ts";
import type { PromptLibrary } from "./prompts.ts";
import type { Taxonomy } from "./taxonomy.ts";

/** 24 h in epoch µs. */
export const DAY_MICROS = 86_400 * 1_000_000;

/** Why metadata is missing. */
export type MissingMetadataReason = "no_snapshot" | "null_closes_at";

/** The market of a signal has no snapshot, or its latest snapshot has no `closes_at`. */
export class MissingMetadataError extends AugurError {
  /** The signal that cannot get a context. */
  readonly signal_id: string;
  /** Its market. */
  readonly market_id: string;
  /** What is missing. */
  readonly reason: MissingMetadataReason;
  constructor(signal: MarketSignal, reason: MissingMetadataReason) {
    super(
      reason === "no_snapshot"
        ? `missing metadata for signal ${signal.signal_id}: expected a stored snapshot of market ${signal.market_id}, received none`
        : `missing metadata for signal ${signal.signal_id}: expected closes_at on the latest snapshot of market ${signal.market_id}, received null`,
    );
    this.name = "MissingMetadataError";
    this.signal_id = signal.signal_id;
    this.market_id = signal.market_id;
    this.reason = reason;
  }
}

/** A neighbour's latest snapshot L and its prior (oldest in [L.ts − 24 h, L.ts], else L). */
export interface RelatedSnapshots {
  latest: MarketSnapshot;
  prior: MarketSnapshot;
}

/** Pre-fetched data for one signal. */
export interface ContextInputs {
  /** Latest snapshot of `signal.market_id` (as of detected_at), or null. */
  snapshot: MarketSnapshot | null;
  /** Neighbour market id → its snapshots; neighbours without data are absent. */
  related: ReadonlyMap<string, RelatedSnapshots>;
}

/** Static dependencies shared by every signal. */
export interface ContextDeps {
  /** Relationship index. */
  taxonomy: Taxonomy;
  /** Investigation prompts. */
  prompts: PromptLibrary;
  /** Watchlist market id → category (unknown ⇒ `""`). */
  categories: ReadonlyMap<string, string> | Readonly<Record<string, string>>;
}

type MaybePromise<T> = T | Promise<T>;

/** Snapshot reads the context stage needs (adapt a Store or an in-memory cache to it). */
export interface SnapshotLookup {
  /** Latest snapshot of a market with timestamp ≤ `asOf` (epoch µs), or null. */
  latestSnapshot(marketId: string, asOf: number): MaybePromise<MarketSnapshot | null>;
  /** Oldest snapshot of a market with `start ≤ timestamp ≤ end` (epoch µs), or null. */
  oldestSnapshotIn(
    marketId: string,
    start: number,
    end: number,
  ): MaybePromise<MarketSnapshot | null>;
}

function categoryOf(deps: ContextDeps, marketId: string): string {
  const c = deps.categories;
  if (c instanceof Map) return c.get(marketId) ?? "";
  const rec = c as Readonly<Record<string, string>>;
  return Object.hasOwn(rec, marketId) ? rec[marketId] : "";
}

/**
 * Build the SignalContext of one signal. Throws {@linkcode MissingMetadataError} when the
 * market has no snapshot or its `closes_at` is null.
 *
 * @example
 * ```ts
 * import { assembleContext } from "./context.ts";
 * import { PromptLibrary } from "./prompts.ts";
 * import { Taxonomy } from "./taxonomy.ts";
 * import type { MarketSignal, MarketSnapshot } from "./models.ts";
 * declare const signal: MarketSignal;
 * declare const snapshot: MarketSnapshot;
 * const ctx = assembleContext(signal, { snapshot, related: new Map() }, {
 *   taxonomy: Taxonomy.fromRelationships([]), prompts: PromptLibrary.fromEntries([]),
 *   categories: {},
 * });
 * ctx.interpretation_mode; // "deterministic"
 * ```
 */
export function assembleContext(
  signal: MarketSignal,
  inputs: ContextInputs,
  deps: ContextDeps,
): SignalContext {
  const snapshot = inputs.snapshot;
  if (snapshot === null) throw new MissingMetadataError(signal, "no_snapshot");
  if (snapshot.closes_at === null) throw new MissingMetadataError(signal, "null_closes_at");
  const related: RelatedMarketState[] = [];
  for (const edge of deps.taxonomy.edgesOf(signal.market_id)) {
    const data = inputs.related.get(edge.market_b);
    if (data === undefined) continue;
    const { latest, prior } = data;
    related.push({
      market_id: edge.market_b,
      question: latest.question,
      current_price: latest.last_price,
      delta_24h: latest.last_price - prior.last_price,
      volume_24h: latest.volume_24h,
      relationship_type: edge.relationship_type,
      relationship_strength: edge.strength,
    });
  }
  return {
    signal,
    market_question: snapshot.question,
    resolution_criteria: snapshot.resolution_criteria ?? "",
    resolution_source: snapshot.resolution_source ?? "",
    closes_at: snapshot.closes_at,
    related_markets: related,
    investigation_prompts: [
      ...deps.prompts.get(signal.signal_type, categoryOf(deps, signal.market_id)),
    ],
    interpretation_mode: "deterministic",
    schema_version: SCHEMA_VERSION,
  };
}

/**
 * Choose the prior snapshot: the oldest of `snapshots` with timestamp in
 * [latest.ts − 24 h, latest.ts], else `latest`.
 *
 * @example
 * ```ts
 * import { priorSnapshot } from "./context.ts";
 * import type { MarketSnapshot } from "./models.ts";
 * declare const history: MarketSnapshot[];
 * priorSnapshot(history[history.length - 1], history);
 * ```
 */
export function priorSnapshot(
  latest: MarketSnapshot,
  snapshots: readonly MarketSnapshot[],
): MarketSnapshot {
  const start = latest.timestamp - DAY_MICROS;
  let best = latest;
  for (const s of snapshots) {
    if (s.timestamp >= start && s.timestamp <= latest.timestamp && s.timestamp < best.timestamp) {
      best = s;
    }
  }
  return best;
}

/** Options of {@linkcode gatherContextInputs}. */
export interface GatherOptions {
  /** Where snapshots come from. */
  lookup: SnapshotLookup;
  /** Relationship index (neighbours = every edge of the market). */
  taxonomy: Taxonomy;
  /** "As of" time for the latest snapshots (default `signal.detected_at`). */
  asOf?: number;
}

/**
 * Fetch the {@linkcode ContextInputs} of one signal through `lookup`: the market's latest
 * snapshot as of `detected_at`, then for each distinct neighbour its latest (as of the same
 * time) and its prior (oldest in [L.ts − 24 h, L.ts]).
 *
 * @example
 * ```ts
 * import { gatherContextInputs, memorySnapshotLookup } from "./context.ts";
 * import { Taxonomy } from "./taxonomy.ts";
 * import type { MarketSignal } from "./models.ts";
 * declare const signal: MarketSignal;
 * await gatherContextInputs(signal, {
 *   lookup: memorySnapshotLookup([]), taxonomy: Taxonomy.fromRelationships([]),
 * }); // { snapshot: null, related: Map(0) }
 * ```
 */
export async function gatherContextInputs(
  signal: MarketSignal,
  options: GatherOptions,
): Promise<ContextInputs> {
  const asOf = options.asOf ?? signal.detected_at;
  const { lookup } = options;
  const neighbours = [
    ...new Set(options.taxonomy.edgesOf(signal.market_id).map((edge) => edge.market_b)),
  ];
  // Independent reads are issued together (a Store answers them concurrently); the result
  // keeps the edge order, so it does not depend on which read finishes first.
  const [snapshot, ...latests] = await Promise.all([
    lookup.latestSnapshot(signal.market_id, asOf),
    ...neighbours.map((id) => lookup.latestSnapshot(id, asOf)),
  ]);
  const priors = await Promise.all(
    latests.map((latest, i) =>
      latest === null
        ? null
        : lookup.oldestSnapshotIn(neighbours[i], latest.timestamp - DAY_MICROS, latest.timestamp)
    ),
  );
  const related = new Map<string, RelatedSnapshots>();
  latests.forEach((latest, i) => {
    if (latest !== null) related.set(neighbours[i], { latest, prior: priors[i] ?? latest });
  });
  return { snapshot, related };
}

/**
 * A synchronous {@linkcode SnapshotLookup} over an in-memory list (tests, benchmarks, replay
 * caches). Snapshots may be in any order.
 *
 * @example
 * ```ts
 * import { memorySnapshotLookup } from "./context.ts";
 * memorySnapshotLookup([]).latestSnapshot("m", 0); // null
 * ```
 */
export function memorySnapshotLookup(snapshots: readonly MarketSnapshot[]): SnapshotLookup {
  const byMarket = new Map<string, MarketSnapshot[]>();
  for (const s of snapshots) {
    const list = byMarket.get(s.market_id);
    if (list === undefined) byMarket.set(s.market_id, [s]);
    else list.push(s);
  }
  for (const list of byMarket.values()) list.sort((a, b) => a.timestamp - b.timestamp);
  // Largest index with timestamp ≤ t, or -1.
  const upper = (list: MarketSnapshot[], t: number): number => countAtMost(list, t) - 1;
  return {
    latestSnapshot(marketId, asOf) {
      const list = byMarket.get(marketId);
      if (list === undefined) return null;
      const i = upper(list, asOf);
      return i < 0 ? null : list[i];
    },
    oldestSnapshotIn(marketId, start, end) {
      const list = byMarket.get(marketId);
      if (list === undefined) return null;
      const i = upper(list, start - 1) + 1;
      return i < list.length && list[i].timestamp <= end ? list[i] : null;
    },
  };
}

/**
 * How many snapshots of a list ascending by timestamp have timestamp ≤ `t` (binary search).
 *
 * @example
 * ```ts
 * import { countAtMost } from "./context.ts";
 * import type { MarketSnapshot } from "./models.ts";
 * declare const history: MarketSnapshot[];
 * const latestIndex = countAtMost(history, 1_767_225_600_000_000) - 1; // -1: none
 * ```
 */
export function countAtMost(list: readonly MarketSnapshot[], t: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid].timestamp <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
