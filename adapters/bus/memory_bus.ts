/**
 * The in-process {@linkcode EventBus}: one bounded log per subject family, with the same
 * semantics as the server backends — competing consumers per group with explicit
 * ack / nak / dead letter, redelivery after nak or ack-wait expiry, automatic dead letter
 * past `maxDeliver`, and private ordered readers from a position.
 *
 * Backpressure: a family log holds at most `capacity` messages that some registered
 * consumer (a group or a reader on that family) has not yet passed; a publisher beyond that
 * BLOCKS until the slowest consumer moves on. Nothing is ever dropped. Messages no consumer
 * needs any more are kept as history (up to `capacity`) for readers that start later, then
 * discarded — so register consumers before publishing what they must see.
 *
 * @example
 * ```ts
 * import { MemoryBus } from "./memory_bus.ts";
 * const bus = new MemoryBus({ capacity: 256 });
 * await bus.connect();
 * const sub = bus.subscribe("augur.signals", "context");
 * await bus.publish({ subject: "augur.signals", payload: new Uint8Array([1]) });
 * for await (const d of sub) {
 *   await d.ack();
 *   break;
 * }
 * await bus.close();
 * ```
 * @module
 */

import { ConnectionError } from "../../config/errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { MetricsRegistry } from "../observability/metrics.ts";
import { BusMetrics, type ConsumerMetrics } from "./bus_metrics.ts";
import { sendDeadLetter } from "./dead_letter.ts";
import { assertPublishSubject, compileSubjectMatcher, familyOf } from "./subjects.ts";
import type {
  DecodedPayload,
  Delivery,
  EventBus,
  Headers,
  OutgoingMessage,
  PublishAck,
  ReadOptions,
  SubscribeOptions,
  Subscription,
} from "./types.ts";

/** Options of {@linkcode MemoryBus}. */
export interface MemoryBusOptions {
  /** Unconsumed messages per family before publishers block (default 256). */
  readonly capacity?: number;
  /** Subject prefix, for the dead-letter subject `<prefix>.ops.dlq` (default "augur"). */
  readonly prefix?: string;
  /** Default ack wait of subscriptions (default 30 000 ms). */
  readonly ackWaitMs?: number;
  /** Default deliveries before dead letter (default 5). */
  readonly maxDeliver?: number;
  /** Redelivery delay of `nak()` without an argument (default 0 ms). */
  readonly nakDelayMs?: number;
  /** Metrics registry (default: the process-wide one). */
  readonly registry?: MetricsRegistry;
  /** Logger for dead letters and redeliveries. */
  readonly logger?: Logger;
}

interface Entry {
  readonly seq: number;
  readonly subject: string;
  /** Kept whole: its payload may be encoded only when someone reads the bytes. */
  readonly message: OutgoingMessage;
  readonly headers: Headers;
  readonly publishedAtMs: number;
}

interface Cursor {
  next: number;
}

interface Blocked {
  readonly message: OutgoingMessage;
  readonly resolve: (ack: PublishAck) => void;
  readonly reject: (error: Error) => void;
}

const EMPTY_HEADERS: Headers = Object.freeze({});

const DONE: IteratorResult<Delivery> = Object.freeze({ done: true, value: undefined });

class FamilyLog {
  entries: Entry[] = [];
  head = 0;
  nextSeq = 1;
  readonly cursors = new Set<Cursor>();
  waiters: (() => void)[] = [];
  readonly blocked: Blocked[] = [];

  constructor(
    readonly family: string,
    readonly stream: string,
    readonly capacity: number,
  ) {}

  get size(): number {
    return this.entries.length - this.head;
  }

  get firstSeq(): number {
    return this.nextSeq - this.size;
  }

  at(seq: number): Entry {
    return this.entries[this.head + (seq - this.firstSeq)];
  }

