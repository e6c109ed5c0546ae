/**
 * The NATS JetStream {@linkcode EventBus}.
 *
 * - One stream per subject family, `<streamName>_<family>` with subjects `<prefix>.<family>`
 *   and `<prefix>.<family>.>`, created or updated idempotently (replicas, `max_age` =
 *   retention, duplicate window) lazily on first use, then cached.
 * - `publish` waits for the PubAck; `Augur-Id` is also sent as `Nats-Msg-Id` so a retried
 *   publish is stored once. Publishes retry through a reconnect until `publishTimeoutMs`.
 *   `publishBatch` fires every publish, then awaits every ack.
 * - `subscribe` = a durable pull consumer per group (filter subject = pattern, explicit ack,
 *   ack wait, `max_deliver` = maxDeliver + 1): a delivery beyond `maxDeliver` is dead-lettered
 *   by the bus itself (JetStream would otherwise drop it silently), so the application sees
 *   at most `maxDeliver` deliveries.
 * - `read` = an ordered consumer with one filter subject from a start sequence (nats-server
 *   2.9+); the position is the stream sequence.
 * - The connection reconnects forever (`maxReconnectAttempts: -1`); durable consumers and
 *   ordered readers resume where they were.
 *
 * @example
 * ```ts
 * import { NatsBus } from "./nats_bus.ts";
 * const bus = new NatsBus({ servers: ["nats://127.0.0.1:4222"] });
 * await bus.connect();
 * await bus.publish({ subject: "augur.signals", payload: new TextEncoder().encode("{}") });
 * await bus.close();
 * ```
 * @module
 */

import { hostname } from "node:os";
import {
  connect,
  credsAuthenticator,
  headers as natsHeaders,
  type MsgHdrs,
  nanos,
  type NatsConnection,
} from "@nats-io/transport-node";
import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerMessages,
  DeliverPolicy,
  DiscardPolicy,
  jetstream,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
  type JsMsg,
  type OrderedConsumerOptions,
  type PubAck,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import { AugurError, ConfigError, ConnectionError } from "../../config/errors.ts";
import { createLogger, type Logger } from "../observability/logger.ts";
import type { MetricsRegistry } from "../observability/metrics.ts";
import { BusMetrics } from "./bus_metrics.ts";
import { sendDeadLetter } from "./dead_letter.ts";
import { assertPublishSubject, familyOf } from "./subjects.ts";
import {
  type Delivery,
  type EventBus,
  HEADER,
  type Headers,
  type OutgoingMessage,
  type PublishAck,
  type ReadOptions,
  type SubscribeOptions,
  type Subscription,
} from "./types.ts";

/** Options of {@linkcode NatsBus} (the factory maps `[nats]` of bus.toml onto these). */
export interface NatsBusOptions {
  /** Server URLs (default `["nats://localhost:4222"]`). */
  readonly servers?: readonly string[];
  /** Path of a `.creds` file (the factory reads it from `credentials_file_env`). */
  readonly credentialsFile?: string;
  /** Stream name prefix; streams are `<streamName>_<family>` (default "augur"). */
  readonly streamName?: string;
  /** Stream replicas (default 1). */
  readonly replicas?: number;
  /** Subject prefix (default "augur"). */
  readonly subjectPrefix?: string;
  /** Default ack wait of durable consumers (default 30 000 ms). */
  readonly ackWaitMs?: number;
  /** Default deliveries before the bus dead-letters (default 5). */
  readonly maxDeliver?: number;
  /** JetStream duplicate window (default 120 000 ms). */
  readonly duplicateWindowMs?: number;
  /** Messages per pull (default 256). */
  readonly batch?: number;
  /** Stream `max_age` in hours (default 24; 0 = unlimited). */
  readonly retentionHours?: number;
  /** Redelivery delay of `nak()` without an argument (default 1000 ms). */
  readonly nakDelayMs?: number;
  /** How long one publish keeps retrying through disconnects (default 60 000 ms). */
  readonly publishTimeoutMs?: number;
  /** Initial connection timeout (default 5000 ms). */
  readonly connectTimeoutMs?: number;
  /** Connection name shown by the server (default `augur-<hostname>`). */
  readonly name?: string;
  /** Metrics registry (default: the process-wide one). */
  readonly registry?: MetricsRegistry;
  /** Logger (default: a `bus` component logger). */
  readonly logger?: Logger;
}

