/**
 * The dedup singleton (DESIGN §10). Reads every calibrated partition and the divergence
 * subject in order, groups signals into data-time windows W (30 s, aligned to fingerprint
 * buckets) and closes a window once every (partition, platform) and divergence have passed a
 * tick marker with T ≥ end of W. A closed window's signals, sorted by (detected_at,
 * market_id, signal_type, signal_id), go through the same pure `dedupWindow` the engine
 * calls; the storm controller sees per-window data (raw count, post-merge count, window end),
 * never wall-clock lag. Survivors are published on `augur.signals`; storm start/end on
 * `augur.ops.events`.
 *
 * Divergence output is fenced in-stream: dedup reads that stream in order, so it drops a
 * message whose token is lower than a fence it has already passed.
 *
 * @example
 * ```ts
 * import { dedupStage } from "./dedup_stage.ts";
 * // const stage = dedupStage({ subjects, taxonomy, platforms: ["kalshi"], divergence: true, … });
 * ```
 * @module
 */
import { type Delivery, HEADER, type OutgoingMessage } from "../../adapters/bus/types.ts";
import { decode, encode, KINDS } from "../../pipeline/canonical_json.ts";
import { dedupWindow, publishable } from "../../pipeline/dedup.ts";
import { StormController } from "../../pipeline/storm.ts";
import type { Taxonomy } from "../../pipeline/taxonomy.ts";
import type { MarketSignal } from "../../pipeline/models.ts";
import { PoisonError } from "../partition_runner.ts";
import type { SingletonProcessor, SingletonStage } from "../singleton_stage.ts";
import type { Subjects } from "../subjects.ts";
import { decodeTickMark, isTickMarker } from "./tick_marker.ts";

const MICROS = 1_000_000;

/** dedup.toml as loaded (the parts dedup reads). */
export interface DedupSection {
  readonly fingerprint_bucket_seconds: number;
  readonly cluster_window_seconds: number;
  readonly cluster_relationship_types: readonly string[];
  readonly bus: { readonly queue_capacity: number };
  // deno-lint-ignore no-explicit-any
  readonly storm: any;
}

/** Options of {@linkcode dedupStage}. */
export interface DedupStageOptions {
  readonly subjects: Subjects;
  readonly taxonomy: Taxonomy;
  readonly dedup: DedupSection;
  /** Window length in seconds (engine.toml `dedup_window_seconds`, 30). */
  readonly windowSeconds: number;
  /** Platforms whose tick markers a window waits for. */
  readonly platforms: readonly string[];
  /** Whether a divergence singleton runs (wait for its markers). */
  readonly divergence: boolean;
  /** Called with each published signal (the engine prints them). */
  readonly onSignal?: (signal: MarketSignal) => void;
  /** Called for each divergence message dropped by a fence. */
  readonly onFenced?: () => void;
}

interface State {
  windows: Record<string, MarketSignal[]>;
  marks: Record<string, number>;
  divergenceMark: number;
  divergenceFence: number;
  storm: unknown;
}

/** Build the dedup stage. */
export function dedupStage(options: DedupStageOptions): SingletonStage {
  const { subjects } = options;
  const partitions = subjects.partitions;
  const inputs = [
    ...Array.from(
      { length: partitions },
      (_, p) => subjects.partitionPattern("calibrated_signals", p),
    ),
    subjects.divergence(),
  ];
  const windowUs = options.windowSeconds * MICROS;
  return {
    kind: "dedup",
    inputs,
    outputs: [subjects.signals()],
    open: (saved): Promise<SingletonProcessor> => {
      const state: State = saved ? JSON.parse(new TextDecoder().decode(saved)) : {
        windows: {},
        marks: {},
        divergenceMark: -Infinity,
        divergenceFence: 0,
        storm: null,
      };
      if (state.divergenceMark === null) state.divergenceMark = -Infinity;
      const storm = state.storm
        ? StormController.fromState(state.storm, options.dedup.storm, {
          capacity: options.dedup.bus.queue_capacity,
        })
        : new StormController(options.dedup.storm, { capacity: options.dedup.bus.queue_capacity });

      const closedUpTo = (): number => {
        let low = Infinity;
        for (let p = 0; p < partitions; p++) {
          for (const platform of options.platforms) {
            low = Math.min(low, state.marks[`${p}:${platform}`] ?? -Infinity);
          }
        }
        if (options.divergence) low = Math.min(low, state.divergenceMark);
        return low;
      };

      const closeWindows = (): OutgoingMessage[] => {
        const upTo = closedUpTo();
        const ready = Object.keys(state.windows).map(Number).filter((ws) => ws + windowUs <= upTo)
          .sort((a, b) => a - b);
        const out: OutgoingMessage[] = [];
        for (const ws of ready) {
          const raw = state.windows[ws];
          delete state.windows[ws];
          const merged = dedupWindow(raw, {
            taxonomy: options.taxonomy,
            config: {
              fingerprint_bucket_seconds: options.dedup.fingerprint_bucket_seconds,
              cluster_window_seconds: options.dedup.cluster_window_seconds,
              cluster_relationship_types: options.dedup.cluster_relationship_types as never,
            },
          });
          const event = storm.updateWindow({
            raw_count: raw.length,
            post_merge_count: merged.length,
            window_end: ws + windowUs,
          });
          if (event) {
            out.push({
              subject: subjects.opsEvents(),
              payload: new TextEncoder().encode(JSON.stringify(event)),
              headers: { [HEADER.id]: `storm:${event.type}:${ws + windowUs}` },
            });
          }
          for (const signal of publishable(merged, { inStorm: storm.inStorm })) {
            options.onSignal?.(signal);
            out.push({
              subject: subjects.signals(),
              payload: encode(signal, KINDS.signal),
              headers: {
                [HEADER.id]: `signal:${signal.signal_id}`,
                [HEADER.key]: signal.market_id,
              },
            });
          }
        }
        return out;
      };

      const decodeSignal = (delivery: Delivery): MarketSignal => {
        try {
          return decode(delivery.payload, KINDS.signal);
        } catch (error) {
          throw new PoisonError((error as Error).message, { cause: error });
        }
      };

      return Promise.resolve({
        process: (input, delivery) => {
          const fromDivergence = input === partitions;
          const fence = delivery.headers[HEADER.fence];
          if (fromDivergence && fence !== undefined && delivery.payload.length === 0) {
            state.divergenceFence = Math.max(state.divergenceFence, Number(fence));
            return [];
          }
          if (isTickMarker(delivery.headers)) {
            const mark = decodeTickMark(delivery.payload);
            if (fromDivergence) state.divergenceMark = Math.max(state.divergenceMark, mark.t);
            else {
              const key = `${input}:${mark.platform}`;
              state.marks[key] = Math.max(state.marks[key] ?? -Infinity, mark.t);
            }
            return closeWindows();
          }
          if (fromDivergence && fence !== undefined && Number(fence) < state.divergenceFence) {
            options.onFenced?.();
            return [];
          }
          const signal = decodeSignal(delivery);
          const ws = Math.floor(signal.detected_at / windowUs) * windowUs;
          (state.windows[ws] ??= []).push(signal);
          return [];
        },
        checkpoint: () => {
          state.storm = storm.state();
          return new TextEncoder().encode(
            JSON.stringify(state, (_k, v) => v === -Infinity ? null : v),
          );
        },
      });
    },
  };
}