  /** Append if there is room; undefined when the publisher must wait. */
  tryAppend(message: OutgoingMessage): Entry | undefined {
    if (this.size >= this.capacity && !this.trim()) return undefined;
    const entry: Entry = {
      seq: this.nextSeq++,
      subject: message.subject,
      message,
      headers: message.headers ?? EMPTY_HEADERS,
      publishedAtMs: Date.now(),
    };
    this.entries.push(entry);
    if (this.waiters.length > 0) this.wake();
    return entry;
  }

  /** Drop entries every consumer has passed; true when there is room again. */
  trim(): boolean {
    let minNext = this.nextSeq;
    for (const c of this.cursors) if (c.next < minNext) minNext = c.next;
    const drop = Math.min(minNext - this.firstSeq, this.size - this.capacity + 1);
    if (drop > 0) {
      this.head += drop;
      if (this.head > 4096 && this.head * 2 > this.entries.length) {
        this.entries = this.entries.slice(this.head);
        this.head = 0;
      }
    }
    return this.size < this.capacity;
  }

  wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** A consumer moved forward: let blocked publishers in. */
  advanced(onAppend: (log: FamilyLog) => void): void {
    while (this.blocked.length > 0) {
      const entry = this.tryAppend(this.blocked[0].message);
      if (!entry) return;
      const b = this.blocked.shift()!;
      onAppend(this);
      b.resolve({ stream: this.stream, position: String(entry.seq), duplicate: false });
    }
  }
}

interface Pending {
  readonly entry: Entry;
  count: number;
  deadline: number;
  readyAt: number;
  settled: boolean;
}

/**
 * The in-process event bus (see the module doc for its backpressure rule).
 *
 * @example
 * ```ts
 * import { MemoryBus } from "./memory_bus.ts";
 * const bus = new MemoryBus();
 * const ack = await bus.publish({ subject: "augur.ops.events", payload: new Uint8Array() });
 * ack.position; // "1"
 * ```
 */
export class MemoryBus implements EventBus {
  readonly kind = "memory" as const;
  readonly capacity: number;
  readonly prefix: string;
  readonly #ackWaitMs: number;
  readonly #maxDeliver: number;
  readonly #nakDelayMs: number;
  readonly #metrics: BusMetrics;
  readonly #logger?: Logger;
  readonly #logs = new Map<string, FamilyLog>();
  readonly #subjectLogs = new Map<string, FamilyLog>();
  readonly #groups = new Map<string, Group>();
  readonly #subs = new Set<MemorySubscription>();
  #closed = false;
  readonly #onAppend = (log: FamilyLog) => this.#metrics.publishedFamily(log.family);

