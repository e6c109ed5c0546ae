/**
 * The WebSocket fan-out hub (DOMAIN §11.4): connected clients, each with its consumer type
 * and its own bounded frame queue. A broadcast serializes a frame once and enqueues it on
 * every connection of the routed consumer types; it never waits on a socket.
 *
 * Slow-consumer policy: frames go straight to the socket while its `bufferedAmount` is below
 * `highWaterBytes`; past that they wait in the connection's queue of `bufferSize` frames
 * (`formatters.websocket.per_connection_buffer`, 64). When that queue is full the OLDEST
 * frame is dropped and counted in `augur_websocket_dropped_total{consumer}` (and logged), so
 * a client that does not read never stalls the others. Backed-up queues are drained every
 * `drainIntervalMs` once the socket's `bufferedAmount` falls below the mark.
 *
 * Heartbeats: a `heartbeat` frame on connect (none sent yet) and whenever
 * `heartbeatIntervalMs` passed since the connection's last heartbeat ({@linkcode WebSocketHub.tick}).
 *
 * Frame types beyond DOMAIN §2.1's `signal | heartbeat | storm_start | storm_end`: `brief`
 * (an IntelligenceBrief payload, llm_assisted output) — an additive augur extension.
 *
 * @example
 * ```ts
 * import { WebSocketHub } from "./websocket_hub.ts";
 * const hub = new WebSocketHub({ bufferSize: 64 });
 * const sent: string[] = [];
 * hub.add("dashboard", { bufferedAmount: 0, send: (d) => sent.push(d), close: () => {} });
 * hub.broadcast("signal", '{"x":1}', ["dashboard"]);
 * sent.length; // 2 (the connect heartbeat, then the signal)
 * hub.close();
 * ```
 * @module
 */
import { createLogger, type Logger } from "../adapters/observability/logger.ts";
import {
  type Counter,
  defaultRegistry,
  type Gauge,
  type MetricsRegistry,
} from "../adapters/observability/metrics.ts";
import { CONSUMER_TYPES, type ConsumerType, type FrameType } from "../pipeline/models.ts";
import { frameJson } from "../pipeline/format/delivery.ts";

/** Frame types the hub sends: DOMAIN §2.1's plus `brief` (llm_assisted briefs). */
export type HubFrameType = FrameType | "brief";

/** Every frame type the hub sends, for metrics and clients. */
export const HUB_FRAME_TYPES: readonly HubFrameType[] = [
  "signal",
  "brief",
  "heartbeat",
  "storm_start",
  "storm_end",
];

/** Where a connection's frames go: a WebSocket, or a fake in tests. */
export interface FrameSink {
  /** Bytes accepted by `send` but not yet written to the network. */
  readonly bufferedAmount: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** Options of {@linkcode WebSocketHub}. */
export interface HubOptions {
  /** Frames queued per connection before drop-oldest (per_connection_buffer, default 64). */
  readonly bufferSize?: number;
  /** Socket `bufferedAmount` above which frames wait in the queue (default 1 MiB). */
  readonly highWaterBytes?: number;
  /** How often backed-up queues are retried (default 10 ms). */
  readonly drainIntervalMs?: number;
  /** Heartbeat period per connection (heartbeat_interval_seconds, default 30 000 ms). */
  readonly heartbeatIntervalMs?: number;
  /** Wall clock in epoch ms (default `Date.now`). */
  readonly nowMs?: () => number;
  /** Frame id generator (default `crypto.randomUUID`). */
  readonly newId?: () => string;
  readonly registry?: MetricsRegistry;
  readonly logger?: Logger;
}

interface QueuedFrame {
  readonly type: HubFrameType;
  readonly data: string;
}

/** One connected client as the hub sees it. */
export interface HubConnection {
  readonly id: number;
  readonly consumer: ConsumerType;
  /** Frames dropped from this connection's queue so far. */
  readonly dropped: number;
  /** Frames waiting in this connection's queue. */
  readonly queued: number;
}

/** A fixed-capacity FIFO ring of frames. */
class FrameRing {
  readonly #items: (QueuedFrame | undefined)[];
  #head = 0;
  #size = 0;

  constructor(readonly capacity: number) {
    this.#items = new Array(capacity);
  }

  get size(): number {
    return this.#size;
  }

  /** Append; returns the dropped oldest frame when full. */
  push(frame: QueuedFrame): QueuedFrame | undefined {
    if (this.#size < this.capacity) {
      this.#items[(this.#head + this.#size) % this.capacity] = frame;
      this.#size++;
      return undefined;
    }
    const dropped = this.#items[this.#head]!;
    this.#items[this.#head] = frame;
    this.#head = (this.#head + 1) % this.capacity;
    return dropped;
  }

  peek(): QueuedFrame | undefined {
    return this.#size === 0 ? undefined : this.#items[this.#head];
  }

