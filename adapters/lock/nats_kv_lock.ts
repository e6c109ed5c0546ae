/**
 * DistributedLock on a NATS JetStream key-value bucket (`@nats-io/kv`).
 *
 * - The bucket (bus.lock.kv_bucket) keeps history 1 and its TTL (stream max_age) is the lock
 *   TTL, so a key that is not renewed disappears on the server.
 * - acquire = `kv.create` (fails while a live key exists, whoever holds it); the fencing token
 *   is the revision of that winning create, written into the value for the whole tenure
 *   (renewals change the revision, never the token). Revisions are stream sequences: they
 *   only grow, across holders and server restarts (file store).
 * - renew = `kv.update` with the lease's revision; release = `kv.delete` with the lease's
 *   revision as expected last sequence. A stale holder's revision no longer matches, so it
 *   can never overwrite or delete the current holder's key.
 * - forceRelease writes a delete marker: the stream sequence (token source) is untouched.
 *
 * Value JSON: `{holder, token, acquiredAtMs, renewedAtMs, ttlMs}`.
 *
 * @example
 * ```ts
 * import { NatsKvLock } from "./nats_kv_lock.ts";
 * const lock = await NatsKvLock.open({
 *   servers: ["nats://127.0.0.1:4222"],
 *   bucket: "augur_locks",
 *   ttlMs: 30_000,
 * });
 * const lease = await lock.acquire("dedup", "replica-a", { ttlMs: 30_000 });
 * if (lease) await lock.release(lease);
 * await lock.close();
 * ```
 * @module
 */
