/**
 * The feature stage (partition-ordered): snapshot messages of a partition in, feature
 * messages (vector + same-tick snapshot, trades, book events) out, tick markers forwarded.
 *
 * Duplicates (replay after restore, redelivery) are absorbed by the per-market data-time
 * high-water mark: a snapshot at or before the market's last timestamp is skipped. With no
 * checkpoint, a market seen for the first time is seeded from the store's latest snapshots
 * before its current one (DESIGN §10: the store seeds state only without a checkpoint).
 *
 * @example
 * ```ts
 * import { featureStage } from "./feature_stage.ts";
 * import { Subjects } from "../subjects.ts";
 * const stage = featureStage({ subjects: new Subjects({ partitions: 4 }) });
 * stage.inputSubject(1); // "augur.snapshots.1.>"
 * ```
 * @module
 */
import { HEADER, type OutgoingMessage } from "../../adapters/bus/types.ts";
import { KINDS } from "../../pipeline/canonical_json.ts";
import { codecMessage, decodeDelivery } from "../message_codec.ts";
import { type FeatureOptions, FeaturePipeline } from "../../pipeline/features.ts";
import type { MarketSnapshot } from "../../pipeline/models.ts";
import { type PartitionStage, PoisonError } from "../partition_runner.ts";
import type { Subjects } from "../subjects.ts";
import { decodeTickMark, isTickMarker, tickMarker } from "./tick_marker.ts";

/** Options of {@linkcode featureStage}. */
export interface FeatureStageOptions {
  readonly subjects: Subjects;
  readonly features?: Partial<FeatureOptions>;
  /** Latest `n` stored snapshots of a market strictly before `before` (µs), ascending. */
  readonly seed?: (marketId: string, before: number, n: number) => Promise<MarketSnapshot[]>;
  /**
   * Every market's latest `n` stored snapshots strictly before `before` (µs), in one call.
   * When given, the first new market triggers it once and every market first seen at that
   * same time is seeded from its answer (a tick's snapshots share their time T), so a start
   * with thousands of markets costs one query instead of one per market. `seed` still serves
   * markets first seen later.
   */
  readonly seedAll?: (before: number, n: number) => Promise<Map<string, MarketSnapshot[]>>;
  /** Called for every input skipped as a duplicate (metrics). */
  readonly onDuplicate?: () => void;
  /**
   * False: checkpoints carry no windows (an empty state) and a partition restored from one
   * re-seeds each market from the store as a fresh partition does. For checkpoints that
   * cannot outlive the process anyway (the engine keeps them in memory): the windows of
   * 10,000 markets serialize to ~100 MB of JSON, and building them briefly costs ~3× that.
   * Default true.
   */
  readonly checkpointWindows?: boolean;
}

interface Checkpointed {
  markets: Record<string, unknown>;
}

/** Build the feature stage. */
export function featureStage(options: FeatureStageOptions): PartitionStage {
  const { subjects } = options;
  return {
    kind: "feature",
    inputSubject: (p) => subjects.partitionPattern("snapshots", p),
    open: (partition, state) => {
      const pipeline = new FeaturePipeline(options.features);
      // An empty state is a checkpoint without windows (see `checkpointWindows`).
      const restored = state !== null && state.length > 0;
      if (restored) {
        const saved = JSON.parse(new TextDecoder().decode(state)) as Checkpointed;
        for (const [market, marketState] of Object.entries(saved.markets)) {
          pipeline.loadState(market, marketState);
        }
      }
      const seeded = new Set<string>();
      const size = options.features?.buffer_size ?? 500;
      let bulk: { at: number; seeds: Map<string, MarketSnapshot[]> } | undefined;
      const seedOf = async (market: string, before: number): Promise<MarketSnapshot[]> => {
        if (options.seedAll && bulk === undefined) {
          bulk = { at: before, seeds: await options.seedAll(before, size) };
        }
        if (bulk !== undefined && bulk.at === before) {
          const seeds = bulk.seeds.get(market) ?? [];
          bulk.seeds.delete(market); // each market is seeded once: free its rows
          return seeds;
        }
        return options.seed ? await options.seed(market, before, size) : [];
      };
      return Promise.resolve({
        process: async (delivery): Promise<OutgoingMessage[]> => {
          if (isTickMarker(delivery.headers)) {
            const mark = decodeTickMark(delivery.payload);
            return [tickMarker(subjects.marker("features", partition), mark)];
          }
          let message;
          try {
            message = decodeDelivery(delivery, KINDS.snapshotMessage);
          } catch (error) {
            throw new PoisonError((error as Error).message, { cause: error });
          }
          const { snapshot } = message;
          const market = snapshot.market_id;
          const last = pipeline.lastTimestamp(market);
          if (last !== null && snapshot.timestamp <= last) {
            options.onDuplicate?.();
            return [];
          }
          if (!restored && last === null && (options.seed || options.seedAll)) {
            if (!seeded.has(market)) {
              seeded.add(market);
              for (const old of await seedOf(market, snapshot.timestamp)) {
                pipeline.update(old, null);
              }
            }
          }
          const features = pipeline.update(snapshot, {
            bid_depth: message.bid_depth,
            ask_depth: message.ask_depth,
          });
          if (!features) return [];
          return [codecMessage(KINDS.featuresMessage, {
            subject: subjects.features(partition, market),
            value: {
              now: message.now,
              features,
              snapshot,
              trades: message.trades,
              book_events: message.book_events,
            },
            headers: {
              [HEADER.id]: `features:${market}:${features.computed_at}`,
              [HEADER.key]: market,
            },
          })];
        },
        checkpoint: () => {
          if (options.checkpointWindows === false) return new Uint8Array(0);
          const markets: Record<string, unknown> = {};
          for (const market of pipeline.markets()) markets[market] = pipeline.state(market);
          return new TextEncoder().encode(JSON.stringify({ markets }));
        },
      });
    },
  };
}
