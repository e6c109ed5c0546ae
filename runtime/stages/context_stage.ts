/**
 * The context stage (competing consumers on `augur.signals`): reads the store as of each
 * signal's `detected_at` (the reads of all signals in flight batched into few queries, see
 * {@linkcode contextSnapshotLookup}) and assembles its SignalContext (DOMAIN §9) with the
 * same pure function the engine uses, then publishes it on `augur.contexts`.
 *
 * Before assembling it waits (bounded, with backoff) until the store holds every tick of the
 * platforms involved up to `detected_at`: a tick at or after `detected_at` is recorded for
 * each platform and every recorded tick up to it has all its announced snapshots stored
 * (DESIGN §10). Signals from a fenced-off former dedup active are dropped and counted.
 *
 * @example
 * ```ts
 * import { contextStage } from "./context_stage.ts";
 * // await runBridge(bus, contextStage({ store, taxonomy, prompts, watchlist, … }), { … });
 * ```
 * @module
 */
import { HEADER, type OutgoingMessage } from "../../adapters/bus/types.ts";
import type { Store } from "../../adapters/storage/types.ts";
import { defaultRegistry, type MetricsRegistry } from "../../adapters/observability/metrics.ts";
import type { Logger } from "../../adapters/observability/logger.ts";
import { decode, encode, KINDS } from "../../pipeline/canonical_json.ts";
import {
  assembleContext,
  DAY_MICROS,
  gatherContextInputs,
  MissingMetadataError,
  type SnapshotLookup,
} from "../../pipeline/context.ts";
import type { MarketSignal, Platform, SignalContext } from "../../pipeline/models.ts";
import type { PromptLibrary } from "../../pipeline/prompts.ts";
import type { Taxonomy } from "../../pipeline/taxonomy.ts";
import { batchedSnapshotLookup } from "../batched_snapshot_lookup.ts";
import type { BridgeStage } from "../bridge.ts";
import type { FenceGate } from "../fencing.ts";
import type { Subjects } from "../subjects.ts";
import type { Watchlist } from "../watchlist.ts";

/**
 * A SnapshotLookup reading the Store with one indexed query per read (the reference the
 * stage's {@linkcode batchedSnapshotLookup} must agree with).
 *
 * @example
 * ```ts
 * import { storeSnapshotLookup } from "./context_stage.ts";
 * import { MemoryStore } from "../../adapters/storage/memory_store.ts";
 * const store = new MemoryStore();
 * await store.initialize();
 * await storeSnapshotLookup(store).latestSnapshot("m1", 0); // null
 * ```
 */
export function storeSnapshotLookup(store: Store): SnapshotLookup {
  return {
    latestSnapshot: async (marketId, asOf) =>
      (await store.latestSnapshots(marketId, 1, { asOf }))[0] ?? null,
    oldestSnapshotIn: (marketId, start, end) =>
      store.oldestSnapshotIn(marketId, { start, end: end + 1 }),
  };
}

/**
 * The stage's SnapshotLookup: {@linkcode batchedSnapshotLookup} over the Store with the
 * neighbours' 24 h priors prefetched (one query per batch of signals in flight per step).
 *
 * @example
 * ```ts
 * import { contextSnapshotLookup } from "./context_stage.ts";
 * import { MemoryStore } from "../../adapters/storage/memory_store.ts";
 * const store = new MemoryStore();
 * await store.initialize();
 * await contextSnapshotLookup(store).latestSnapshot("m1", 0); // null
 * ```
 */
export function contextSnapshotLookup(store: Store): SnapshotLookup {
  return batchedSnapshotLookup(store, { priorWindow: DAY_MICROS });
}

