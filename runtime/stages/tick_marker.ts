/**
 * Tick markers (DESIGN §10). After a tick's publishes are acknowledged the poller appends a
 * marker {platform, t} to every partition; each partition-ordered stage forwards it after the
 * outputs of that tick, so dedup knows when a data-time window is complete. A marker is
 * recognised by its `Augur-Tick` header (its subject is `Subjects.marker(family, p)`).
 *
 * @example
 * ```ts
 * import { isTickMarker, tickMarker } from "./tick_marker.ts";
 * const m = tickMarker("augur.features.07.~tick", { platform: "kalshi", t: 1_700_000_000_000_000 });
 * isTickMarker(m.headers!); // true
 * ```
 * @module
 */
import { HEADER, type Headers, type OutgoingMessage } from "../../adapters/bus/types.ts";
import { PoisonError } from "../partition_runner.ts";

/** Header that marks a tick marker. */
export const TICK_HEADER = "Augur-Tick";

/** The marker payload: the tick time `t` (epoch µs) of `platform`. */
export interface TickMark {
  readonly platform: string;
  readonly t: number;
}

/** Whether a message is a tick marker. */
export function isTickMarker(headers: Headers): boolean {
  return headers[TICK_HEADER] !== undefined;
}

/** A marker message on `subject`. Its id makes republished markers deduplicable. */
export function tickMarker(subject: string, mark: TickMark): OutgoingMessage {
  return {
    subject,
    payload: new TextEncoder().encode(JSON.stringify({ platform: mark.platform, t: mark.t })),
    headers: { [TICK_HEADER]: "1", [HEADER.id]: `tick:${subject}:${mark.platform}:${mark.t}` },
  };
}

/** Decode a marker payload; a malformed one is poison. */
export function decodeTickMark(payload: Uint8Array): TickMark {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(payload));
  } catch (error) {
    throw new PoisonError("tick marker: expected JSON {platform, t}", { cause: error });
  }
  const mark = value as TickMark;
  if (typeof mark?.platform !== "string" || !Number.isSafeInteger(mark?.t)) {
    throw new PoisonError(
      `tick marker: expected {platform: string, t: integer µs}, received ${JSON.stringify(value)}`,
    );
  }
  return { platform: mark.platform, t: mark.t };
}