interface Resolved {
  readonly servers: string[];
  readonly credentialsFile?: string;
  readonly streamName: string;
  readonly replicas: number;
  readonly prefix: string;
  readonly ackWaitMs: number;
  readonly maxDeliver: number;
  readonly duplicateWindowMs: number;
  readonly batch: number;
  readonly retentionHours: number;
  readonly nakDelayMs: number;
  readonly publishTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly name: string;
}

const DONE: IteratorResult<Delivery> = Object.freeze({ done: true, value: undefined });
const MSG_ID = "Nats-Msg-Id";
/**
 * Pull request expiry. The client waits `expires` between its recovery attempts after a
 * reconnect (consumer info against a JetStream that is still starting fails), so the 30 s
 * default would stall readers for 30 s after a server restart.
 */
const PULL_EXPIRES_MS = 5000;

/**
 * The JetStream event bus.
 *
 * @example
 * ```ts
 * import { NatsBus } from "./nats_bus.ts";
 * const bus = new NatsBus({ servers: ["nats://127.0.0.1:4222"], batch: 128 });
 * await bus.connect();
 * const reader = bus.read("augur.snapshots.07.>", { from: { kind: "first" } });
 * await reader.stop();
 * await bus.close();
 * ```
 */
export class NatsBus implements EventBus {
  readonly kind = "nats" as const;
  readonly #o: Resolved;
  readonly #metrics: BusMetrics;
  readonly #log: Logger;
  #nc: NatsConnection | undefined;
  #js: JetStreamClient | undefined;
  #jsm: JetStreamManager | undefined;
  #closed = false;
  readonly #streams = new Map<string, string>();
  readonly #streamPromises = new Map<string, Promise<string>>();
  readonly #subs = new Set<NatsSubscription>();

  constructor(options: NatsBusOptions = {}) {
    this.#o = resolveOptions(options);
    this.#metrics = new BusMetrics({ registry: options.registry });
    this.#log = (options.logger ?? createLogger({ component: "bus" })).child({ bus: "nats" });
  }

  /** The resolved options. */
  get options(): Readonly<Resolved> {
    return this.#o;
  }

  /** The underlying connection (benchmarks and tests). */
  get connection(): NatsConnection {
    if (!this.#nc) throw new AugurError("nats bus: not connected (call connect() first)");
    return this.#nc;
  }

  async connect(): Promise<void> {
    if (this.#closed) throw new ConnectionError("nats bus: already closed");
    if (this.#nc) return;
    const where = this.#o.servers.join(",");
    let authenticator;
    if (this.#o.credentialsFile) {
      let creds: Uint8Array;
      try {
        creds = await Deno.readFile(this.#o.credentialsFile);
      } catch (e) {
        throw new ConfigError(
          `nats: cannot read credentials file "${this.#o.credentialsFile}": ${firstLine(e)}`,
        );
      }
      const text = new TextDecoder().decode(creds);
      if (
        !/-----BEGIN NATS USER JWT-----/.test(text) || !/-----BEGIN USER NKEY SEED-----/.test(text)
      ) {
        throw new ConfigError(
          `nats: credentials file "${this.#o.credentialsFile}": expected a NATS .creds file with a user JWT and an nkey seed`,
        );
      }
      authenticator = credsAuthenticator(creds);
    }
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: this.#o.servers,
        name: this.#o.name,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        timeout: this.#o.connectTimeoutMs,
        pingInterval: 10_000,
        authenticator,
        // Without this the client builds two Error objects (stack captures) per JetStream
        // publish for async traces: ~20% of a bridge's CPU. Errors keep their messages.
        noAsyncTraces: true,
      });
    } catch (e) {
      throw new ConnectionError(`nats: cannot connect to ${where}: ${firstLine(e)}`, { cause: e });
    }
    try {
      this.#jsm = await jetstreamManager(nc, { timeout: this.#o.connectTimeoutMs });
      this.#js = jetstream(nc, { timeout: Math.min(5000, this.#o.publishTimeoutMs) });
    } catch (e) {
      await nc.close().catch(() => {});
      throw new ConnectionError(`nats: JetStream unavailable on ${where}: ${firstLine(e)}`, {
        cause: e,
      });
    }
    this.#nc = nc;
    this.#watchStatus(nc);
    this.#log.info("connected", { servers: where });
  }

  #watchStatus(nc: NatsConnection): void {
    (async () => {
      for await (const s of nc.status()) {
        if (s.type === "disconnect" || s.type === "reconnect") {
          this.#log.warn(`nats ${s.type}`, { server: "server" in s ? s.server : undefined });
        } else if (s.type === "error") {
          this.#log.error("nats error", { error: firstLine(s.error) });
        }
      }
    })().catch(() => {});
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#subs].map((s) => s.stop()));
    const nc = this.#nc;
    if (!nc) return;
    // flush pending acks, but never hang on a connection that is down
    await within(nc.flush().catch(() => {}), 2000);
    await nc.close().catch(() => {});
  }