  shift(): QueuedFrame | undefined {
    if (this.#size === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.capacity;
    this.#size--;
    return item;
  }

  clear(): void {
    this.#items.fill(undefined);
    this.#head = 0;
    this.#size = 0;
  }
}

class Connection implements HubConnection {
  readonly queue: FrameRing;
  dropped = 0;
  lastHeartbeatMs = -Infinity;
  closed = false;

  constructor(
    readonly id: number,
    readonly consumer: ConsumerType,
    readonly sink: FrameSink,
    bufferSize: number,
  ) {
    this.queue = new FrameRing(bufferSize);
  }

  get queued(): number {
    return this.queue.size;
  }
}

/**
 * Fan-out of frames to connected clients with per-connection bounded queues (see module doc).
 *
 * @example
 * ```ts
 * import { WebSocketHub } from "./websocket_hub.ts";
 * const hub = new WebSocketHub();
 * hub.count("dashboard"); // 0
 * hub.close();
 * ```
 */
export class WebSocketHub {
  readonly bufferSize: number;
  readonly highWaterBytes: number;
  readonly heartbeatIntervalMs: number;
  readonly #drainIntervalMs: number;
  readonly #nowMs: () => number;
  readonly #newId: () => string;
  readonly #logger: Logger;
  readonly #byConsumer = new Map<ConsumerType, Set<Connection>>();
  readonly #all = new Set<Connection>();
  readonly #backlog = new Set<Connection>();
  #drainTimer: ReturnType<typeof setInterval> | undefined;
  #nextId = 1;
  #closed = false;
  readonly #connections: Gauge;
  readonly #dropped: Counter;
  readonly #sent: Record<HubFrameType, { inc(amount?: number): void }>;
  readonly #droppedBy: Record<ConsumerType, { inc(amount?: number): void }>;

  constructor(options: HubOptions = {}) {
    this.bufferSize = options.bufferSize ?? 64;
    if (!Number.isInteger(this.bufferSize) || this.bufferSize < 1) {
      throw new RangeError(
        `websocket hub: expected bufferSize ≥ 1, received ${options.bufferSize}`,
      );
    }
    this.highWaterBytes = options.highWaterBytes ?? 1024 * 1024;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 30_000;
    this.#drainIntervalMs = options.drainIntervalMs ?? 10;
    this.#nowMs = options.nowMs ?? Date.now;
    this.#newId = options.newId ?? (() => crypto.randomUUID());
    this.#logger = options.logger ?? createLogger({ component: "websocket-hub" });
    const registry = options.registry ?? defaultRegistry;
    this.#connections = registry.gauge(
      "augur_websocket_connections",
      "Open WebSocket connections by consumer type.",
      ["consumer"],
    );
    const sent = registry.counter(
      "augur_websocket_frames_sent_total",
      "Frames handed to WebSocket connections, by frame type.",
      ["frame_type"],
    );
    this.#dropped = registry.counter(
      "augur_websocket_dropped_total",
      "Frames dropped (oldest first) from full per-connection queues, by consumer type.",
      ["consumer"],
    );
    this.#sent = Object.fromEntries(
      HUB_FRAME_TYPES.map((t) => [t, sent.bind({ frame_type: t })]),
    ) as Record<HubFrameType, { inc(amount?: number): void }>;
    this.#droppedBy = Object.fromEntries(
      CONSUMER_TYPES.map((c) => [c, this.#dropped.bind({ consumer: c })]),
    ) as Record<ConsumerType, { inc(amount?: number): void }>;
    for (const c of CONSUMER_TYPES) {
      this.#byConsumer.set(c, new Set());
      this.#connections.set({ consumer: c }, 0);
    }
  }

  /** Open connections. */
  get size(): number {
    return this.#all.size;
  }

  /** Open connections of one consumer type. */
  count(consumer: ConsumerType): number {
    return this.#byConsumer.get(consumer)?.size ?? 0;
  }

  /** Frames dropped so far for a consumer type (from the metric). */
  droppedFor(consumer: ConsumerType): number {
    return this.#dropped.get({ consumer });
  }

