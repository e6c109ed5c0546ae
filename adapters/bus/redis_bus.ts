/**
 * The Redis Streams backend of the {@linkcode EventBus} (DESIGN §10).
 *
 * - One stream per (family, partition) — `augur:snapshots:07` — or per family when the subject
 *   has no partition token (`augur:signals`); entries hold the full subject (`s`), the payload
 *   bytes (`p`) and one field per header (`h:<name>`). See `redis_keys.ts`.
 * - `publish` is an XADD with `MAXLEN ~ streamMaxLength`, resolved on the server's reply;
 *   with the durability check (`appendonly yes`, `appendfsync always`, `noeviction`) a reply
 *   means the entry is on disk. `publishBatch` pipelines the XADDs in one round trip.
 * - `subscribe` is a consumer group (`<groupPrefix>:<group>`, created idempotently with
 *   MKSTREAM from id 0) read with XREADGROUP … BLOCK on a dedicated connection. `ack` = XACK,
 *   `working` = XCLAIM to self with JUSTID (both coalesced: the calls made before the next I/O
 *   poll share one command per stream), `nak` = re-claimed to self after the delay. Every
 *   live consumer periodically runs XAUTOCLAIM for entries idle longer than `claimIdleMs`
 *   (or the subscription's `ackWaitMs`), so a crashed replica's entries are not stuck; each
 *   reclaim is counted (`augur_bus_reclaimed_total`) and logged, and an entry still in the
 *   reclaiming consumer's hands is not delivered twice. Entries deleted (trimmed) before
 *   their ack are counted in `augur_bus_dropped_total` and logged. The delivery count comes
 *   from the pending entries list; the last allowed delivery (`maxDeliver`) is dead-lettered
 *   instead of redelivered.
 * - `read` is a private XREAD … BLOCK reader from an entry id on its own connection.
 * - No Redis Cluster.
 *
 * @example
 * ```ts
 * import { RedisBus } from "./redis_bus.ts";
 * const bus = new RedisBus({ url: "redis://127.0.0.1:6379" });
 * await bus.connect();
 * await bus.publish({ subject: "augur.signals", payload: new TextEncoder().encode("{}") });
 * const sub = bus.subscribe("augur.signals", "context");
 * for await (const delivery of sub) {
 *   await delivery.ack();
 *   break;
 * }
 * await bus.close();
 * ```
 * @module
 */

import { Buffer } from "node:buffer";
import { hostname } from "node:os";
import { setImmediate } from "node:timers";
import { Redis, type RedisOptions } from "ioredis";
import { AugurError, ConfigError, ConnectionError } from "../../config/errors.ts";
import { createLogger, type Logger, registerSecret } from "../observability/logger.ts";
import type { MetricsRegistry } from "../observability/metrics.ts";
import { BusMetrics } from "./bus_metrics.ts";
import { sendDeadLetter } from "./dead_letter.ts";
import { streamKeyOf, streamKeysOf, subjectMatcher } from "./redis_keys.ts";
import type {
  Delivery,
  EventBus,
  Headers,
  OutgoingMessage,
  PublishAck,
  ReadOptions,
  SubscribeOptions,
  Subscription,
} from "./types.ts";

/** Options of {@linkcode RedisBus} (mapped from `bus.toml` `[redis]` by the factory). */
export interface RedisBusOptions {
  /** `redis://[user:password@]host:port[/db]` (resolved from the env var `[redis].url_env`). */
  readonly url: string;
  /** Approximate `MAXLEN ~` of every stream (default 100 000). */
  readonly streamMaxLength?: number;
  /** Consumer group names are `<groupPrefix>:<group>` (default `"augur"`). */
  readonly groupPrefix?: string;
  /** XREADGROUP / XREAD BLOCK time in ms (default 1000). */
  readonly blockMs?: number;
  /** Pending entries idle longer than this are reclaimed by a live consumer (default 30 000). */
  readonly claimIdleMs?: number;
  /** Accept a Redis that may lose acknowledged writes (default false). */
  readonly allowVolatile?: boolean;
  /** Entries fetched per XREADGROUP / XREAD (default 256). */
  readonly batch?: number;
  /** Partitions P of the deployment (default 60). */
  readonly partitions?: number;
  /** Subject prefix (default `"augur"`); dead letters go to `<prefix>.ops.dlq`. */
  readonly subjectPrefix?: string;
  /** Deliveries before a message is dead-lettered (default 5). */
  readonly maxDeliver?: number;
  /** Redelivery delay of `nak()` without an argument, in ms (default 1000). */
  readonly nakDelayMs?: number;
  /** Bound on the initial connection, in ms (default 5000). */
  readonly connectTimeoutMs?: number;
  /** Consumer name prefix inside groups (default `<hostname>-<pid>`). */
  readonly consumerName?: string;
  /** Metrics registry (default: the process-wide registry). */
  readonly registry?: MetricsRegistry;
  /** Logger (default: a `bus` component logger). */
  readonly logger?: Logger;
}

interface Resolved {
  readonly url: string;
  readonly safeUrl: string;
  readonly streamMaxLength: number;
  readonly groupPrefix: string;
  readonly blockMs: number;
  readonly claimIdleMs: number;
  readonly allowVolatile: boolean;
  readonly batch: number;
  readonly partitions: number;
  readonly subjectPrefix: string;
  readonly maxDeliver: number;
  readonly nakDelayMs: number;
  readonly connectTimeoutMs: number;
  readonly consumerName: string;
}

/** One stream entry, decoded. */
interface Entry {
  readonly stream: string;
  readonly id: string;
  readonly subject: string;
  readonly payload: Uint8Array;
  readonly headers: Headers;
}

type Reply = unknown;

const MAXLEN = "MAXLEN";

