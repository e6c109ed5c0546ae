/**
 * Dead letters shared by every bus backend: build the `<prefix>.ops.dlq` message with the
 * reason / source subject / worker / delivery count headers ({@linkcode HEADER}), publish it,
 * count it in `augur_bus_dead_letter_total{reason}` and log it. The backend acks the source
 * delivery afterwards (only once the dead letter is persisted).
 *
 * @example
 * ```ts
 * import { sendDeadLetter } from "./dead_letter.ts";
 * import { BusMetrics } from "./bus_metrics.ts";
 * import type { EventBus, Delivery } from "./types.ts";
 * async function giveUp(bus: EventBus, delivery: Delivery) {
 *   await sendDeadLetter((m) => bus.publish(m), delivery, {
 *     reason: "decode: not JSON",
 *     worker: "store",
 *     prefix: "augur",
 *     metrics: new BusMetrics(),
 *   });
 *   await delivery.ack();
 * }
 * ```
 * @module
 */

import type { Logger } from "../observability/logger.ts";
import type { BusMetrics } from "./bus_metrics.ts";
import { HEADER, type Headers, type OutgoingMessage, type PublishAck } from "./types.ts";

/** Extra dead-letter header: the stream position the message was consumed from. */
export const SOURCE_POSITION_HEADER = "Augur-Source-Position";

/** The dead-letter subject for a subject prefix: `<prefix>.ops.dlq`. */
export function dlqSubject(prefix: string): string {
  return `${prefix}.ops.dlq`;
}

/** What a backend knows about the message it gives up on. */
export interface DeadLetterSource {
  readonly subject: string;
  readonly payload: Uint8Array;
  readonly headers: Headers;
  readonly deliveryCount: number;
  readonly position?: string;
}

/** Options of {@linkcode deadLetterMessage}. */
export interface DeadLetterMessageOptions {
  /** Why (e.g. `"decode: …"`, `"max_deliver"`, `"trimmed"`); the leading word is the label. */
  readonly reason: string;
  /** Worker kind that gave up (default `"unknown"`). */
  readonly worker?: string;
  /** Subject prefix (the dead letter goes to `<prefix>.ops.dlq`). */
  readonly prefix: string;
}

/**
 * The dead-letter message for `source`: same payload, original headers kept (the id becomes
 * `dlq:<worker>:<id>`: a repeated dead letter of one message by one worker is deduplicated by
 * JetStream, while two workers giving up on the same message both leave theirs), plus the
 * reason, source subject, worker and delivery count headers.
 *
 * @example
 * ```ts
 * import { deadLetterMessage } from "./dead_letter.ts";
 * const m = deadLetterMessage(
 *   { subject: "augur.signals", payload: new Uint8Array(), headers: {}, deliveryCount: 5 },
 *   { reason: "max_deliver", worker: "context", prefix: "augur" },
 * );
 * m.subject; // "augur.ops.dlq"
 * ```
 */
export function deadLetterMessage(
  source: DeadLetterSource,
  options: DeadLetterMessageOptions,
): OutgoingMessage {
  const headers: Record<string, string> = { ...source.headers };
  delete headers["Nats-Msg-Id"];
  const id = source.headers[HEADER.id];
  const worker = options.worker ?? "unknown";
  if (id !== undefined) headers[HEADER.id] = id.startsWith("dlq:") ? id : `dlq:${worker}:${id}`;
  headers[HEADER.reason] = oneLine(options.reason);
  headers[HEADER.sourceSubject] = source.subject;
  headers[HEADER.worker] = worker;
  headers[HEADER.deliveryCount] = String(source.deliveryCount);
  if (source.position !== undefined) headers[SOURCE_POSITION_HEADER] = source.position;
  return { subject: dlqSubject(options.prefix), payload: source.payload, headers };
}

/** Options of {@linkcode sendDeadLetter}. */
export interface SendDeadLetterOptions extends DeadLetterMessageOptions {
  /** Where `augur_bus_dead_letter_total{reason}` is counted. */
  readonly metrics: BusMetrics;
  /** Logger for the warning line (none when omitted). */
  readonly logger?: Logger;
}

/**
 * Publish the dead letter of `source` with `publish`, then count and log it. Throws when the
 * publish fails (the caller must then NOT ack the source, so it is redelivered).
 */
export async function sendDeadLetter(
  publish: (message: OutgoingMessage) => Promise<PublishAck>,
  source: DeadLetterSource,
  options: SendDeadLetterOptions,
): Promise<PublishAck> {
  const ack = await publish(deadLetterMessage(source, options));
  options.metrics.deadLettered(options.reason);
  options.logger?.warn("dead-lettered", {
    reason: oneLine(options.reason),
    subject: source.subject,
    worker: options.worker ?? "unknown",
    delivery_count: source.deliveryCount,
    dlq_position: ack.position,
  });
  return ack;
}

/** The dead-letter headers of a message read from `<prefix>.ops.dlq`. */
export interface DeadLetterInfo {
  readonly reason: string;
  readonly sourceSubject: string;
  readonly worker: string;
  readonly deliveryCount: number;
}

/**
 * Read the dead-letter headers back; undefined when `headers` carry no reason.
 *
 * @example
 * ```ts
 * import { readDeadLetter } from "./dead_letter.ts";
 * readDeadLetter({ "Augur-Reason": "trimmed", "Augur-Delivery-Count": "1" })?.reason; // "trimmed"
 * ```
 */
export function readDeadLetter(headers: Headers): DeadLetterInfo | undefined {
  const reason = headers[HEADER.reason];
  if (reason === undefined) return undefined;
  return {
    reason,
    sourceSubject: headers[HEADER.sourceSubject] ?? "",
    worker: headers[HEADER.worker] ?? "unknown",
    deliveryCount: Number(headers[HEADER.deliveryCount] ?? "0"),
  };
}

function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, " ").slice(0, 512);
}
