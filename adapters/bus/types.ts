/**
 * The EventBus contract shared by the memory, NATS JetStream and Redis Streams backends.
 *
 * Two ways to consume (DESIGN §10):
 * - {@linkcode EventBus.subscribe}: a shared durable consumer / consumer group. Competing
 *   consumers; each delivery is explicitly acked, nak'd or dead-lettered. Used by stateless
 *   kinds after dedup (context, store, websocket, dual-write).
 * - {@linkcode EventBus.read}: a private, ordered reader of one partition stream from a
 *   position. The committed position IS the acknowledgement (ack is a no-op). Used by the
 *   partition-ordered kinds (feature, detector, manipulation, calibration, dedup).
 *
 * Subjects are NATS-style dotted names: `<prefix>.<family>[.<pp>][.<rest>…]` where `<pp>` is
 * a zero-padded partition number (e.g. `augur.snapshots.07.polymarket.m1`). The family is
 * the second token. NATS keeps one stream per family; Redis keeps one stream per
 * (family, partition) — `augur:snapshots:07` — or per family when the subject carries no
 * partition (`augur:signals`), with the full subject stored in each entry.
 *
 * @example
 * ```ts
 * import type { EventBus } from "./types.ts";
 * async function pump(bus: EventBus) {
 *   await bus.publish({ subject: "augur.signals", payload: new TextEncoder().encode("{}") });
 *   const sub = bus.subscribe("augur.signals", "context");
 *   for await (const delivery of sub) {
 *     await delivery.ack();
 *     break;
 *   }
 *   await sub.stop();
 * }
 * ```
 * @module
 */

/** Message headers (string values; multi-valued headers are not used). */
export type Headers = Record<string, string>;

/** Header names augur sets on messages. */
export const HEADER = {
  /** Deterministic message id `<kind>:<natural key>`; also sent as `Nats-Msg-Id`. */
  id: "Augur-Id",
  /** The raw partition key (market id) of a partitioned subject. */
  key: "Augur-Key",
  /** Fencing token of a singleton's output. */
  fence: "Augur-Fence",
  /** Dead letter: why. */
  reason: "Augur-Reason",
  /** Dead letter: the subject the message was consumed from. */
  sourceSubject: "Augur-Source-Subject",
  /** Dead letter: the worker kind that gave up on it. */
  worker: "Augur-Worker",
  /** Dead letter: the delivery count when it was dead-lettered. */
  deliveryCount: "Augur-Delivery-Count",
  /** W3C trace context. */
  traceparent: "traceparent",
} as const;

/**
 * The decoded form of a payload, carried next to the bytes by the in-process (memory) bus so
 * a consumer in the same process can skip parsing and validating them again. `value` must
 * deep-equal what `codec` decodes from the payload; `codec` identifies the record layout
 * (consumers compare it by identity before trusting `value`).
 */
export interface DecodedPayload {
  readonly codec: object;
  readonly value: unknown;
}

/** A message to publish. */
export interface OutgoingMessage {
  readonly subject: string;
  readonly payload: Uint8Array;
  readonly headers?: Headers;
  /** The payload's decoded form; only the memory bus hands it on (see {@linkcode DecodedPayload}). */
  readonly decoded?: DecodedPayload;
}

/** The server's acknowledgement of a persisted publish. */
export interface PublishAck {
  /** Stream (NATS stream name or Redis stream key) that stored the message. */
  readonly stream: string;
  /** Position in that stream (JetStream sequence as decimal, or Redis entry id). */
  readonly position: string;
  /** True when the server recognised the message id as a duplicate and stored nothing. */
  readonly duplicate: boolean;
}

/** One delivered message; the consumer decides its fate exactly once. */
export interface Delivery {
  readonly subject: string;
  readonly payload: Uint8Array;
  readonly headers: Headers;
  /** Stream the message came from. */
  readonly stream: string;
  /** Position in its stream (JetStream stream sequence, Redis entry id, memory counter). */
  readonly position: string;
  /** 1 on the first delivery, 2 on the first redelivery, … (always 1 for `read`). */
  readonly deliveryCount: number;
  /** When the server stored the message (epoch ms), for consume-lag metrics. */
  readonly publishedAtMs: number;
  /** The publisher's decoded form of the payload (memory bus only; never from a server). */
  readonly decoded?: DecodedPayload;
  /** Done: never deliver again. */
  ack(): Promise<void>;
  /** Not done: deliver again after `delayMs` (backend default when omitted). */
  nak(delayMs?: number): Promise<void>;
  /** Still working: extend the ack deadline (JetStream `working`, Redis XCLAIM JUSTID). */
  working(): Promise<void>;
  /**
   * Give up: publish to `<prefix>.ops.dlq` with reason, source subject, worker and delivery
   * count headers, count it in `augur_bus_dead_letter_total{reason}`, then ack.
   */
  deadLetter(reason: string): Promise<void>;
}

/** A stream of deliveries; iterate it, then `stop()`. */
export interface Subscription extends AsyncIterable<Delivery> {
  /** Stop pulling new messages. Deliveries already handed out may still be settled. */
  stop(): Promise<void>;
}

/** Options of {@linkcode EventBus.subscribe}. */
export interface SubscribeOptions {
  /** Redelivery deadline for an unacked delivery (default from config, 30 s). */
  readonly ackWaitMs?: number;
  /** Deliveries before the bus dead-letters a message on its own (default from config). */
  readonly maxDeliver?: number;
  /** Messages fetched per pull (default from config). */
  readonly batch?: number;
  /** Worker kind, stamped on dead letters and metrics. */
  readonly worker?: string;
}

/** Where an ordered reader starts. */
export type ReadFrom =
  | { readonly kind: "first" }
  | { readonly kind: "new" }
  | { readonly kind: "after"; readonly position: string };

/** Options of {@linkcode EventBus.read}. */
export interface ReadOptions {
  /** Start point; `{ kind: "after", position }` resumes after a checkpointed position. */
  readonly from: ReadFrom;
  /** Messages fetched per round trip. */
  readonly batch?: number;
  /** Worker kind, stamped on dead letters and metrics. */
  readonly worker?: string;
}

/** The bus backends. */
export type BusKind = "memory" | "nats" | "redis";

/** The event bus. */
export interface EventBus {
  readonly kind: BusKind;
  /** Connect (and create streams / groups idempotently). Throws ConnectionError. */
  connect(): Promise<void>;
  /** Stop every subscription, flush, and close connections. */
  close(): Promise<void>;
  /** Publish one message; resolves only once the server has persisted it. */
  publish(message: OutgoingMessage): Promise<PublishAck>;
  /** Publish many messages pipelined; resolves once all are persisted (acks in order). */
  publishBatch(messages: readonly OutgoingMessage[]): Promise<PublishAck[]>;
  /**
   * Competing consumers on a shared durable (NATS) / consumer group (Redis) named `group`,
   * for subjects matching `pattern` (NATS wildcards `*` and `>`).
   */
  subscribe(pattern: string, group: string, options?: SubscribeOptions): Subscription;
  /**
   * A private ordered reader of the messages matching `subject` (one partition of one
   * family, e.g. `augur.snapshots.07.>`), from a position. `ack`/`nak` are no-ops; the
   * caller commits `delivery.position` in its checkpoint.
   */
  read(subject: string, options: ReadOptions): Subscription;
  /** Messages not yet acked by `group` (pending gauge); undefined when unknown. */
  pending(pattern: string, group: string): Promise<number | undefined>;
}