/**
 * The URL without credentials, for logs and errors.
 *
 * @example
 * ```ts
 * import { safeRedisUrl } from "./redis_bus.ts";
 * safeRedisUrl("redis://:secret@db:6379/0"); // "redis://db:6379/0"
 * ```
 */
export function safeRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = "";
    parsed.password = "";
    return parsed.toString().replace(/\/$/, "");
  } catch {
    return "<unparsable redis url>";
  }
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v <= 0) {
    throw new ConfigError(`bus.redis.${name}: expected a positive number, received ${value}`);
  }
  return v;
}

function resolve(options: RedisBusOptions): Resolved {
  if (typeof options.url !== "string" || !/^rediss?:\/\//.test(options.url)) {
    throw new ConfigError(
      `bus.redis.url_env: expected a redis://host:port URL, received ${
        typeof options.url === "string" ? `"${safeRedisUrl(options.url)}"` : String(options.url)
      }`,
    );
  }
  try {
    const parsed = new URL(options.url);
    registerSecret(decodeURIComponent(parsed.password));
  } catch { /* reported by safeRedisUrl */ }
  return {
    url: options.url,
    safeUrl: safeRedisUrl(options.url),
    streamMaxLength: positive("stream_max_length", options.streamMaxLength, 100_000),
    groupPrefix: options.groupPrefix ?? "augur",
    blockMs: positive("block_ms", options.blockMs, 1000),
    claimIdleMs: positive("claim_idle_ms", options.claimIdleMs, 30_000),
    allowVolatile: options.allowVolatile ?? false,
    batch: positive("batch", options.batch, 256),
    partitions: positive("partitions", options.partitions, 60),
    subjectPrefix: options.subjectPrefix ?? "augur",
    maxDeliver: positive("max_deliver", options.maxDeliver, 5),
    nakDelayMs: options.nakDelayMs ?? 1000,
    connectTimeoutMs: positive("connect_timeout_ms", options.connectTimeoutMs, 5000),
    consumerName: options.consumerName ?? `${safeHostname()}-${Deno.pid}`,
  };
}

function safeHostname(): string {
  try {
    return hostname();
  } catch {
    return "augur";
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function idMs(id: string): number {
  const dash = id.indexOf("-");
  return Number(dash < 0 ? id : id.slice(0, dash));
}

function toBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return new Uint8Array(value); // copy out of the parser pool
  if (typeof value === "string") return new TextEncoder().encode(value);
  return new Uint8Array();
}

function str(value: unknown): string {
  if (typeof value === "string") return value;
  if (Buffer.isBuffer(value)) return value.toString("utf8");
  if (value instanceof Uint8Array) {
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("utf8");
  }
  return String(value);
}

/** Decode `[id, [field, value, …]]`; undefined for a deleted entry (nil fields). */
function decodeEntry(stream: string, raw: unknown): Entry | undefined {
  if (!Array.isArray(raw)) return undefined;
  const id = str(raw[0]);
  const fields = raw[1];
  if (!Array.isArray(fields)) {
    return { stream, id, subject: "", payload: new Uint8Array(), headers: {} };
  }
  let subject = "";
  let payload: Uint8Array = new Uint8Array();
  const headers: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const key = str(fields[i]);
    if (key === "s") subject = str(fields[i + 1]);
    else if (key === "p") payload = toBytes(fields[i + 1]);
    else if (key.startsWith("h:")) headers[key.slice(2)] = str(fields[i + 1]);
  }
  return { stream, id, subject, payload, headers };
}

/** Decode an XREAD / XREADGROUP reply `[[stream, [entry…]], …]`. */
function decodeRead(reply: unknown): Entry[] {
  if (!Array.isArray(reply)) return [];
  const out: Entry[] = [];
  for (const streamReply of reply) {
    if (!Array.isArray(streamReply)) continue;
    const stream = str(streamReply[0]);
    const entries = streamReply[1];
    if (!Array.isArray(entries)) continue;
    for (const raw of entries) {
      const entry = decodeEntry(stream, raw);
      if (entry) out.push(entry);
    }
  }
  return out;
}

function xaddArgs(
  key: string,
  maxLength: number,
  message: OutgoingMessage,
): (string | Buffer | number)[] {
  const payload = Buffer.from(
    message.payload.buffer,
    message.payload.byteOffset,
    message.payload.byteLength,
  );
  const args: (string | Buffer | number)[] = [
    key,
    MAXLEN,
    "~",
    maxLength,
    "*",
    "s",
    message.subject,
    "p",
    payload,
  ];
  if (message.headers) {
    for (const name in message.headers) args.push(`h:${name}`, message.headers[name]);
  }
  return args;
}

function sleep(ms: number, signal?: { stopped: boolean }): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.stopped) return resolve();
    setTimeout(resolve, ms);
  });
}