/** Options of {@linkcode contextStage}. */
export interface ContextStageOptions {
  readonly subjects: Subjects;
  readonly store: Store;
  readonly taxonomy: Taxonomy;
  readonly prompts: PromptLibrary;
  readonly watchlist: Watchlist;
  /** Longest wait for the involved ticks to be stored before assembling anyway. */
  readonly waitTimeoutMs: number;
  readonly fences?: FenceGate;
  readonly registry?: MetricsRegistry;
  readonly logger?: Logger;
  /** Called with each assembled context (the engine prints and counts them). */
  readonly onContext?: (context: SignalContext) => void;
  /** Injectable sleep (tests). */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Build the context bridge stage. */
export function contextStage(options: ContextStageOptions): BridgeStage<MarketSignal | null> {
  const { store, subjects } = options;
  const registry = options.registry ?? defaultRegistry;
  const skipped = registry.counter(
    "augur_context_skipped_total",
    "Signals without a context: missing metadata (no snapshot, null closes_at) or fenced.",
    ["reason"],
  );
  const timeouts = registry.counter(
    "augur_context_wait_timeouts_total",
    "Contexts assembled after the tick wait timed out (store lagging behind).",
  );
  const platformOf = new Map(options.watchlist.markets.map((m) => [m.id, m.platform]));
  // The reads of every signal in flight go to the Store together, one query per batch.
  const lookup = contextSnapshotLookup(store);
  const categories = new Map(options.watchlist.markets.map((m) => [m.id, m.category]));
  const sleep = options.sleep ??
    ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));

  // Per platform: every tick ≤ verified[p] is fully stored and a later-or-equal tick exists.
  // Only the range after the watermark is queried, once per platform at a time.
  const verified = new Map<Platform, number>();
  const inFlight = new Map<Platform, Promise<number>>();
  const refresh = (platform: Platform, target: number): Promise<number> => {
    let running = inFlight.get(platform);
    if (!running) {
      running = (async () => {
        const from = verified.get(platform) ?? target - DAY_MICROS;
        const ticks = await store.ticksInRange(platform, {
          start: from,
          end: Number.MAX_SAFE_INTEGER,
        });
        let through = verified.get(platform) ?? -Infinity;
        for (const tick of ticks) {
          if (tick.stored < tick.announced) break;
          through = Math.max(through, tick.t);
        }
        if (through > (verified.get(platform) ?? -Infinity)) verified.set(platform, through);
        return verified.get(platform) ?? -Infinity;
      })().finally(() => inFlight.delete(platform));
      inFlight.set(platform, running);
    }
    return running;
  };
  const ticksStored = async (signal: MarketSignal): Promise<boolean> => {
    const platforms = new Set<Platform>([signal.platform]);
    for (const edge of options.taxonomy.edgesOf(signal.market_id)) {
      const platform = platformOf.get(edge.market_b);
      if (platform) platforms.add(platform);
    }
    for (const platform of platforms) {
      if ((verified.get(platform) ?? -Infinity) >= signal.detected_at) continue;
      if ((await refresh(platform, signal.detected_at)) < signal.detected_at) return false;
    }
    return true;
  };

  return {
    decode: (delivery) => {
      if (delivery.headers[HEADER.fence] !== undefined && delivery.payload.length === 0) {
        return null; // a fence marker: nothing to assemble
      }
      return decode(delivery.payload, KINDS.signal);
    },
    transform: async (signal, delivery): Promise<OutgoingMessage[]> => {
      if (signal === null) return [];
      if (options.fences && (await options.fences.check(delivery)) === "reject") {
        skipped.inc({ reason: "fenced" });
        return [];
      }
      const deadline = Date.now() + options.waitTimeoutMs;
      for (let delay = 10; !(await ticksStored(signal)); delay = Math.min(delay * 2, 200)) {
        if (Date.now() > deadline) {
          timeouts.inc();
          options.logger?.warn("context assembled before its ticks were fully stored", {
            signal_id: signal.signal_id,
          });
          break;
        }
        await sleep(delay);
      }
      let context: SignalContext;
      try {
        const inputs = await gatherContextInputs(signal, { lookup, taxonomy: options.taxonomy });
        context = assembleContext(signal, inputs, {
          taxonomy: options.taxonomy,
          prompts: options.prompts,
          categories,
        });
      } catch (error) {
        if (!(error instanceof MissingMetadataError)) throw error;
        skipped.inc({ reason: error.reason });
        options.logger?.warn("signal has no context (missing metadata)", {
          signal_id: signal.signal_id,
          market_id: signal.market_id,
          reason: error.reason,
        });
        return [];
      }
      options.onContext?.(context);
      return [{
        subject: subjects.contexts(),
        payload: encode(context, KINDS.context),
        headers: {
          [HEADER.id]: `context:${signal.signal_id}`,
          [HEADER.key]: signal.market_id,
        },
      }];
    },
  };
}