  constructor(options: MemoryBusOptions = {}) {
    const capacity = options.capacity ?? 256;
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`memory bus: expected capacity ≥ 1, received ${capacity}`);
    }
    this.capacity = capacity;
    this.prefix = options.prefix ?? "augur";
    this.#ackWaitMs = options.ackWaitMs ?? 30_000;
    this.#maxDeliver = options.maxDeliver ?? 5;
    this.#nakDelayMs = options.nakDelayMs ?? 0;
    this.#metrics = new BusMetrics({ registry: options.registry });
    this.#logger = options.logger;
  }

  connect(): Promise<void> {
    if (this.#closed) return Promise.reject(new ConnectionError("memory bus: already closed"));
    return Promise.resolve();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#subs].map((s) => s.stop()));
    for (const group of this.#groups.values()) group.dispose();
    for (const log of this.#logs.values()) {
      for (const b of log.blocked.splice(0)) {
        b.reject(new ConnectionError("memory bus: closed while a publisher was blocked"));
      }
      log.wake();
    }
  }

  /** The family log of `family`, created on first use. */
  #log(family: string): FamilyLog {
    let log = this.#logs.get(family);
    if (!log) {
      log = new FamilyLog(family, `${this.prefix}_${family}`, this.capacity);
      this.#logs.set(family, log);
    }
    return log;
  }

  publish(message: OutgoingMessage): Promise<PublishAck> {
    if (this.#closed) return Promise.reject(new ConnectionError("memory bus: closed"));
    let log: FamilyLog;
    try {
      log = this.#logOfSubject(message.subject);
    } catch (e) {
      return Promise.reject(e);
    }
    const ack = this.#append(log, message);
    if (ack) return Promise.resolve(ack);
    return new Promise((resolve, reject) => log.blocked.push({ message, resolve, reject }));
  }

  async publishBatch(messages: readonly OutgoingMessage[]): Promise<PublishAck[]> {
    const acks: PublishAck[] = new Array(messages.length);
    for (let i = 0; i < messages.length; i++) {
      // Hot path: append synchronously while there is room (no promise per message).
      const log = this.#closed ? undefined : this.#logOfSubject(messages[i].subject);
      const ack = log && this.#append(log, messages[i]);
      acks[i] = ack ?? await this.publish(messages[i]);
    }
    return acks;
  }

  /** The family log of a concrete subject (validated and cached on first use). */
  #logOfSubject(subject: string): FamilyLog {
    let log = this.#subjectLogs.get(subject);
    if (!log) {
      assertPublishSubject(subject);
      log = this.#log(familyOf(subject));
      if (this.#subjectLogs.size > 100_000) this.#subjectLogs.clear();
      this.#subjectLogs.set(subject, log);
    }
    return log;
  }

  /** Append now when nobody is queued ahead and there is room; undefined otherwise. */
  #append(log: FamilyLog, message: OutgoingMessage): PublishAck | undefined {
    if (log.blocked.length !== 0) return undefined;
    const entry = log.tryAppend(message);
    if (!entry) return undefined;
    this.#metrics.publishedFamily(log.family);
    return { stream: log.stream, position: String(entry.seq), duplicate: false };
  }

  subscribe(pattern: string, group: string, options: SubscribeOptions = {}): Subscription {
    if (this.#closed) throw new ConnectionError("memory bus: closed");
    const log = this.#log(familyOf(pattern));
    const key = `${log.stream}\u0000${group}`;
    let state = this.#groups.get(key);
    if (!state) {
      state = new Group(this, log, pattern, group);
      this.#groups.set(key, state);
    } else if (state.pattern !== pattern) {
      throw new TypeError(
        `memory bus: group "${group}" already consumes "${state.pattern}", received "${pattern}"`,
      );
    }
    state.configure({
      ackWaitMs: options.ackWaitMs ?? this.#ackWaitMs,
      maxDeliver: options.maxDeliver ?? this.#maxDeliver,
      worker: options.worker ?? group,
    });
    const sub = new MemorySubscription(this, state, undefined);
    this.#subs.add(sub);
    return sub;
  }

  read(subject: string, options: ReadOptions): Subscription {
    if (this.#closed) throw new ConnectionError("memory bus: closed");
    const log = this.#log(familyOf(subject));
    const from = options.from;
    let next: number;
    if (from.kind === "first") next = log.firstSeq;
    else if (from.kind === "new") next = log.nextSeq;
    else {
      const position = Number(from.position);
      if (!Number.isInteger(position) || position < 0) {
        throw new TypeError(
          `memory bus read: expected a non-negative integer position, received "${from.position}"`,
        );
      }
      next = Math.max(position + 1, log.firstSeq);
    }
    const reader = new Reader(this, log, subject, next, options.worker ?? "reader");
    const sub = new MemorySubscription(this, undefined, reader);
    this.#subs.add(sub);
    return sub;
  }

  pending(pattern: string, group: string): Promise<number | undefined> {
    const log = this.#logs.get(familyOf(pattern));
    const state = log && this.#groups.get(`${log.stream}\u0000${group}`);
    if (!state) return Promise.resolve(undefined);
    const count = state.pendingCount();
    this.#metrics.pending(pattern, group, count);
    return Promise.resolve(count);
  }

  // ---- internals used by groups, readers and deliveries ----

  /** @internal */
  get metrics(): BusMetrics {
    return this.#metrics;
  }

  /** @internal */
  get logger(): Logger | undefined {
    return this.#logger;
  }

  /** @internal */
  get nakDelayMs(): number {
    return this.#nakDelayMs;
  }

  /** @internal */
  get closed(): boolean {
    return this.#closed;
  }

  /** @internal A consumer advanced on `log`. */
  advanced(log: FamilyLog): void {
    if (log.blocked.length > 0) log.advanced(this.#onAppend);
  }

  /** @internal */
  forget(sub: MemorySubscription): void {
    this.#subs.delete(sub);
  }

  /** @internal Dead-letter `source` through this bus. */
  async deadLetter(
    source: Entry,
    deliveryCount: number,
    reason: string,
    worker: string,
  ): Promise<void> {
    await sendDeadLetter((m) => this.publish(m), {
      subject: source.subject,
      payload: source.message.payload,
      headers: source.headers,
      deliveryCount,
      position: String(source.seq),
    }, { reason, worker, prefix: this.prefix, metrics: this.#metrics, logger: this.#logger });
  }
}

/** A durable group: competing subscriptions sharing one cursor and one in-flight set. */
class Group {
  readonly cursor: Cursor;
  readonly match: (subject: string) => boolean;
  readonly inflight = new Map<number, Pending>();
  readonly redeliver: Pending[] = [];
  waiters: (() => void)[] = [];
  ackWaitMs = 30_000;
  maxDeliver = 5;
  worker = "unknown";
  #sweep: ReturnType<typeof setInterval> | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  readonly maxAckPending: number;

  constructor(
    readonly bus: MemoryBus,
    readonly log: FamilyLog,
    readonly pattern: string,
    readonly name: string,
  ) {
    this.match = compileSubjectMatcher(pattern);
    this.cursor = { next: log.firstSeq };
    log.cursors.add(this.cursor);
    this.maxAckPending = log.capacity;
  }

  configure(o: { ackWaitMs: number; maxDeliver: number; worker: string }): void {
    this.ackWaitMs = o.ackWaitMs;
    this.maxDeliver = o.maxDeliver;
    this.worker = o.worker;
  }

  dispose(): void {
    if (this.#sweep !== undefined) clearInterval(this.#sweep);
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    this.#sweep = this.#retryTimer = undefined;
    this.wake();
  }

  wake(): void {
    if (this.waiters.length === 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  pendingCount(): number {
    let backlog = 0;
    for (let seq = Math.max(this.cursor.next, this.log.firstSeq); seq < this.log.nextSeq; seq++) {
      if (this.match(this.log.at(seq).subject)) backlog++;
    }
    return backlog + this.inflight.size + this.redeliver.length;
  }

  /** The next delivery for a subscription, or undefined when nothing is ready. */
  take(): Pending | undefined {
    if (this.redeliver.length > 0) {
      const now = Date.now();
      for (let i = 0; i < this.redeliver.length; i++) {
        const p = this.redeliver[i];
        if (p.readyAt > now) continue;
        this.redeliver.splice(i, 1);
        i--;
        p.count++;
        p.settled = false;
        if (p.count > this.maxDeliver) {
          this.#autoDeadLetter(p);
          continue;
        }
        this.#hold(p, now);
        this.bus.metrics.redelivered(p.entry.subject, this.name);
        return p;
      }
      this.#scheduleRetry(now);
    }
    if (this.inflight.size >= this.maxAckPending) return undefined;
    const log = this.log;
    let seq = this.cursor.next;
    if (seq < log.firstSeq) seq = log.firstSeq;
    const end = log.nextSeq;
    let found: Pending | undefined;
    while (seq < end) {
      const entry = log.at(seq++);
      if (this.match(entry.subject)) {
        found = { entry, count: 1, deadline: 0, readyAt: 0, settled: false };
        this.#hold(found, Date.now());
        break;
      }
    }
    if (seq !== this.cursor.next) {
      this.cursor.next = seq;
      this.bus.advanced(log);
    }
    return found;
  }

  #hold(p: Pending, now: number): void {
    p.deadline = now + this.ackWaitMs;
    this.inflight.set(p.entry.seq, p);
    if (this.#sweep === undefined && Number.isFinite(this.ackWaitMs)) {
      const sweep = setInterval(
        () => this.#expire(),
        Math.max(5, Math.min(1000, this.ackWaitMs / 4)),
      );
      this.#sweep = sweep;
    }
  }

  #expire(): void {
    if (this.inflight.size === 0) {
      clearInterval(this.#sweep);
      this.#sweep = undefined;
      return;
    }
    const now = Date.now();
    let expired = false;
    for (const p of this.inflight.values()) {
      if (p.deadline > now) continue;
      this.inflight.delete(p.entry.seq);
      p.settled = true;
      p.readyAt = now;
      this.redeliver.push(p);
      expired = true;
    }
    if (expired) this.wake();
  }

  #scheduleRetry(now: number): void {
    if (this.#retryTimer !== undefined || this.redeliver.length === 0) return;
    let at = Infinity;
    for (const p of this.redeliver) at = Math.min(at, p.readyAt);
    const timer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.wake();
    }, Math.max(0, at - now));
    this.#retryTimer = timer;
  }

  #autoDeadLetter(p: Pending): void {
    this.inflight.set(p.entry.seq, p);
    this.bus.deadLetter(
      p.entry,
      p.count - 1,
      `max_deliver: gave up after ${p.count - 1} deliveries`,
      this.worker,
    )
      .then(() => this.settle(p), (error) => {
        this.bus.logger?.error("dead letter failed; will retry", {
          error,
          subject: p.entry.subject,
        });
        this.nak(p, 1000);
        p.count--;
      });
  }

  settle(p: Pending): boolean {
    if (p.settled) return false;
    p.settled = true;
    this.inflight.delete(p.entry.seq);
    if (this.inflight.size + 1 >= this.maxAckPending) this.wake();
    return true;
  }

  nak(p: Pending, delayMs: number): void {
    if (!this.settle(p)) return;
    p.readyAt = Date.now() + delayMs;
    this.redeliver.push(p);
    this.wake();
  }

  working(p: Pending): void {
    if (p.settled) return;
    this.inflight.delete(p.entry.seq);
    p.deadline = Date.now() + this.ackWaitMs;
    this.inflight.set(p.entry.seq, p);
  }
}

/** A private ordered reader. */
class Reader {
  readonly cursor: Cursor;
  readonly match: (subject: string) => boolean;

  constructor(
    readonly bus: MemoryBus,
    readonly log: FamilyLog,
    readonly subject: string,
    next: number,
    readonly worker: string,
  ) {
    this.match = compileSubjectMatcher(subject);
    this.cursor = { next };
    log.cursors.add(this.cursor);
  }

  take(): Entry | undefined {
    const log = this.log;
    let seq = this.cursor.next;
    if (seq < log.firstSeq) seq = log.firstSeq;
    const end = log.nextSeq;
    let found: Entry | undefined;
    while (seq < end) {
      const entry = log.at(seq++);
      if (this.match(entry.subject)) {
        found = entry;
        break;
      }
    }
    if (seq !== this.cursor.next) {
      this.cursor.next = seq;
      this.bus.advanced(log);
    }
    return found;
  }

  dispose(): void {
    this.log.cursors.delete(this.cursor);
    this.bus.advanced(this.log);
  }
}

class GroupDelivery implements Delivery {
  readonly subject: string;
  readonly headers: Headers;
  readonly deliveryCount: number;
  readonly publishedAtMs: number;

  constructor(readonly group: Group, readonly pending: Pending) {
    const e = pending.entry;
    this.subject = e.subject;
    this.headers = e.headers;
    this.deliveryCount = pending.count;
    this.publishedAtMs = e.publishedAtMs;
  }
  get payload(): Uint8Array {
    return this.pending.entry.message.payload;
  }
  get decoded(): DecodedPayload | undefined {
    return this.pending.entry.message.decoded;
  }
  get stream(): string {
    return this.group.log.stream;
  }
  get position(): string {
    return String(this.pending.entry.seq);
  }

  ack(): Promise<void> {
    if (this.pending.count === this.deliveryCount) this.group.settle(this.pending);
    return Promise.resolve();
  }

  nak(delayMs?: number): Promise<void> {
    if (this.pending.count === this.deliveryCount) {
      this.group.nak(this.pending, delayMs ?? this.group.bus.nakDelayMs);
    }
    return Promise.resolve();
  }

  working(): Promise<void> {
    if (this.pending.count === this.deliveryCount) this.group.working(this.pending);
    return Promise.resolve();
  }

  async deadLetter(reason: string): Promise<void> {
    if (this.pending.settled || this.pending.count !== this.deliveryCount) return;
    await this.group.bus.deadLetter(
      this.pending.entry,
      this.deliveryCount,
      reason,
      this.group.worker,
    );
    this.group.settle(this.pending);
  }
}

class ReaderDelivery implements Delivery {
  readonly subject: string;
  readonly headers: Headers;
  readonly position: string;
  readonly deliveryCount = 1;
  readonly publishedAtMs: number;
  get stream(): string {
    return this.reader.log.stream;
  }
  get payload(): Uint8Array {
    return this.entry.message.payload;
  }
  get decoded(): DecodedPayload | undefined {
    return this.entry.message.decoded;
  }

  constructor(readonly reader: Reader, readonly entry: Entry) {
    this.subject = entry.subject;
    this.headers = entry.headers;
    this.position = String(entry.seq);
    this.publishedAtMs = entry.publishedAtMs;
  }

  ack(): Promise<void> {
    return Promise.resolve();
  }
  nak(): Promise<void> {
    return Promise.resolve();
  }
  working(): Promise<void> {
    return Promise.resolve();
  }
  deadLetter(reason: string): Promise<void> {
    return this.reader.bus.deadLetter(this.entry, 1, reason, this.reader.worker);
  }
}

class MemorySubscription implements Subscription, AsyncIterator<Delivery> {
  #stopped = false;
  #wakeMe: (() => void) | undefined;
  readonly #metrics: ConsumerMetrics;

  constructor(
    readonly bus: MemoryBus,
    readonly group: Group | undefined,
    readonly reader: Reader | undefined,
  ) {
    this.#metrics = bus.metrics.consumer(
      group ? group.pattern : reader!.subject,
      group ? group.name : reader!.worker,
    );
  }

  [Symbol.asyncIterator](): AsyncIterator<Delivery> {
    return this;
  }

  next(): Promise<IteratorResult<Delivery>> {
    const d = this.#poll();
    if (d) return Promise.resolve({ done: false, value: d });
    if (this.#stopped || this.bus.closed) return Promise.resolve(DONE);
    return this.#wait();
  }

  async #wait(): Promise<IteratorResult<Delivery>> {
    while (true) {
      await new Promise<void>((resolve) => {
        this.#wakeMe = resolve;
        if (this.group) this.group.waiters.push(resolve);
        (this.group?.log ?? this.reader!.log).waiters.push(resolve);
      });
      this.#wakeMe = undefined;
      if (this.#stopped || this.bus.closed) return DONE;
      const d = this.#poll();
      if (d) return { done: false, value: d };
    }
  }

  #poll(): Delivery | undefined {
    if (this.#stopped) return undefined;
    if (this.group) {
      const p = this.group.take();
      if (!p) return undefined;
      this.#metrics.consumed(p.entry.publishedAtMs);
      return new GroupDelivery(this.group, p);
    }
    const e = this.reader!.take();
    if (!e) return undefined;
    this.#metrics.consumed(e.publishedAtMs);
    return new ReaderDelivery(this.reader!, e);
  }

  async return(): Promise<IteratorResult<Delivery>> {
    await this.stop();
    return DONE;
  }

  stop(): Promise<void> {
    if (!this.#stopped) {
      this.#stopped = true;
      this.reader?.dispose();
      this.bus.forget(this);
      this.#wakeMe?.();
    }
    return Promise.resolve();
  }
}