/** Wait for `promise` at most `ms` (the timer is cleared either way). */
async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([promise, new Promise((resolve) => timer = setTimeout(resolve, ms))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Most ids in one coalesced command (a bounded command keeps the server responsive). */
const MAX_IDS_PER_COMMAND = 1000;

/**
 * A per-stream id-command coalescer: the ids given before the next I/O poll go out as one
 * command per stream (and per {@linkcode MAX_IDS_PER_COMMAND}), e.g. one XACK or one
 * XCLAIM … JUSTID for a whole commit's messages instead of one round trip (and, on a durable
 * server, one disk write) each.
 */
class IdBatcher {
  #pending = new Map<string, { ids: string[]; waiters: PromiseWithResolvers<void>[] }>();
  #scheduled = false;
  constructor(private readonly send: (stream: string, ids: string[]) => Promise<unknown>) {}

  add(stream: string, id: string): Promise<void> {
    let slot = this.#pending.get(stream);
    if (!slot) {
      slot = { ids: [], waiters: [] };
      this.#pending.set(stream, slot);
    }
    slot.ids.push(id);
    const waiter = Promise.withResolvers<void>();
    slot.waiters.push(waiter);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => void this.flushNow());
    }
    return waiter.promise;
  }

  /** Send what is waiting now instead of at the next I/O poll; resolves once it was sent. */
  flushNow(): Promise<void> {
    this.#scheduled = false;
    const batches = this.#pending;
    if (batches.size === 0) return Promise.resolve();
    this.#pending = new Map();
    const sends: Promise<unknown>[] = [];
    for (const [stream, slot] of batches) {
      for (let i = 0; i < slot.ids.length; i += MAX_IDS_PER_COMMAND) {
        const ids = slot.ids.slice(i, i + MAX_IDS_PER_COMMAND);
        const waiters = slot.waiters.slice(i, i + MAX_IDS_PER_COMMAND);
        let sent: Promise<unknown>;
        try {
          sent = this.send(stream, ids);
        } catch (error) {
          sent = Promise.reject(error); // e.g. not connected: fail the callers, not the loop
        }
        sends.push(sent.then(
          () => waiters.forEach((w) => w.resolve()),
          (error) => waiters.forEach((w) => w.reject(error)),
        ));
      }
    }
    return Promise.all(sends).then(() => {});
  }
}

/**
 * The Redis Streams event bus.
 *
 * @example
 * ```ts
 * import { RedisBus } from "./redis_bus.ts";
 * const bus = new RedisBus({ url: "redis://127.0.0.1:6379", allowVolatile: true });
 * await bus.connect();
 * const ack = await bus.publish({ subject: "augur.snapshots.07.polymarket.m1", payload: new Uint8Array([1]) });
 * ack.stream; // "augur:snapshots:07"
 * await bus.close();
 * ```
 */
export class RedisBus implements EventBus {
  readonly kind = "redis" as const;
  readonly #o: Resolved;
  readonly #metrics: BusMetrics;
  readonly #log: Logger;
  #cmd: Redis | undefined;
  #connected = false;
  #closed = false;
  readonly #subscriptions = new Set<ReaderBase>();
  readonly #extra = new Set<Redis>();
  #lastErrorLogAt = 0;
  readonly #keys = new Map<string, string>();

  constructor(options: RedisBusOptions) {
    this.#o = resolve(options);
    this.#metrics = new BusMetrics({ registry: options.registry });
    this.#log = (options.logger ?? createLogger({ component: "bus" })).child({ bus: "redis" });
  }

  /** The resolved options (tests and the factory's diagnostics). */
  get options(): Readonly<Resolved> {
    return this.#o;
  }

  /** Open a connection with this bus's settings. `initial` connections never retry. */
  newConnection(name: string, extra: Partial<RedisOptions> = {}): Redis {
    const conn = new Redis(this.#o.url, {
      lazyConnect: true,
      connectionName: `augur-${name}`,
      connectTimeout: this.#o.connectTimeoutMs,
      retryStrategy: (times) =>
        this.#connected && !this.#closed ? Math.min(50 * times, 1000) : null,
      ...extra,
    });
    conn.on("error", (error: Error) => {
      const now = Date.now();
      if (this.#closed) return;
      if (now - this.#lastErrorLogAt > 5000) {
        this.#lastErrorLogAt = now;
        this.#log.warn("redis connection error", { connection: name, error: errorText(error) });
      }
    });
    return conn;
  }