import { connect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import {
  jetstream,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
} from "@nats-io/jetstream";
import { type KV, type KvEntry, Kvm } from "@nats-io/kv";
import { ConfigError, ConnectionError } from "../../config/errors.ts";
import { defaultRegistry, type MetricsRegistry } from "../observability/metrics.ts";
import {
  type AcquireOptions,
  type DistributedLock,
  type Lease,
  type LockClock,
  LockError,
  type LockHolder,
  systemClock,
  validateLockArgs,
} from "./types.ts";

/** Options of {@linkcode NatsKvLock.open}. */
export interface NatsKvLockOptions {
  /** NATS server URLs (bus.nats.servers). */
  servers: string | string[];
  /** KV bucket name (bus.lock.kv_bucket). */
  bucket: string;
  /** Lock TTL in ms = bucket TTL (bus.lock.ttl_seconds × 1000). */
  ttlMs: number;
  /** Path of a NATS credentials file (from the env var bus.nats.credentials_file_env). */
  credentialsFile?: string;
  /** Replicas of the bucket stream (bus.nats.replication_factor; default 1). */
  replicas?: number;
  /**
   * Create the bucket when missing, or fix its TTL (default true). `false` only binds (for
   * read-mostly tools such as `augur lock inspect`): a missing bucket means no locks.
   */
  create?: boolean;
  /** JetStream request timeout in ms (default min(5000, ttl / 3)). */
  timeoutMs?: number;
  /** Reuse this connection instead of opening one (it is not closed by close()). */
  connection?: NatsConnection;
  /** Clock for timestamps and deadlines. */
  clock?: LockClock;
  /** Metrics registry (default: the process registry). */
  registry?: MetricsRegistry;
}

interface LockValue {
  holder: string;
  token?: number;
  acquiredAtMs: number;
  renewedAtMs: number;
  ttlMs: number;
}

const encoder = new TextEncoder();

function isWrongLastSequence(error: unknown): boolean {
  return error instanceof JetStreamApiError &&
    (error.code === JetStreamApiCodes.StreamWrongLastSequence ||
      error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);
}

function isStreamNotFound(error: unknown): boolean {
  return (error instanceof JetStreamApiError &&
    error.code === JetStreamApiCodes.StreamNotFound) ||
    (error instanceof Error && /stream not found/i.test(error.message));
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Connect to NATS with an optional credentials file; throws one-line
 * {@linkcode ConnectionError} / {@linkcode ConfigError} on failure.
 *
 * @example
 * ```ts
 * import { connectNats } from "./nats_kv_lock.ts";
 * const nc = await connectNats(["nats://127.0.0.1:4222"], { name: "augur-lock" });
 * await nc.close();
 * ```
 */
export async function connectNats(
  servers: string | string[],
  options: { credentialsFile?: string; name?: string } = {},
): Promise<NatsConnection> {
  const list = Array.isArray(servers) ? servers : [servers];
  let authenticator;
  if (options.credentialsFile) {
    let creds: string;
    try {
      creds = await Deno.readTextFile(options.credentialsFile);
    } catch (error) {
      throw new ConfigError(
        `cannot read NATS credentials file ${options.credentialsFile}: ${describeError(error)}`,
      );
    }
    authenticator = credsAuthenticator(encoder.encode(creds));
  }
  try {
    return await connect({
      servers: list,
      authenticator,
      name: options.name ?? "augur-lock",
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    });
  } catch (error) {
    throw new ConnectionError(
      `cannot connect to NATS at ${list.join(",")}: ${describeError(error)}`,
      { cause: error },
    );
  }
}

/**
 * A DistributedLock on a NATS KV bucket.
 *
 * @example
 * ```ts
 * import { NatsKvLock } from "./nats_kv_lock.ts";
 * const lock = await NatsKvLock.open({ servers: "nats://127.0.0.1:4222", bucket: "augur_locks", ttlMs: 30_000 });
 * console.log(await lock.list());
 * await lock.close();
 * ```
 */
export class NatsKvLock implements DistributedLock {
  readonly backend = "nats";
  readonly #nc: NatsConnection;
  readonly #ownsConnection: boolean;
  readonly #kv: KV | undefined;
  readonly #jsm: JetStreamManager;
  readonly #bucket: string;
  readonly #ttlMs: number;
  readonly #timeoutMs: number;
  readonly #clock: LockClock;
  readonly #ops;

  private constructor(
    nc: NatsConnection,
    ownsConnection: boolean,
    kv: KV | undefined,
    jsm: JetStreamManager,
    options: NatsKvLockOptions,
  ) {
    this.#nc = nc;
    this.#ownsConnection = ownsConnection;
    this.#kv = kv;
    this.#jsm = jsm;
    this.#bucket = options.bucket;
    this.#ttlMs = options.ttlMs;
    this.#timeoutMs = options.timeoutMs ?? Math.min(5000, Math.max(100, options.ttlMs / 3));
    this.#clock = options.clock ?? systemClock;
    this.#ops = (options.registry ?? defaultRegistry).counter(
      "augur_lock_operations_total",
      "Lock operations by backend, operation and outcome.",
      ["backend", "op", "outcome"],
    );
  }

  /** Connect (unless given a connection), then create or bind the bucket. */
  static async open(options: NatsKvLockOptions): Promise<NatsKvLock> {
    validateLockArgs("probe", options.ttlMs);
    if (!/^[A-Za-z0-9_-]+$/.test(options.bucket)) {
      throw new ConfigError(
        `bus.lock.kv_bucket must match [A-Za-z0-9_-]+, got ${JSON.stringify(options.bucket)}`,
      );
    }
    const nc = options.connection ??
      await connectNats(options.servers, { credentialsFile: options.credentialsFile });
    const own = options.connection === undefined;
    try {
      const timeout = options.timeoutMs ?? Math.min(5000, Math.max(100, options.ttlMs / 3));
      const js = jetstream(nc, { timeout });
      const jsm = await js.jetstreamManager();
      const kvm = new Kvm(js);
      const stream = `KV_${options.bucket}`;
      let kv: KV | undefined;
      if (options.create ?? true) {
        kv = await kvm.create(options.bucket, {
          history: 1,
          ttl: options.ttlMs,
          replicas: options.replicas ?? 1,
        });
        const info = await jsm.streams.info(stream);
        const wantAge = options.ttlMs * 1_000_000;
        if (info.config.max_age !== wantAge || info.config.max_msgs_per_subject !== 1) {
          info.config.max_age = wantAge;
          info.config.max_msgs_per_subject = 1;
          await jsm.streams.update(stream, info.config);
        }
      } else {
        try {
          await jsm.streams.info(stream);
          kv = await kvm.open(options.bucket);
        } catch (error) {
          if (!isStreamNotFound(error)) throw error;
        }
      }
      return new NatsKvLock(nc, own, kv, jsm, options);
    } catch (error) {
      if (own) await nc.close().catch(() => {});
      if (error instanceof ConfigError || error instanceof ConnectionError) throw error;
      throw new ConnectionError(
        `cannot open NATS KV lock bucket ${options.bucket}: ${describeError(error)}`,
        { cause: error },
      );
    }
  }

  #requireKv(): KV {
    if (!this.#kv) {
      throw new LockError(`NATS KV bucket ${this.#bucket} does not exist (opened read-only)`);
    }
    return this.#kv;
  }

  #count(op: string, outcome: string): void {
    this.#ops.inc({ backend: "nats", op, outcome });
  }

  #fail(op: string, name: string, error: unknown): never {
    this.#count(op, "error");
    if (error instanceof LockError) throw error;
    throw new ConnectionError(`nats lock ${op} ${name} failed: ${describeError(error)}`, {
      cause: error,
    });
  }

  #checkTtl(ttlMs: number): void {
    if (ttlMs !== this.#ttlMs) {
      throw new LockError(
        `NATS KV bucket ${this.#bucket} has a lock TTL of ${this.#ttlMs} ms; ` +
          `a lease of ${ttlMs} ms was asked (the TTL is per bucket: bus.lock.ttl_seconds)`,
      );
    }
  }

  async acquire(name: string, holder: string, options: AcquireOptions): Promise<Lease | null> {
    validateLockArgs(name, options.ttlMs);
    this.#checkTtl(options.ttlMs);
    const kv = this.#requireKv();
    const sentAt = this.#clock.monotonic();
    const now = this.#clock.now();
    const value: LockValue = {
      holder,
      acquiredAtMs: now,
      renewedAtMs: now,
      ttlMs: options.ttlMs,
    };
    let revision: number;
    try {
      revision = await kv.create(name, JSON.stringify(value));
    } catch (error) {
      if (isWrongLastSequence(error)) {
        this.#count("acquire", "held");
        return null;
      }
      this.#fail("acquire", name, error);
    }
    const token = revision;
    // Record the token in the value for the whole tenure (the revision moves on renew).
    try {
      revision = await kv.update(name, JSON.stringify({ ...value, token }), revision);
    } catch (error) {
      if (isWrongLastSequence(error)) {
        // Force-released between the two writes: we never held it in a usable way.
        this.#count("acquire", "lost");
        return null;
      }
      // Readers fall back to the create revision when the value has no token; the next renew
      // writes it. The lease itself is valid.
    }
    this.#count("acquire", "ok");
    return {
      name,
      holder,
      token,
      acquiredAtMs: now,
      expiresAtMs: now + options.ttlMs,
      ttlMs: options.ttlMs,
      sentAtMonotonicMs: sentAt,
      revision,
    };
  }

  async renew(lease: Lease): Promise<Lease | null> {
    const kv = this.#requireKv();
    const sentAt = this.#clock.monotonic();
    const now = this.#clock.now();
    const value: LockValue = {
      holder: lease.holder,
      token: lease.token,
      acquiredAtMs: lease.acquiredAtMs,
      renewedAtMs: now,
      ttlMs: lease.ttlMs,
    };
    let revision: number;
    try {
      revision = await kv.update(lease.name, JSON.stringify(value), lease.revision);
    } catch (error) {
      if (isWrongLastSequence(error)) {
        this.#count("renew", "lost");
        return null;
      }
      this.#fail("renew", lease.name, error);
    }
    this.#count("renew", "ok");
    return { ...lease, expiresAtMs: now + lease.ttlMs, sentAtMonotonicMs: sentAt, revision };
  }

  async release(lease: Lease): Promise<boolean> {
    const kv = this.#requireKv();
    try {
      await kv.delete(lease.name, { previousSeq: lease.revision });
    } catch (error) {
      if (isWrongLastSequence(error)) {
        this.#count("release", "stale");
        return false;
      }
      this.#fail("release", lease.name, error);
    }
    this.#count("release", "ok");
    return true;
  }

  #describe(name: string, entry: KvEntry): LockHolder | null {
    if (entry.operation !== "PUT") return null;
    const now = this.#clock.now();
    const createdMs = entry.created.getTime();
    const expiresAtMs = createdMs + this.#ttlMs;
    if (expiresAtMs <= now) return null; // aged out; the server removes it momentarily
    let value: Partial<LockValue>;
    try {
      value = entry.json<LockValue>();
    } catch {
      value = {};
    }
    return {
      name,
      holder: typeof value.holder === "string" ? value.holder : "?",
      // The value lacks a token only between the create and its follow-up write.
      token: typeof value.token === "number" ? value.token : entry.revision,
      acquiredAtMs: typeof value.acquiredAtMs === "number" ? value.acquiredAtMs : createdMs,
      expiresAtMs,
      observedAtMs: now,
    };
  }

  async #entry(name: string): Promise<KvEntry | null> {
    if (!this.#kv) return null;
    return await this.#kv.get(name);
  }

  async holder(name: string): Promise<LockHolder | null> {
    validateLockArgs(name);
    try {
      const entry = await this.#entry(name);
      return entry ? this.#describe(name, entry) : null;
    } catch (error) {
      this.#fail("holder", name, error);
    }
  }

  async list(): Promise<LockHolder[]> {
    if (!this.#kv) return [];
    const prefix = `$KV.${this.#bucket}.`;
    try {
      const info = await this.#jsm.streams.info(`KV_${this.#bucket}`, {
        subjects_filter: `${prefix}>`,
      });
      const names = Object.keys(info.state.subjects ?? {})
        .map((s) => s.slice(prefix.length))
        .sort();
      const out: LockHolder[] = [];
      for (const name of names) {
        const entry = await this.#kv.get(name);
        const described = entry ? this.#describe(name, entry) : null;
        if (described) out.push(described);
      }
      return out;
    } catch (error) {
      this.#fail("list", this.#bucket, error);
    }
  }

  async forceRelease(name: string): Promise<LockHolder | null> {
    validateLockArgs(name);
    const kv = this.#requireKv();
    try {
      for (let attempt = 0; attempt < 5; attempt++) {
        const entry = await kv.get(name);
        const described = entry ? this.#describe(name, entry) : null;
        if (!entry || !described) return null;
        try {
          // A delete marker: the stream sequence (token source) keeps growing.
          await kv.delete(name, { previousSeq: entry.revision });
          this.#count("force_release", "ok");
          return described;
        } catch (error) {
          if (!isWrongLastSequence(error)) throw error;
          // Renewed meanwhile: read again.
        }
      }
      throw new LockError(`lock ${name} kept changing; force release gave up after 5 tries`);
    } catch (error) {
      this.#fail("force_release", name, error);
    }
  }

  async close(): Promise<void> {
    if (this.#ownsConnection && !this.#nc.isClosed()) await this.#nc.close();
  }

  /** The request timeout used for KV operations, in ms. */
  get timeoutMs(): number {
    return this.#timeoutMs;
  }
}
