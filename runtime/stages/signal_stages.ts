/**
 * The two stateless partition-ordered stages between detection and dedup:
 * - manipulation: `augur.candidates.<pp>.>` → flags attached (never suppresses) →
 *   `augur.flagged_signals.<pp>` (candidate + evidence);
 * - calibration: `augur.flagged_signals.<pp>` → confidence + provenance →
 *   `augur.calibrated_signals.<pp>` (the signal alone; dedup needs nothing else).
 * Both forward tick markers after the outputs of their tick.
 *
 * @example
 * ```ts
 * import { calibrationStage, manipulationStage } from "./signal_stages.ts";
 * import { Subjects } from "../subjects.ts";
 * const subjects = new Subjects({ partitions: 4 });
 * manipulationStage({ subjects, options: {} }).inputSubject(2); // "augur.candidates.02.>"
 * calibrationStage({ subjects }).inputSubject(2); // "augur.flagged_signals.02"
 * ```
 * @module
 */
import { type Delivery, HEADER, type OutgoingMessage } from "../../adapters/bus/types.ts";
import { decode, encode, KINDS } from "../../pipeline/canonical_json.ts";
import { attachManipulationFlags, type ManipulationOptions } from "../../pipeline/manipulation.ts";
import { calibrateSignal, type CurveSet } from "../../pipeline/calibration/curve.ts";
import type { CandidateMessage } from "../../pipeline/models.ts";
import { type PartitionProcessor, type PartitionStage, PoisonError } from "../partition_runner.ts";
import type { Subjects } from "../subjects.ts";
import { decodeTickMark, isTickMarker, tickMarker } from "./tick_marker.ts";

const EMPTY = new Uint8Array();

function decodeCandidate(delivery: Delivery): CandidateMessage {
  try {
    return decode(delivery.payload, KINDS.candidateMessage);
  } catch (error) {
    throw new PoisonError((error as Error).message, { cause: error });
  }
}

/** A stateless processor: markers forwarded to `markerSubject`, candidates mapped. */
function stateless(
  markerSubject: string,
  map: (candidate: CandidateMessage) => OutgoingMessage,
): PartitionProcessor {
  return {
    process: (delivery) => {
      if (isTickMarker(delivery.headers)) {
        return [tickMarker(markerSubject, decodeTickMark(delivery.payload))];
      }
      return [map(decodeCandidate(delivery))];
    },
    checkpoint: () => EMPTY,
  };
}

/** The manipulation stage. */
export function manipulationStage(
  options: { subjects: Subjects; options: ManipulationOptions },
): PartitionStage {
  const { subjects } = options;
  return {
    kind: "manipulation",
    inputSubject: (p) => subjects.partitionPattern("candidates", p),
    open: (partition) =>
      Promise.resolve(stateless(subjects.marker("flagged_signals", partition), (candidate) => {
        const signal = attachManipulationFlags(candidate.signal, {
          ...candidate.evidence,
          closes_at: candidate.closes_at,
        }, options.options);
        return {
          subject: subjects.flagged(partition),
          payload: encode({ ...candidate, signal }, KINDS.candidateMessage),
          headers: { [HEADER.id]: `flagged:${signal.signal_id}`, [HEADER.key]: signal.market_id },
        };
      })),
  };
}

/** The calibration stage. */
export function calibrationStage(
  options: { subjects: Subjects; curves?: CurveSet },
): PartitionStage {
  const { subjects } = options;
  return {
    kind: "calibration",
    inputSubject: (p) => subjects.partitionPattern("flagged_signals", p),
    open: (partition) =>
      Promise.resolve(stateless(subjects.marker("calibrated_signals", partition), (candidate) => {
        const signal = calibrateSignal(candidate.signal, options.curves);
        return {
          subject: subjects.calibrated(partition),
          payload: encode(signal, KINDS.signal),
          headers: {
            [HEADER.id]: `calibrated:${signal.signal_id}`,
            [HEADER.key]: signal.market_id,
          },
        };
      })),
  };
}
