/**
 * The detector stage (partition-ordered): feature messages of a partition in, candidate
 * signals out on `augur.candidates.<pp>.<detector>`, tick markers forwarded.
 *
 * Each candidate carries the evidence the manipulation signatures read (DESIGN §4): the
 * tick's trades and book events and the market's recent snapshots covering the signal's
 * window (raw_json dropped to keep messages small). State per market — every detector's state,
 * the recent-snapshot window and the data-time high-water mark — is checkpointed.
 *
 * @example
 * ```ts
 * import { detectorStage } from "./detector_stage.ts";
 * import { Subjects } from "../subjects.ts";
 * const stage = detectorStage({ subjects: new Subjects({ partitions: 4 }), detectors: {} });
 * stage.inputSubject(0); // "augur.features.00.>"
 * ```
 * @module
 */
import { HEADER, type OutgoingMessage } from "../../adapters/bus/types.ts";
import { KINDS } from "../../pipeline/canonical_json.ts";
import { codecMessage, decodeDelivery } from "../message_codec.ts";
import {
  createDetectors,
  type DetectorsConfig,
  runPerMarketDetectors,
} from "../../pipeline/detectors/mod.ts";
import type { MarketSnapshot } from "../../pipeline/models.ts";
import { type PartitionStage, PoisonError } from "../partition_runner.ts";
import type { Subjects } from "../subjects.ts";
import { decodeTickMark, isTickMarker, tickMarker } from "./tick_marker.ts";

/** Longest per-market detector window (volume spike / regime shift, 3 600 s) in µs. */
const EVIDENCE_WINDOW_US = 3_600 * 1_000_000;

/** Options of {@linkcode detectorStage}. */
export interface DetectorStageOptions {
  readonly subjects: Subjects;
  /** detectors.toml, as loaded. */
  readonly detectors: DetectorsConfig;
  /** Called for every input skipped as a duplicate. */
  readonly onDuplicate?: () => void;
}

interface MarketMemory {
  last: number;
  recent: MarketSnapshot[];
}

interface Checkpointed {
  markets: Record<string, { last: number; recent: MarketSnapshot[] }>;
  detectors: Record<string, Record<string, unknown>>;
}

/** Build the detector stage. */
export function detectorStage(options: DetectorStageOptions): PartitionStage {
  const { subjects } = options;
  return {
    kind: "detector",
    inputSubject: (p) => subjects.partitionPattern("features", p),
    open: (partition, state) => {
      const { perMarket } = createDetectors(options.detectors);
      const memory = new Map<string, MarketMemory>();
      if (state) {
        const saved = JSON.parse(new TextDecoder().decode(state)) as Checkpointed;
        for (const [market, m] of Object.entries(saved.markets)) memory.set(market, m);
        for (const detector of perMarket) {
          for (const [market, s] of Object.entries(saved.detectors[detector.detector_id] ?? {})) {
            detector.loadState(market, s);
          }
        }
      }
      return Promise.resolve({
        process: (delivery): OutgoingMessage[] => {
          if (isTickMarker(delivery.headers)) {
            const mark = decodeTickMark(delivery.payload);
            return [tickMarker(subjects.marker("candidates", partition), mark)];
          }
          let message;
          try {
            message = decodeDelivery(delivery, KINDS.featuresMessage);
          } catch (error) {
            throw new PoisonError((error as Error).message, { cause: error });
          }
          const market = message.features.market_id;
          let m = memory.get(market);
          if (!m) memory.set(market, m = { last: -Infinity, recent: [] });
          if (message.now <= m.last) {
            options.onDuplicate?.();
            return [];
          }
          m.last = message.now;
          m.recent.push({ ...message.snapshot, raw_json: {} });
          const horizon = message.now - EVIDENCE_WINDOW_US;
          let drop = 0;
          while (drop < m.recent.length && m.recent[drop].timestamp < horizon) drop++;
          if (drop) m.recent.splice(0, drop);
          const signals = runPerMarketDetectors(perMarket, {
            market_id: market,
            feature: message.features,
            snapshot: message.snapshot,
            now: message.now,
          });
          return signals.map((signal) => {
            const since = signal.detected_at - signal.window_seconds * 1_000_000;
            const detectorId = String(signal.raw_features.calibration_provenance).split("@")[0];
            return codecMessage(KINDS.candidateMessage, {
              subject: subjects.candidates(partition, detectorId),
              value: {
                signal,
                closes_at: message.snapshot.closes_at,
                evidence: {
                  trades: message.trades,
                  book_events: message.book_events,
                  snapshots: m.recent.filter((s) => s.timestamp >= since),
                },
              },
              headers: { [HEADER.id]: `candidate:${signal.signal_id}`, [HEADER.key]: market },
            });
          });
        },
        checkpoint: () => {
          const saved: Checkpointed = { markets: {}, detectors: {} };
          for (const [market, m] of memory) saved.markets[market] = m;
          for (const detector of perMarket) {
            const states: Record<string, unknown> = {};
            for (const market of memory.keys()) {
              const s = detector.state(market);
              if (s !== null) states[market] = s;
            }
            saved.detectors[detector.detector_id] = states;
          }
          return new TextEncoder().encode(JSON.stringify(saved));
        },
      });
    },
  };
}