  /**
   * Register a connected client; it gets its first heartbeat at once.
   *
   * @example
   * ```ts
   * import { WebSocketHub } from "./websocket_hub.ts";
   * const hub = new WebSocketHub();
   * const conn = hub.add("dashboard", { bufferedAmount: 0, send() {}, close() {} });
   * hub.remove(conn);
   * hub.close();
   * ```
   */
  add(consumer: ConsumerType, sink: FrameSink): HubConnection {
    if (this.#closed) throw new Error("websocket hub: closed");
    const conn = new Connection(this.#nextId++, consumer, sink, this.bufferSize);
    this.#all.add(conn);
    this.#byConsumer.get(consumer)!.add(conn);
    this.#connections.set({ consumer }, this.count(consumer));
    this.#heartbeat(conn, this.#nowMs());
    return conn;
  }

  /** Forget a connection (it closed). Its queued frames are discarded. */
  remove(connection: HubConnection): void {
    const conn = connection as Connection;
    if (!this.#all.delete(conn)) return;
    conn.closed = true;
    conn.queue.clear();
    this.#backlog.delete(conn);
    this.#byConsumer.get(conn.consumer)!.delete(conn);
    this.#connections.set({ consumer: conn.consumer }, this.count(conn.consumer));
    if (conn.dropped > 0) {
      this.#logger.info("websocket connection closed after drops", {
        connection: conn.id,
        consumer: conn.consumer,
        dropped: conn.dropped,
      });
    }
  }

  /**
   * Send one frame to every connection of `consumers`; returns how many connections got it
   * (sent or queued). The frame is serialized once (`frame_id` shared by all recipients).
   *
   * @example
   * ```ts
   * import { WebSocketHub } from "./websocket_hub.ts";
   * const hub = new WebSocketHub();
   * hub.broadcast("signal", "{}", ["dashboard"]); // 0: nobody connected
   * hub.close();
   * ```
   */
  broadcast(
    frameType: HubFrameType,
    payloadJson: string | undefined,
    consumers: readonly ConsumerType[],
  ): number {
    if (this.#closed) return 0;
    let data: string | undefined;
    let reached = 0;
    for (const consumer of consumers) {
      const conns = this.#byConsumer.get(consumer);
      if (!conns || conns.size === 0) continue;
      data ??= this.#frame(frameType, payloadJson);
      const frame = { type: frameType, data };
      for (const conn of conns) {
        this.#enqueue(conn, frame);
        reached++;
      }
    }
    return reached;
  }

  /**
   * Heartbeat every connection whose last heartbeat is `heartbeatIntervalMs` old. Call it
   * periodically (the server does, every second or faster).
   */
  tick(nowMs = this.#nowMs()): void {
    for (const conn of this.#all) {
      if (nowMs - conn.lastHeartbeatMs >= this.heartbeatIntervalMs) this.#heartbeat(conn, nowMs);
    }
  }

  /** Answer a client's ping frame with a heartbeat (restarts its heartbeat period). */
  ping(connection: HubConnection, nowMs = this.#nowMs()): void {
    const conn = connection as Connection;
    if (!conn.closed) this.#heartbeat(conn, nowMs);
  }

  /** Close every connection with `code` (1001 = going away, on drain) and stop the hub. */
  close(code = 1001, reason = "server draining"): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const conn of [...this.#all]) {
      try {
        conn.sink.close(code, reason);
      } catch {
        // already closing
      }
      this.remove(conn);
    }
    if (this.#drainTimer !== undefined) clearInterval(this.#drainTimer);
    this.#drainTimer = undefined;
  }

  #frame(frameType: HubFrameType, payloadJson: string | undefined): string {
    return frameJson({
      frame_type: frameType as FrameType,
      frame_id: this.#newId(),
      ts: this.#nowMs() * 1000,
      payload_json: payloadJson,
    });
  }

  #heartbeat(conn: Connection, nowMs: number): void {
    conn.lastHeartbeatMs = nowMs;
    this.#enqueue(conn, { type: "heartbeat", data: this.#frame("heartbeat", undefined) });
  }

  #enqueue(conn: Connection, frame: QueuedFrame): void {
    if (conn.queue.size > 0) this.#flush(conn);
    if (conn.closed) return;
    if (conn.queue.size === 0 && this.#writable(conn)) {
      this.#send(conn, frame);
      return;
    }
    if (conn.queue.push(frame) !== undefined) {
      conn.dropped++;
      this.#droppedBy[conn.consumer].inc();
      if (conn.dropped === 1 || conn.dropped % 1000 === 0) {
        this.#logger.warn("slow websocket consumer: dropped oldest frames", {
          connection: conn.id,
          consumer: conn.consumer,
          dropped: conn.dropped,
          buffer: this.bufferSize,
        });
      }
    }
    this.#flush(conn);
  }

  #writable(conn: Connection): boolean {
    return !conn.closed && conn.sink.bufferedAmount < this.highWaterBytes;
  }

  #send(conn: Connection, frame: QueuedFrame): boolean {
    try {
      conn.sink.send(frame.data);
      this.#sent[frame.type].inc();
      return true;
    } catch (error) {
      this.#logger.debug("websocket send failed; dropping the connection", {
        connection: conn.id,
        error: (error as Error).message,
      });
      this.remove(conn);
      return false;
    }
  }

  /** Send queued frames while the socket takes them; park the rest on the backlog. */
  #flush(conn: Connection): void {
    while (conn.queue.size > 0 && this.#writable(conn)) {
      if (!this.#send(conn, conn.queue.shift()!)) return;
    }
    if (conn.queue.size > 0 && !conn.closed) {
      this.#backlog.add(conn);
      this.#drainTimer ??= setInterval(() => this.#drainBacklog(), this.#drainIntervalMs);
    } else this.#backlog.delete(conn);
  }

  #drainBacklog(): void {
    for (const conn of this.#backlog) this.#flush(conn);
    if (this.#backlog.size === 0 && this.#drainTimer !== undefined) {
      clearInterval(this.#drainTimer);
      this.#drainTimer = undefined;
    }
  }
}