  #ready(): { js: JetStreamClient; jsm: JetStreamManager; nc: NatsConnection } {
    if (this.#closed) throw new ConnectionError("nats bus: closed");
    if (!this.#nc || !this.#js || !this.#jsm) {
      throw new AugurError("nats bus: not connected (call connect() first)");
    }
    return { js: this.#js, jsm: this.#jsm, nc: this.#nc };
  }

  /** Stream name of a family, creating/updating the stream on first use. */
  ensureStream(family: string): Promise<string> {
    const known = this.#streams.get(family);
    if (known) return Promise.resolve(known);
    let p = this.#streamPromises.get(family);
    if (!p) {
      p = this.#createStream(family).then((name) => {
        this.#streams.set(family, name);
        return name;
      }, (e) => {
        this.#streamPromises.delete(family);
        throw e;
      });
      this.#streamPromises.set(family, p);
    }
    return p;
  }

  async #createStream(family: string): Promise<string> {
    const { jsm } = this.#ready();
    const o = this.#o;
    const name = `${o.streamName}_${family}`;
    const maxAge = o.retentionHours > 0 ? nanos(o.retentionHours * 3_600_000) : 0;
    const dupWindow = nanos(
      maxAge > 0
        ? Math.min(o.duplicateWindowMs, o.retentionHours * 3_600_000)
        : o.duplicateWindowMs,
    );
    const config: Partial<StreamConfig> & { name: string } = {
      name,
      subjects: [`${o.prefix}.${family}`, `${o.prefix}.${family}.>`],
      num_replicas: o.replicas,
      max_age: maxAge,
      duplicate_window: dupWindow,
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
    };
    try {
      const info = await jsm.streams.info(name).catch((e) => {
        if (isNotFound(e)) return undefined;
        throw e;
      });
      if (!info) {
        await jsm.streams.add(config);
        this.#log.info("stream created", { stream: name });
      } else {
        const c = info.config;
        const same = c.num_replicas === config.num_replicas && c.max_age === config.max_age &&
          c.duplicate_window === config.duplicate_window &&
          config.subjects!.every((s) => c.subjects?.includes(s));
        if (!same) {
          const subjects = [...new Set([...(c.subjects ?? []), ...config.subjects!])];
          await jsm.streams.update(name, { ...config, subjects });
          this.#log.info("stream updated", { stream: name });
        }
      }
    } catch (e) {
      throw new ConnectionError(`nats: cannot create or update stream "${name}": ${firstLine(e)}`, {
        cause: e,
      });
    }
    return name;
  }

  async publish(message: OutgoingMessage): Promise<PublishAck> {
    const { js } = this.#ready();
    assertPublishSubject(message.subject);
    const family = familyOf(message.subject);
    if (!this.#streams.has(family)) await this.ensureStream(family);
    const h = message.headers ? toNatsHeaders(message.headers) : undefined;
    const msgID = message.headers?.[HEADER.id];
    const deadline = Date.now() + this.#o.publishTimeoutMs;
    let attempt = 0;
    while (true) {
      let pa: PubAck;
      try {
        pa = await js.publish(
          message.subject,
          message.payload,
          msgID ? { msgID, headers: h } : { headers: h },
        );
      } catch (e) {
        if (this.#closed) {
          throw new ConnectionError("nats bus: closed during publish", { cause: e });
        }
        if (isStreamMissing(e)) {
          this.#streams.delete(family);
          await this.ensureStream(family);
        } else if (!isRetriable(e) || Date.now() > deadline) {
          throw new ConnectionError(
            `nats: publish to ${message.subject} failed: ${firstLine(e)}`,
            { cause: e },
          );
        }
        attempt++;
        if (attempt === 1 || attempt % 10 === 0) {
          this.#log.warn("publish retry", {
            subject: message.subject,
            attempt,
            error: firstLine(e),
          });
        }
        await delay(Math.min(50 * attempt, 1000));
        continue;
      }
      if (!pa.duplicate) this.#metrics.publishedFamily(family);
      return { stream: pa.stream, position: String(pa.seq), duplicate: pa.duplicate };
    }
  }

  publishBatch(messages: readonly OutgoingMessage[]): Promise<PublishAck[]> {
    return Promise.all(messages.map((m) => this.publish(m)));
  }

  subscribe(pattern: string, group: string, options: SubscribeOptions = {}): Subscription {
    this.#ready();
    const family = familyOf(pattern);
    const durable = durableName(group);
    const ackWaitMs = options.ackWaitMs ?? this.#o.ackWaitMs;
    const maxDeliver = options.maxDeliver ?? this.#o.maxDeliver;
    const batch = options.batch ?? this.#o.batch;
    const worker = options.worker ?? group;
    const metrics = this.#metrics.consumer(pattern, group);
    const start = async (): Promise<ConsumerMessages> => {
      const { js, jsm } = this.#ready();
      const stream = await this.ensureStream(family);
      await this.#ensureDurable(jsm, stream, {
        durable_name: durable,
        filter_subject: pattern,
        ack_policy: AckPolicy.Explicit,
        ack_wait: nanos(ackWaitMs),
        max_deliver: maxDeliver + 1,
        deliver_policy: DeliverPolicy.All,
        max_ack_pending: Math.max(1024, batch * 8),
      });
      const consumer = await js.consumers.get(stream, durable);
      return await consumer.consume({ max_messages: batch, expires: PULL_EXPIRES_MS });
    };
    const wrap = async (m: JsMsg): Promise<Delivery | undefined> => {
      const count = m.info.deliveryCount;
      const publishedAtMs = Math.floor(m.info.timestampNanos / 1e6);
      if (count > maxDeliver) {
        try {
          await this.#deadLetter(
            m,
            count - 1,
            `max_deliver: gave up after ${count - 1} deliveries`,
            worker,
          );
          m.ack();
        } catch (e) {
          this.#log.error("dead letter failed; message will be redelivered", {
            subject: m.subject,
            error: firstLine(e),
          });
          m.nak(this.#o.nakDelayMs);
        }
        return undefined;
      }
      metrics.consumed(publishedAtMs, count);
      return new NatsDelivery(this, m, publishedAtMs, worker, true);
    };
    const discard = (m: JsMsg) => m.nak(0);
    const sub = new NatsSubscription(this, start, wrap, discard, this.#log.child({ group }));
    this.#subs.add(sub);
    return sub;
  }

  async #ensureDurable(
    jsm: JetStreamManager,
    stream: string,
    config: Partial<ConsumerConfig> & { durable_name: string },
  ): Promise<void> {
    try {
      const info = await jsm.consumers.info(stream, config.durable_name).catch((e) => {
        if (isNotFound(e)) return undefined;
        throw e;
      });
      if (!info) {
        await jsm.consumers.add(stream, config).catch(async (e) => {
          // a competing replica created it first
          const again = await jsm.consumers.info(stream, config.durable_name).catch(() =>
            undefined
          );
          if (!again) throw e;
        });
        return;
      }
      const c = info.config;
      if (c.filter_subject !== config.filter_subject) {
        throw new ConfigError(
          `nats: durable "${config.durable_name}" on stream "${stream}" filters "${c.filter_subject}", expected "${config.filter_subject}" (delete the consumer or use another group name)`,
        );
      }
      if (
        c.ack_wait !== config.ack_wait || c.max_deliver !== config.max_deliver ||
        c.max_ack_pending !== config.max_ack_pending
      ) {
        await jsm.consumers.update(stream, config.durable_name, {
          ack_wait: config.ack_wait,
          max_deliver: config.max_deliver,
          max_ack_pending: config.max_ack_pending,
        });
      }
    } catch (e) {
      if (e instanceof AugurError) throw e;
      throw new ConnectionError(
        `nats: cannot create durable "${config.durable_name}" on "${stream}": ${firstLine(e)}`,
        { cause: e },
      );
    }
  }

  read(subject: string, options: ReadOptions): Subscription {
    this.#ready();
    const family = familyOf(subject);
    const batch = options.batch ?? this.#o.batch;
    const worker = options.worker ?? "reader";
    const metrics = this.#metrics.consumer(subject, worker);
    const from = options.from;
    const ordered: Partial<OrderedConsumerOptions> = { filter_subjects: subject };
    if (from.kind === "first") ordered.deliver_policy = DeliverPolicy.All;
    else if (from.kind === "new") ordered.deliver_policy = DeliverPolicy.New;
    else {
      const position = Number(from.position);
      if (!Number.isInteger(position) || position < 0) {
        throw new TypeError(
          `nats bus read: expected a non-negative integer position, received "${from.position}"`,
        );
      }
      ordered.deliver_policy = DeliverPolicy.StartSequence;
      ordered.opt_start_seq = position + 1;
    }
    const start = async (): Promise<ConsumerMessages> => {
      const { js } = this.#ready();
      const stream = await this.ensureStream(family);
      try {
        const consumer = await js.consumers.get(stream, ordered);
        return await consumer.consume({ max_messages: batch, expires: PULL_EXPIRES_MS });
      } catch (e) {
        throw new ConnectionError(
          `nats: cannot open an ordered reader on "${subject}": ${firstLine(e)}`,
          { cause: e },
        );
      }
    };
    const wrap = (m: JsMsg): Promise<Delivery | undefined> => {
      const publishedAtMs = Math.floor(m.info.timestampNanos / 1e6);
      metrics.consumed(publishedAtMs, 1);
      return Promise.resolve(new NatsDelivery(this, m, publishedAtMs, worker, false));
    };
    const sub = new NatsSubscription(
      this,
      start,
      wrap,
      () => {},
      this.#log.child({ reader: subject }),
    );
    this.#subs.add(sub);
    return sub;
  }

  async pending(pattern: string, group: string): Promise<number | undefined> {
    const { jsm } = this.#ready();
    const stream = await this.ensureStream(familyOf(pattern));
    try {
      const info = await jsm.consumers.info(stream, durableName(group));
      const count = info.num_pending + info.num_ack_pending;
      this.#metrics.pending(pattern, group, count);
      return count;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw new ConnectionError(`nats: consumer info failed: ${firstLine(e)}`, { cause: e });
    }
  }

  /** @internal */
  forget(sub: NatsSubscription): void {
    this.#subs.delete(sub);
  }

  /** @internal */
  get nakDelayMs(): number {
    return this.#o.nakDelayMs;
  }

  /** @internal Publish the dead letter of `m` (the caller acks afterwards). */
  async deadLetter(m: JsMsg, deliveryCount: number, reason: string, worker: string): Promise<void> {
    await this.#deadLetter(m, deliveryCount, reason, worker);
  }

  async #deadLetter(
    m: JsMsg,
    deliveryCount: number,
    reason: string,
    worker: string,
  ): Promise<void> {
    await sendDeadLetter((msg) => this.publish(msg), {
      subject: m.subject,
      payload: m.data,
      headers: fromNatsHeaders(m.headers),
      deliveryCount,
      position: String(m.seq),
    }, { reason, worker, prefix: this.#o.prefix, metrics: this.#metrics, logger: this.#log });
  }
}

class NatsDelivery implements Delivery {
  #headers: Headers | undefined;
  #settled = false;

  constructor(
    readonly bus: NatsBus,
    readonly msg: JsMsg,
    readonly publishedAtMs: number,
    readonly worker: string,
    readonly acked: boolean,
  ) {}

  get subject(): string {
    return this.msg.subject;
  }
  get payload(): Uint8Array {
    return this.msg.data;
  }
  get headers(): Headers {
    return this.#headers ??= fromNatsHeaders(this.msg.headers);
  }
  get stream(): string {
    return this.msg.info.stream;
  }
  get position(): string {
    return String(this.msg.seq);
  }
  get deliveryCount(): number {
    return this.acked ? this.msg.info.deliveryCount : 1;
  }

  ack(): Promise<void> {
    if (this.acked && !this.#settled) {
      this.#settled = true;
      this.msg.ack();
    }
    return Promise.resolve();
  }

  nak(delayMs?: number): Promise<void> {
    if (this.acked && !this.#settled) {
      this.#settled = true;
      this.msg.nak(delayMs ?? this.bus.nakDelayMs);
    }
    return Promise.resolve();
  }

  working(): Promise<void> {
    if (this.acked && !this.#settled) this.msg.working();
    return Promise.resolve();
  }

  async deadLetter(reason: string): Promise<void> {
    if (this.#settled) return;
    await this.bus.deadLetter(this.msg, this.deliveryCount, reason, this.worker);
    await this.ack();
  }
}

class NatsSubscription implements Subscription, AsyncIterator<Delivery> {
  #stopped = false;
  /** Resolves on stop(): a pull stuck across a server restart must not outlive stop(). */
  readonly #stopping = Promise.withResolvers<"stopped">();
  #messages: ConsumerMessages | undefined;
  #iterator: AsyncIterator<JsMsg> | undefined;
  #starting: Promise<void> | undefined;
  #busy = false;

  constructor(
    readonly bus: NatsBus,
    readonly start: () => Promise<ConsumerMessages>,
    readonly wrap: (m: JsMsg) => Promise<Delivery | undefined>,
    readonly discard: (m: JsMsg) => void,
    readonly log: Logger,
  ) {
    // start eagerly so the durable exists (and receives) before the first next()
    this.#starting = this.#open();
    this.#starting.catch(() => {});
  }

  async #open(): Promise<void> {
    const messages = await this.start();
    if (this.#stopped) {
      await messages.close();
      return;
    }
    this.#messages = messages;
    this.#iterator = messages[Symbol.asyncIterator]();
    (async () => {
      for await (const s of messages.status()) {
        if (
          s.type === "heartbeats_missed" || s.type === "consumer_not_found" ||
          s.type === "consumer_deleted" || s.type === "stream_not_found"
        ) {
          this.log.warn("consumer status", { status: s.type });
        } else if (s.type === "ordered_consumer_recreated") {
          this.log.info("ordered reader recreated", { name: s.name });
        }
      }
    })().catch(() => {});
  }

  [Symbol.asyncIterator](): AsyncIterator<Delivery> {
    return this;
  }

  async next(): Promise<IteratorResult<Delivery>> {
    if (this.#stopped) return DONE;
    if (!this.#iterator) await Promise.race([this.#starting, this.#stopping.promise]);
    const iterator = this.#iterator;
    if (!iterator || this.#stopped) return DONE;
    this.#busy = true;
    try {
      while (true) {
        const pending = iterator.next();
        const r = await Promise.race([pending, this.#stopping.promise]);
        if (r === "stopped") {
          // Stopped while the pull hung (e.g. an ordered consumer being recreated after a
          // server restart): release whatever it yields later.
          pending.then((late) => late.done || this.discard(late.value), () => {});
          return DONE;
        }
        if (r.done) return DONE;
        if (this.#stopped) {
          this.discard(r.value);
          continue;
        }
        const d = await this.wrap(r.value);
        if (d) return { done: false, value: d };
      }
    } finally {
      this.#busy = false;
    }
  }

  async return(): Promise<IteratorResult<Delivery>> {
    await this.stop();
    return DONE;
  }

  /**
   * Stop pulling. Messages already buffered but not handed out are released (nak'd without
   * delay on a durable, so a peer gets them now instead of after the ack wait).
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#stopping.resolve("stopped");
    this.bus.forget(this);
    await within(this.#starting?.catch(() => {}) ?? Promise.resolve(), 2000);
    const messages = this.#messages;
    const iterator = this.#iterator;
    if (!messages || !iterator) return;
    const closed = messages.close().catch(() => {});
    if (!this.#busy) {
      (async () => {
        while (true) {
          const r = await iterator.next();
          if (r.done) return;
          this.discard(r.value);
        }
      })().catch(() => {});
    }
    await within(closed, 2000);
  }
}
function resolveOptions(o: NatsBusOptions): Resolved {
  const servers = [...(o.servers ?? ["nats://localhost:4222"])];
  if (servers.length === 0) {
    throw new ConfigError("nats: expected at least one server URL, received []");
  }
  const positive = (name: string, v: number) => {
    if (!(Number.isFinite(v) && v > 0)) {
      throw new ConfigError(`nats: expected ${name} > 0, received ${v}`);
    }
    return v;
  };
  return {
    servers,
    credentialsFile: o.credentialsFile || undefined,
    streamName: o.streamName ?? "augur",
    replicas: positive("replicas", o.replicas ?? 1),
    prefix: o.subjectPrefix ?? "augur",
    ackWaitMs: positive("ackWaitMs", o.ackWaitMs ?? 30_000),
    maxDeliver: positive("maxDeliver", o.maxDeliver ?? 5),
    duplicateWindowMs: positive("duplicateWindowMs", o.duplicateWindowMs ?? 120_000),
    batch: positive("batch", o.batch ?? 256),
    retentionHours: o.retentionHours ?? 24,
    nakDelayMs: o.nakDelayMs ?? 1000,
    publishTimeoutMs: positive("publishTimeoutMs", o.publishTimeoutMs ?? 60_000),
    connectTimeoutMs: positive("connectTimeoutMs", o.connectTimeoutMs ?? 5000),
    name: o.name ?? `augur-${safeHostname()}`,
  };
}

function safeHostname(): string {
  try {
    return hostname();
  } catch {
    return "unknown";
  }
}

/** A JetStream durable name from a group name (`[A-Za-z0-9_-]`, other bytes → `_`). */
function durableName(group: string): string {
  const name = group.replace(/[^A-Za-z0-9_-]/g, "_");
  if (!name) throw new TypeError(`nats bus: expected a non-empty group name, received "${group}"`);
  return name;
}

function toNatsHeaders(h: Headers): MsgHdrs {
  const out = natsHeaders();
  for (const key in h) {
    const value = h[key];
    // The client trims values silently; refuse instead of delivering a changed header.
    if (key === "" || value !== value.trim()) {
      throw new TypeError(
        `nats bus: header ${JSON.stringify(key)} cannot travel over NATS ` +
          `(expected a non-empty name and a value without leading/trailing whitespace)`,
      );
    }
    out.set(key, value);
  }
  return out;
}

function fromNatsHeaders(h: MsgHdrs | undefined): Headers {
  const out: Record<string, string> = {};
  if (!h) return out;
  for (const key of h.keys()) {
    if (key === MSG_ID) continue;
    out[key] = h.get(key);
  }
  return out;
}

function isNotFound(e: unknown): boolean {
  return e instanceof JetStreamApiError &&
    (e.code === 10014 || e.code === 10059 || e.status === 404);
}

function isStreamMissing(e: unknown): boolean {
  const text = String((e as Error)?.message ?? e);
  return /no stream matches subject|stream not found/i.test(text);
}

function isRetriable(e: unknown): boolean {
  if (e instanceof JetStreamApiError) return e.status === 503 || e.code === 10008;
  const name = (e as Error)?.name ?? "";
  const text = String((e as Error)?.message ?? e);
  return /Timeout|NoResponders|Request|Connection|Disconnect/i.test(name) ||
    /timeout|no responders|disconnect|connection|reconnect|503/i.test(text);
}

function firstLine(e: unknown): string {
  const text = e instanceof Error ? e.message || e.name : String(e);
  return text.split("\n", 1)[0].slice(0, 300);
}

/** Wait for `p`, at most `ms` (the timer is cleared either way). */
async function within(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([p, new Promise((resolve) => timer = setTimeout(resolve, ms))]);
  } finally {
    clearTimeout(timer);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
