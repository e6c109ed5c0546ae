/**
 * The cross-market divergence singleton (DESIGN §10): reads `augur.ticks.>` in order, feeds the
 * related markets' snapshots to the batch detector, and once every platform has passed T it
 * evaluates the 60 s grid points up to T (a pair contributes at g when both legs have a
 * snapshot in (g − 300 s, g]; BH over all pairs at g). Candidates get manipulation flags and
 * calibration in-process (the same pure functions as the partition stages) and are published
 * on `augur.divergence`, followed by a marker {t: T} that lets dedup close its windows.
 *
 * The activity floor (SHOULD) is not enforced here: tick announcements carry snapshots, not
 * feature vectors, so `volume_ratio_1h` is unknown to this stage.
 *
 * @example
 * ```ts
 * import { divergenceStage } from "./divergence_stage.ts";
 * // const stage = divergenceStage({ subjects, detectors: config.detectors, relationships, … });
 * ```
 * @module
 */
import { HEADER, type OutgoingMessage } from "../../adapters/bus/types.ts";
import { encode, KINDS } from "../../pipeline/canonical_json.ts";
import {
  CrossMarketDivergenceDetector,
  type CrossMarketOptions,
  type CrossMarketState,
  pairsFromRelationships,
  type RelationshipLike,
} from "../../pipeline/detectors/mod.ts";
import { attachManipulationFlags, type ManipulationOptions } from "../../pipeline/manipulation.ts";
import { calibrateSignal, type CurveSet } from "../../pipeline/calibration/curve.ts";
import type { MarketSnapshot } from "../../pipeline/models.ts";
import type { SingletonProcessor, SingletonStage } from "../singleton_stage.ts";
import type { Subjects } from "../subjects.ts";
import { FINAL_TICK, TICK_MESSAGES } from "./poller_stage.ts";
import { decodeDelivery } from "../message_codec.ts";
import { tickMarker } from "./tick_marker.ts";

const MICROS = 1_000_000;

/** Options of {@linkcode divergenceStage}. */
export interface DivergenceStageOptions {
  readonly subjects: Subjects;
  readonly crossMarket: CrossMarketOptions;
  readonly relationships: readonly RelationshipLike[];
  /** Platforms whose ticks a grid point waits for. */
  readonly platforms: readonly string[];
  readonly manipulation: ManipulationOptions;
  readonly curves?: CurveSet;
}

interface State {
  detector: CrossMarketState;
  latest: Record<string, number>;
  advanced: number | null;
  recent: Record<string, MarketSnapshot[]>;
}

/** Whether the relationships yield at least one divergence pair. */
export function hasDivergencePairs(
  relationships: readonly RelationshipLike[],
  crossMarket: CrossMarketOptions,
): boolean {
  return pairsFromRelationships(relationships, crossMarket).pairs.length > 0;
}

/** Build the divergence stage. */
export function divergenceStage(options: DivergenceStageOptions): SingletonStage {
  const { subjects } = options;
  const windowUs = (options.crossMarket.window_seconds ?? 14_400) * MICROS;
  const crossMarket = { ...options.crossMarket, enforce_activity_floor: false };
  return {
    kind: "divergence",
    inputs: [subjects.familyPattern("ticks")],
    outputs: [subjects.divergence()],
    open: (saved): Promise<SingletonProcessor> => {
      const { pairs } = pairsFromRelationships(options.relationships, crossMarket);
      const detector = new CrossMarketDivergenceDetector(pairs, crossMarket);
      const state: State = saved
        ? JSON.parse(new TextDecoder().decode(saved))
        : { detector: detector.state(), latest: {}, advanced: null, recent: {} };
      if (saved) detector.loadState(state.detector);
      return Promise.resolve({
        process: (_input, delivery) => {
          const tick = decodeDelivery(delivery, TICK_MESSAGES);
          for (const snapshot of tick.snapshots) {
            detector.observe(snapshot);
            (state.recent[snapshot.market_id] ??= []).push({ ...snapshot, raw_json: {} });
          }
          state.latest[tick.platform] = Math.max(state.latest[tick.platform] ?? -1, tick.t);
          const times = options.platforms.map((p) => state.latest[p] ?? -1);
          const finite = Object.values(state.latest).filter((t) => t !== FINAL_TICK);
          const allFinal = times.every((t) => t === FINAL_TICK);
          let upTo = Math.min(...times);
          if (upTo < 0) return [];
          if (upTo === FINAL_TICK) upTo = finite.length ? Math.max(...finite) : -1;
          if (upTo < 0 || (state.advanced !== null && upTo <= state.advanced && !allFinal)) {
            return [];
          }
          const out: OutgoingMessage[] = [];
          if (state.advanced === null || upTo > state.advanced) {
            for (const raw of detector.advanceTo(upTo)) {
              // Evidence as of detected_at only: one platform's ticks may run ahead of the
              // other's, and the outcome must not depend on that interleaving.
              const legSnapshots = state.recent[raw.market_id] ?? [];
              const latest = legSnapshots.findLast((s) => s.timestamp <= raw.detected_at);
              const flagged = attachManipulationFlags(raw, {
                trades: [],
                book_events: [],
                snapshots: legSnapshots.filter((s) =>
                  s.timestamp >= raw.detected_at - raw.window_seconds * MICROS &&
                  s.timestamp <= raw.detected_at
                ),
                closes_at: latest?.closes_at ?? null,
              }, options.manipulation);
              const signal = calibrateSignal(flagged, options.curves);
              out.push({
                subject: subjects.divergence(),
                payload: encode(signal, KINDS.signal),
                headers: { [HEADER.id]: `divergence:${signal.signal_id}` },
              });
            }
            state.advanced = upTo;
            // Later grid points are > upTo: their evidence windows start after upTo − window.
            // (Pruning by the newest snapshot instead would make the evidence depend on how far
            // one platform ran ahead.)
            for (const recent of Object.values(state.recent)) {
              let drop = 0;
              while (drop < recent.length && recent[drop].timestamp < upTo - windowUs) drop++;
              if (drop) recent.splice(0, drop);
            }
          }
          out.push(tickMarker(subjects.divergence(), {
            platform: "divergence",
            t: allFinal ? FINAL_TICK : upTo,
          }));
          return out;
        },
        checkpoint: () => {
          state.detector = detector.state();
          return new TextEncoder().encode(JSON.stringify(state));
        },
      });
    },
  };
}