  #command(): Redis {
    if (!this.#cmd || !this.#connected) {
      throw new AugurError("redis bus: not connected (call connect() first)");
    }
    return this.#cmd;
  }

  async connect(): Promise<void> {
    if (this.#connected) return;
    if (this.#closed) throw new AugurError("redis bus: closed");
    const conn = this.newConnection("cmd", { enableAutoPipelining: true });
    let lastError: unknown;
    conn.on("error", (error: Error) => lastError = error);
    try {
      await conn.connect();
      await conn.ping();
    } catch (error) {
      conn.disconnect();
      const cause = lastError ?? error;
      throw new ConnectionError(
        `redis bus: cannot connect to ${this.#o.safeUrl}: ${errorText(cause)}`,
        { cause },
      );
    }
    try {
      await this.#checkServer(conn);
    } catch (error) {
      conn.disconnect();
      throw error;
    }
    this.#cmd = conn;
    this.#connected = true;
    this.#log.info("connected", { url: this.#o.safeUrl });
  }

  async #checkServer(conn: Redis): Promise<void> {
    const info = str(await conn.info("cluster").catch(() => ""));
    if (/cluster_enabled:1/.test(info)) {
      throw new ConfigError(
        `bus.backend.kind: redis at ${this.#o.safeUrl} runs in cluster mode; augur supports a single Redis (no Redis Cluster)`,
      );
    }
    const settings: Record<string, string> = {};
    try {
      for (const name of ["appendonly", "appendfsync", "maxmemory-policy"]) {
        const reply = (await conn.call("CONFIG", "GET", name)) as unknown[];
        settings[name] = str(reply?.[1] ?? "");
      }
    } catch (error) {
      if (this.#o.allowVolatile) return;
      throw new ConfigError(
        `bus.redis.allow_volatile: cannot verify that redis at ${this.#o.safeUrl} is durable (CONFIG GET failed: ${
          errorText(error)
        }); set allow_volatile = true to accept the risk`,
      );
    }
    const problems: string[] = [];
    if (settings.appendonly !== "yes") problems.push(`appendonly=${settings.appendonly}`);
    if (settings.appendfsync !== "always") problems.push(`appendfsync=${settings.appendfsync}`);
    if (settings["maxmemory-policy"] !== "noeviction") {
      problems.push(`maxmemory-policy=${settings["maxmemory-policy"]}`);
    }
    if (problems.length === 0) return;
    if (this.#o.allowVolatile) {
      this.#log.warn("redis is volatile; acknowledged messages may be lost", {
        url: this.#o.safeUrl,
        settings: problems.join(", "),
      });
      return;
    }
    throw new ConfigError(
      `bus.redis.allow_volatile: redis at ${this.#o.safeUrl} may lose acknowledged messages (${
        problems.join(", ")
      }); augur requires appendonly yes, appendfsync always, maxmemory-policy noeviction — fix the server or set allow_volatile = true`,
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    const subs = [...this.#subscriptions];
    await Promise.allSettled(subs.map((s) => s.stop()));
    this.#closed = true;
    for (const conn of this.#extra) conn.disconnect();
    this.#extra.clear();
    const cmd = this.#cmd;
    this.#cmd = undefined;
    this.#connected = false;
    if (cmd) {
      await within(cmd.quit().catch(() => {}), 1000);
      cmd.disconnect();
    }
  }

  /** The stream key of a subject (`augur.snapshots.07.x` → `augur:snapshots:07`). */
  streamOf(subject: string): string {
    let key = this.#keys.get(subject);
    if (key === undefined) {
      key = streamKeyOf(subject, this.#o.partitions);
      if (this.#keys.size >= 10_000) this.#keys.clear();
      this.#keys.set(subject, key);
    }
    return key;
  }

  async publish(message: OutgoingMessage): Promise<PublishAck> {
    const key = this.streamOf(message.subject);
    const id = str(
      await this.#command().call("XADD", ...xaddArgs(key, this.#o.streamMaxLength, message)),
    );
    this.#metrics.published(message.subject);
    return { stream: key, position: id, duplicate: false };
  }

  async publishBatch(messages: readonly OutgoingMessage[]): Promise<PublishAck[]> {
    if (messages.length === 0) return [];
    const pipeline = this.#command().pipeline();
    const keys = messages.map((m) => this.streamOf(m.subject));
    for (let i = 0; i < messages.length; i++) {
      pipeline.call("XADD", ...xaddArgs(keys[i], this.#o.streamMaxLength, messages[i]));
    }
    const results = await pipeline.exec();
    if (!results) throw new ConnectionError(`redis bus: pipeline to ${this.#o.safeUrl} aborted`);
    const acks: PublishAck[] = [];
    let failed: unknown;
    let lastSubject = "";
    let run = 0; // consecutive successes on lastSubject, counted in one metric update
    for (let i = 0; i < results.length; i++) {
      const [error, id] = results[i];
      if (error) {
        failed ??= error;
        continue;
      }
      const subject = messages[i].subject;
      if (subject === lastSubject) run++;
      else {
        if (run > 0) this.#metrics.published(lastSubject, run);
        lastSubject = subject;
        run = 1;
      }
      acks.push({ stream: keys[i], position: str(id), duplicate: false });
    }
    if (run > 0) this.#metrics.published(lastSubject, run);
    if (failed) {
      throw new ConnectionError(
        `redis bus: ${results.length - acks.length} of ${messages.length} publishes failed: ${
          errorText(failed)
        }`,
        { cause: failed },
      );
    }
    return acks;
  }

  /** Consumer group name of `group` on the server. */
  groupName(group: string): string {
    return `${this.#o.groupPrefix}:${group}`;
  }

  subscribe(pattern: string, group: string, options: SubscribeOptions = {}): Subscription {
    const streams = streamKeysOf(pattern, this.#o.partitions);
    const sub: ReaderBase = new GroupSubscription(this.#internals(), {
      pattern,
      group,
      streams,
      ackWaitMs: options.ackWaitMs ?? this.#o.claimIdleMs,
      maxDeliver: options.maxDeliver ?? this.#o.maxDeliver,
      batch: options.batch ?? this.#o.batch,
      worker: options.worker ?? group,
    });
    this.#track(sub);
    return sub;
  }

  read(subject: string, options: ReadOptions): Subscription {
    const streams = streamKeysOf(subject, this.#o.partitions);
    const sub: ReaderBase = new StreamReader(this.#internals(), {
      pattern: subject,
      streams,
      from: options.from,
      batch: options.batch ?? this.#o.batch,
      worker: options.worker ?? "reader",
    });
    this.#track(sub);
    return sub;
  }

  #track(sub: ReaderBase): void {
    if (this.#closed) throw new AugurError("redis bus: closed");
    this.#command();
    this.#subscriptions.add(sub);
    sub.onStop = () => this.#subscriptions.delete(sub);
  }

  async pending(pattern: string, group: string): Promise<number | undefined> {
    const streams = streamKeysOf(pattern, this.#o.partitions);
    const name = this.groupName(group);
    const pipeline = this.#command().pipeline();
    for (const key of streams) {
      pipeline.call("XPENDING", key, name);
      pipeline.call("XINFO", "GROUPS", key);
    }
    const results = (await pipeline.exec()) ?? [];
    let total = 0;
    let known = false;
    for (let i = 0; i < streams.length; i++) {
      const [pendingError, summary] = results[2 * i] ?? [];
      const [infoError, groups] = results[2 * i + 1] ?? [];
      if (pendingError || !Array.isArray(summary)) continue;
      known = true;
      total += Number(summary[0] ?? 0);
      if (!infoError && Array.isArray(groups)) {
        for (const g of groups) {
          if (!Array.isArray(g)) continue;
          const fields: Record<string, unknown> = {};
          for (let j = 0; j + 1 < g.length; j += 2) fields[str(g[j])] = g[j + 1];
          if (str(fields.name) === name && typeof fields.lag === "number") total += fields.lag;
        }
      }
    }
    if (!known) return undefined;
    this.#metrics.pending(pattern, group, total);
    return total;
  }

  #internals(): Internals {
    return {
      options: this.#o,
      metrics: this.#metrics,
      log: this.#log,
      command: () => this.#command(),
      connection: (name, extra) => {
        const conn = this.newConnection(name, {
          lazyConnect: false,
          maxRetriesPerRequest: null,
          ...extra,
        });
        this.#extra.add(conn);
        return conn;
      },
      release: (conn) => {
        this.#extra.delete(conn);
        conn.disconnect();
      },
      publish: (message) => this.publish(message),
      groupName: (group) => this.groupName(group),
    };
  }
}

/** What a subscription needs from its bus. */
interface Internals {
  readonly options: Resolved;
  readonly metrics: BusMetrics;
  readonly log: Logger;
  command(): Redis;
  connection(name: string, extra?: Partial<RedisOptions>): Redis;
  release(conn: Redis): void;
  publish(message: OutgoingMessage): Promise<PublishAck>;
  groupName(group: string): string;
}

let subscriptionCounter = 0;

abstract class ReaderBase implements Subscription {
  onStop: () => void = () => {};
  protected readonly state = { stopped: false };
  protected conn: Redis | undefined;
  #iterated = false;
  #done: Promise<void> | undefined;
  #resolveDone: (() => void) | undefined;

  constructor(protected readonly bus: Internals, protected readonly name: string) {}

  [Symbol.asyncIterator](): AsyncIterator<Delivery> {
    if (this.#iterated) throw new AugurError(`redis bus: ${this.name} is already being iterated`);
    this.#iterated = true;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#done = promise;
    this.#resolveDone = resolve;
    const generator = this.run();
    const finish = () => {
      this.#resolveDone?.();
      return this.#cleanup();
    };
    return {
      next: async () => {
        try {
          const result = await generator.next();
          if (result.done) await finish();
          return result;
        } catch (error) {
          await finish();
          throw error;
        }
      },
      return: async () => {
        this.state.stopped = true;
        this.conn?.disconnect();
        const result = await generator.return(undefined);
        await finish();
        return result;
      },
    };
  }

  protected abstract run(): AsyncGenerator<Delivery, void, undefined>;

  /** Called once after the loop ended (release pending work, close the connection). */
  protected abstract finalize(): Promise<void>;

  #cleaned: Promise<void> | undefined;
  #cleanup(): Promise<void> {
    this.#cleaned ??= this.finalize().catch((error) =>
      this.bus.log.warn("subscription cleanup failed", { name: this.name, error: errorText(error) })
    ).finally(() => {
      if (this.conn) this.bus.release(this.conn);
      this.onStop();
    });
    return this.#cleaned;
  }

  async stop(): Promise<void> {
    this.state.stopped = true;
    // Interrupt a blocked XREAD(GROUP): the loop sees `stopped` and ends.
    this.conn?.disconnect();
    if (this.#iterated && !this.#cleaned) {
      await within(this.#done!, this.bus.options.blockMs + 2000);
    }
    await this.#cleanup();
  }
}

interface GroupOptions {
  readonly pattern: string;
  readonly group: string;
  readonly streams: readonly string[];
  readonly ackWaitMs: number;
  readonly maxDeliver: number;
  readonly batch: number;
  readonly worker: string;
}

interface Held {
  readonly entry: Entry;
  readonly deliveryCount: number;
  /** When it was fetched (or reclaimed, or its nak delay ended): its idle time on the server. */
  readonly fetchedAt: number;
}

/** A consumer-group subscription (competing consumers). */
class GroupSubscription extends ReaderBase {
  readonly #g: GroupOptions;
  readonly #group: string;
  readonly #consumer: string;
  readonly #match: (subject: string) => boolean;
  /** XACKs of the subscription's deliveries, coalesced per stream. */
  readonly #acker: IdBatcher;
  /** `working()` keep-alives (XCLAIM to self, JUSTID), coalesced per stream. */
  readonly #keeper: IdBatcher;
  /** Handed out, not yet settled: `stream id`. */
  readonly #inFlight = new Set<string>();
  /** Fetched or reclaimed, not yet handed out. */
  #queue: Held[] = [];
  /** Nak'd, waiting for their delay. */
  #delayed: { dueAt: number; nakAt: number; entry: Entry; deliveryCount: number }[] = [];
  #nextClaimAt = 0;
  #claimCursor = new Map<string, string>();

  constructor(bus: Internals, options: GroupOptions) {
    const consumer = `${bus.options.consumerName}-${++subscriptionCounter}-${
      Math.floor(Math.random() * 1e9).toString(36)
    }`;
    super(bus, `subscription ${options.pattern} (${options.group})`);
    this.#g = options;
    this.#group = bus.groupName(options.group);
    this.#consumer = consumer;
    this.#match = subjectMatcher(options.pattern);
    const group = this.#group;
    this.#acker = new IdBatcher((stream, ids) => bus.command().call("XACK", stream, group, ...ids));
    this.#keeper = new IdBatcher((stream, ids) =>
      bus.command().call("XCLAIM", stream, group, consumer, "0", ...ids, "JUSTID")
    );
  }

  /** The claim cadence: often enough that an idle entry waits at most ~1.5 × ackWait. */
  get #claimIntervalMs(): number {
    return Math.max(50, Math.min(this.#g.ackWaitMs / 2, 10_000));
  }

  async #setup(): Promise<void> {
    await this.#createGroups();
    this.conn = this.bus.connection(`group-${this.#g.group}`);
  }

  /** XGROUP CREATE … MKSTREAM on every stream, ignoring BUSYGROUP (idempotent). */
  async #createGroups(): Promise<void> {
    const cmd = this.bus.command();
    const pipeline = cmd.pipeline();
    for (const key of this.#g.streams) {
      pipeline.call("XGROUP", "CREATE", key, this.#group, "0", "MKSTREAM");
    }
    const results = (await pipeline.exec()) ?? [];
    for (const [error] of results) {
      if (error && !/BUSYGROUP/.test(errorText(error))) throw error;
    }
  }

  protected async *run(): AsyncGenerator<Delivery, void, undefined> {
    const o = this.bus.options;
    let backoff = 50;
    while (!this.state.stopped) {
      try {
        await this.#setup();
        break;
      } catch (error) {
        if (this.state.stopped) return;
        this.bus.log.warn("consumer group setup failed; retrying", {
          pattern: this.#g.pattern,
          group: this.#group,
          error: errorText(error),
        });
        await sleep(backoff, this.state);
        backoff = Math.min(backoff * 2, 2000);
      }
    }
    backoff = 50;
    const streamIds = this.#g.streams.map(() => ">");
    while (!this.state.stopped) {
      try {
        if (this.#queue.length === 0) {
          const now = Date.now();
          if (this.#delayed.length > 0) await this.#redeliverDue(now);
          if (this.#queue.length === 0 && now >= this.#nextClaimAt) {
            this.#nextClaimAt = now + this.#claimIntervalMs;
            await this.#reclaim();
          }
        }
        if (this.#queue.length === 0) {
          const now = Date.now();
          let wait = Math.min(o.blockMs, Math.max(1, this.#nextClaimAt - now));
          for (const d of this.#delayed) wait = Math.min(wait, Math.max(1, d.dueAt - now));
          const reply = await this.conn!.callBuffer(
            "XREADGROUP",
            "GROUP",
            this.#group,
            this.#consumer,
            "COUNT",
            this.#g.batch,
            "BLOCK",
            Math.ceil(wait),
            "STREAMS",
            ...this.#g.streams,
            ...streamIds,
          );
          const fetchedAt = Date.now();
          for (const entry of decodeRead(reply)) {
            this.#queue.push({ entry, deliveryCount: 1, fetchedAt });
          }
        }
        backoff = 50;
      } catch (error) {
        if (this.state.stopped) break;
        this.bus.log.warn("consume failed; retrying", {
          pattern: this.#g.pattern,
          group: this.#group,
          error: errorText(error),
        });
        if (/NOGROUP/.test(errorText(error))) {
          // The stream or group vanished (a volatile server restarted, or it was deleted).
          await this.#createGroups().catch(() => {});
        }
        await sleep(backoff, this.state);
        backoff = Math.min(backoff * 2, 2000);
        continue;
      }
      while (this.#queue.length > 0 && !this.state.stopped) {
        const { entry, deliveryCount, fetchedAt } = this.#queue.shift()!;
        if (!entry.subject) {
          // Deleted from the stream (trimmed) before it was acked: it can never be delivered.
          this.#dropped(entry.stream, [entry.id]);
          this.#acker.add(entry.stream, entry.id).catch(() => {});
          continue;
        }
        if (!this.#match(entry.subject)) {
          // Not this group's subject: never ours, skip it.
          this.#acker.add(entry.stream, entry.id).catch(() => {});
          continue;
        }
        const key = `${entry.stream} ${entry.id}`;
        if (this.#inFlight.has(key)) continue; // reclaimed from ourselves while in hand
        if (deliveryCount > this.#g.maxDeliver) {
          await this.#exhausted(entry, deliveryCount);
          continue;
        }
        this.#inFlight.add(key);
        if (Date.now() - fetchedAt >= this.#g.ackWaitMs / 4) {
          // It waited in our queue (the consumer is slow, e.g. starved of CPU): restart its
          // ack wait, which is the consumer's time, so it is not reclaimed the moment it is
          // handed out (which would also count one more delivery towards max_deliver).
          this.#keeper.add(entry.stream, entry.id).catch(() => {});
        }
        const publishedAtMs = idMs(entry.id);
        this.bus.metrics.consumed(entry.subject, this.#g.group, publishedAtMs, { deliveryCount });
        yield this.#delivery(entry, deliveryCount, publishedAtMs, key);
      }
    }
  }

  /** Dead-letter an entry delivered more than maxDeliver times (e.g. its consumers crashed). */
  async #exhausted(entry: Entry, deliveryCount: number): Promise<void> {
    try {
      await this.#deadLetter(entry, deliveryCount, `max_deliver: delivered ${deliveryCount} times`);
      await this.#acker.add(entry.stream, entry.id);
    } catch (error) {
      this.bus.log.warn("dead letter failed; entry stays pending", {
        stream: entry.stream,
        id: entry.id,
        error: errorText(error),
      });
    }
  }

  #delivery(entry: Entry, deliveryCount: number, publishedAtMs: number, key: string): Delivery {
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      return true;
    };
    const done = () => this.#inFlight.delete(key);
    return {
      subject: entry.subject,
      payload: entry.payload,
      headers: entry.headers,
      stream: entry.stream,
      position: entry.id,
      deliveryCount,
      publishedAtMs,
      ack: async () => {
        if (!settle()) return;
        try {
          await this.#acker.add(entry.stream, entry.id);
        } finally {
          done();
        }
      },
      nak: async (delayMs?: number) => {
        if (!settle()) return;
        if (deliveryCount >= this.#g.maxDeliver) {
          try {
            await this.#deadLetter(
              entry,
              deliveryCount,
              `max_deliver: gave up after ${deliveryCount} deliveries`,
            );
            await this.#acker.add(entry.stream, entry.id);
          } finally {
            done();
          }
          return;
        }
        done();
        if (this.state.stopped) {
          await this.#release([entry]);
          return;
        }
        const nakAt = Date.now();
        this.#delayed.push({
          dueAt: nakAt + (delayMs ?? this.bus.options.nakDelayMs),
          nakAt,
          entry,
          deliveryCount,
        });
      },
      working: async () => {
        if (settled) return;
        await this.#keeper.add(entry.stream, entry.id);
      },
      deadLetter: async (reason: string) => {
        if (!settle()) return;
        try {
          await this.#deadLetter(entry, deliveryCount, reason);
          await this.#acker.add(entry.stream, entry.id);
        } catch (error) {
          settled = false;
          throw error;
        } finally {
          if (settled) done();
        }
      },
    };
  }

  #deadLetter(entry: Entry, deliveryCount: number, reason: string): Promise<PublishAck> {
    return sendDeadLetter((m) => this.bus.publish(m), {
      subject: entry.subject,
      payload: entry.payload,
      headers: entry.headers,
      deliveryCount,
      position: entry.id,
    }, {
      reason,
      worker: this.#g.worker,
      prefix: this.bus.options.subjectPrefix,
      metrics: this.bus.metrics,
      logger: this.bus.log,
    });
  }

  /**
   * Claim the nak'd entries whose delay has passed back to ourselves, recording the new
   * delivery count on the server (RETRYCOUNT). The min idle time makes the claim fail when a
   * peer reclaimed the entry in the meantime (its claim reset the idle time).
   */
  async #redeliverDue(now: number): Promise<void> {
    const due = this.#delayed.filter((d) => d.dueAt <= now);
    if (due.length === 0) return;
    this.#delayed = this.#delayed.filter((d) => d.dueAt > now);
    const pipeline = this.bus.command().pipeline();
    for (const d of due) {
      pipeline.call(
        "XCLAIM",
        d.entry.stream,
        this.#group,
        this.#consumer,
        Math.max(0, now - d.nakAt - 50),
        d.entry.id,
        "RETRYCOUNT",
        d.deliveryCount + 1,
        "JUSTID",
      );
    }
    const results = (await pipeline.exec()) ?? [];
    for (let i = 0; i < due.length; i++) {
      const [error, ids] = results[i] ?? [];
      // Gone (reclaimed by a peer, acked, or trimmed): nothing to redeliver here.
      if (error || !Array.isArray(ids) || ids.length === 0) continue;
      this.#queue.push({
        entry: due[i].entry,
        deliveryCount: due[i].deliveryCount + 1,
        fetchedAt: now,
      });
    }
  }

  /** XAUTOCLAIM entries idle past the ack wait from every stream (crashed peers, lost replies). */
  async #reclaim(): Promise<void> {
    const cmd = this.bus.command();
    // Keep-alives still waiting to be sent go first, so entries just handed out are not
    // reclaimed (the command connection auto-pipelines them after an explicit pipeline).
    await this.#keeper.flushNow();
    const minIdle = Math.floor(this.#g.ackWaitMs);
    // One round trip for every stream of the pattern (up to P + 1 streams).
    const claims = cmd.pipeline();
    for (const key of this.#g.streams) {
      const cursor = this.#claimCursor.get(key) ?? "0-0";
      claims.callBuffer(
        "XAUTOCLAIM",
        key,
        this.#group,
        this.#consumer,
        minIdle,
        cursor,
        "COUNT",
        this.#g.batch,
      );
    }
    const replies = (await claims.exec()) ?? [];
    for (let s = 0; s < this.#g.streams.length; s++) {
      const key = this.#g.streams[s];
      const [claimError, reply] = replies[s] ?? [];
      if (claimError) throw claimError;
      if (!Array.isArray(reply)) continue;
      const next = str(reply[0]);
      this.#claimCursor.set(key, next);
      // Redis ≥ 7 lists the pending ids whose entries were deleted (trimmed) and drops them
      // from the pending entries list: they can never be delivered.
      const deleted = Array.isArray(reply[2]) ? reply[2].map(str) : [];
      if (deleted.length > 0) this.#dropped(key, deleted);
      const raws = Array.isArray(reply[1]) ? reply[1] : [];
      const entries: Entry[] = [];
      const inHand: Entry[] = [];
      for (const raw of raws) {
        const entry = decodeEntry(key, raw);
        if (!entry) continue;
        // Still being processed here (its keep-alive lagged behind the ack wait, e.g. on a
        // starved machine): the delivery in hand settles it; delivering it again would only
        // duplicate the work.
        if (this.#inFlight.has(`${key} ${entry.id}`)) inHand.push(entry);
        else entries.push(entry);
      }
      if (inHand.length > 0) {
        this.bus.metrics.reclaimed(this.#g.pattern, this.#g.group, "in_hand", inHand.length);
      }
      if (entries.length > 0) {
        this.bus.metrics.reclaimed(this.#g.pattern, this.#g.group, "idle", entries.length);
      }
      if (inHand.length + entries.length === 0) continue;
      this.bus.log.info("reclaimed idle entries", {
        stream: key,
        group: this.#group,
        count: entries.length,
        inHand: inHand.length,
      });
      if (entries.length === 0) continue;
      // A nak'd entry that idled past the ack wait comes back through the reclaim instead.
      const claimed = new Set(entries.map((e) => e.id));
      this.#delayed = this.#delayed.filter((d) =>
        d.entry.stream !== key || !claimed.has(d.entry.id)
      );
      // Delivery counts from the pending entries list (XAUTOCLAIM incremented them).
      const pipeline = cmd.pipeline();
      for (const e of entries) pipeline.call("XPENDING", key, this.#group, e.id, e.id, 1);
      const counts = (await pipeline.exec()) ?? [];
      for (let i = 0; i < entries.length; i++) {
        const [error, rows] = counts[i] ?? [];
        const row = !error && Array.isArray(rows) && Array.isArray(rows[0]) ? rows[0] : undefined;
        const deliveryCount = row ? Number(row[3]) : 2;
        this.#queue.push({
          entry: entries[i],
          deliveryCount: Math.max(2, deliveryCount),
          fetchedAt: Date.now(),
        });
      }
    }
  }

  /** Count and log entries deleted from `stream` before this group acked them. */
  #dropped(stream: string, ids: readonly string[]): void {
    this.bus.metrics.dropped(this.#g.pattern, this.#g.group, "trimmed", ids.length);
    this.bus.log.warn("pending entries were deleted from the stream before they were acked", {
      stream,
      group: this.#group,
      count: ids.length,
      ids: ids.slice(0, 10).join(" "),
    });
  }

  /** Make entries we hold but will not process claimable by a peer right away. */
  async #release(entries: Entry[]): Promise<void> {
    if (entries.length === 0) return;
    const pipeline = this.bus.command().pipeline();
    const idle = Math.ceil(this.#g.ackWaitMs) + 1;
    for (const e of entries) {
      pipeline.call(
        "XCLAIM",
        e.stream,
        this.#group,
        this.#consumer,
        "0",
        e.id,
        "IDLE",
        idle,
        "JUSTID",
      );
    }
    await pipeline.exec();
  }

  protected async finalize(): Promise<void> {
    const unhanded = [...this.#queue.map((h) => h.entry), ...this.#delayed.map((d) => d.entry)];
    this.#queue = [];
    this.#delayed = [];
    await this.#release(unhanded);
    // Drop our consumer from the groups when it holds nothing (keeps XINFO tidy). Never while
    // it still owns pending entries (released ones stay ours until a peer claims them):
    // DELCONSUMER discards them from the PEL, and they would never be delivered again.
    if (this.#inFlight.size === 0 && unhanded.length === 0) {
      const cmd = this.bus.command();
      const pending = cmd.pipeline();
      for (const key of this.#g.streams) {
        pending.call("XPENDING", key, this.#group, "-", "+", 1, this.#consumer);
      }
      const replies = (await pending.exec()) ?? [];
      const pipeline = cmd.pipeline();
      this.#g.streams.forEach((key, i) => {
        const [error, rows] = replies[i] ?? [];
        if (error || !Array.isArray(rows) || rows.length > 0) return;
        pipeline.call("XGROUP", "DELCONSUMER", key, this.#group, this.#consumer);
      });
      await pipeline.exec();
    }
  }
}

interface StreamReaderOptions {
  readonly pattern: string;
  readonly streams: readonly string[];
  readonly from: ReadOptions["from"];
  readonly batch: number;
  readonly worker: string;
}

const noop = () => Promise.resolve();

/** A private ordered reader (XREAD from an id); the position is the acknowledgement. */
class StreamReader extends ReaderBase {
  readonly #r: StreamReaderOptions;
  readonly #match: (subject: string) => boolean;

  constructor(bus: Internals, options: StreamReaderOptions) {
    super(bus, `reader ${options.pattern}`);
    this.#r = options;
    this.#match = subjectMatcher(options.pattern);
  }

  async #startIds(): Promise<string[]> {
    const from = this.#r.from;
    if (from.kind === "first") return this.#r.streams.map(() => "0-0");
    if (from.kind === "after") return this.#r.streams.map(() => from.position);
    // "new": resolve the current last id now, so nothing published after read() is missed.
    const pipeline = this.bus.command().pipeline();
    for (const key of this.#r.streams) pipeline.call("XREVRANGE", key, "+", "-", "COUNT", 1);
    const results = (await pipeline.exec()) ?? [];
    return results.map(([error, rows]) => {
      if (error) throw error;
      const first = Array.isArray(rows) ? rows[0] : undefined;
      return Array.isArray(first) ? str(first[0]) : "0-0";
    });
  }

  protected async *run(): AsyncGenerator<Delivery, void, undefined> {
    const o = this.bus.options;
    let ids: string[] | undefined;
    let backoff = 50;
    while (!this.state.stopped) {
      try {
        ids ??= await this.#startIds();
        this.conn ??= this.bus.connection(`reader`);
        const reply = await this.conn.callBuffer(
          "XREAD",
          "COUNT",
          this.#r.batch,
          "BLOCK",
          o.blockMs,
          "STREAMS",
          ...this.#r.streams,
          ...ids,
        );
        backoff = 50;
        const entries = decodeRead(reply);
        for (const entry of entries) {
          if (this.state.stopped) return;
          ids[this.#r.streams.indexOf(entry.stream)] = entry.id;
          if (!entry.subject || !this.#match(entry.subject)) continue;
          yield this.#delivery(entry);
        }
      } catch (error) {
        if (this.state.stopped) break;
        this.bus.log.warn("read failed; retrying", {
          pattern: this.#r.pattern,
          error: errorText(error),
        });
        await sleep(backoff, this.state);
        backoff = Math.min(backoff * 2, 2000);
      }
    }
  }

  #delivery(entry: Entry): Delivery {
    const publishedAtMs = idMs(entry.id);
    this.bus.metrics.consumed(entry.subject, this.#r.worker, publishedAtMs);
    return {
      subject: entry.subject,
      payload: entry.payload,
      headers: entry.headers,
      stream: entry.stream,
      position: entry.id,
      deliveryCount: 1,
      publishedAtMs,
      ack: noop,
      nak: noop,
      working: noop,
      deadLetter: async (reason: string) => {
        await sendDeadLetter((m) => this.bus.publish(m), {
          subject: entry.subject,
          payload: entry.payload,
          headers: entry.headers,
          deliveryCount: 1,
          position: entry.id,
        }, {
          reason,
          worker: this.#r.worker,
          prefix: this.bus.options.subjectPrefix,
          metrics: this.bus.metrics,
          logger: this.bus.log,
        });
      },
    };
  }

  protected finalize(): Promise<void> {
    return Promise.resolve();
  }
}
