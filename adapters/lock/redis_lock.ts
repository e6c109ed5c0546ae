/**
 * DistributedLock on Redis (ioredis), one dedicated connection without an offline queue.
 *
 * - acquire: one Lua script does `EXISTS` → `INCR` of the per-lock counter → `SET NX PX`,
 *   atomically, so the fencing token comes from the same step that takes the key. The counter
 *   key is never deleted (not by release, not by force release) and lives in the durable
 *   Redis augur requires (`appendonly yes`), so tokens grow across holders and restarts.
 * - renew: compare-and-pexpire script (the value must carry our holder AND token).
 * - release: compare-and-del script; a stale holder's release is a no-op returning false.
 * - The connection has `enableOfflineQueue: false`: while Redis is unreachable, renewals fail
 *   at once instead of queueing, so the local deadline (see lease_keeper.ts) takes over.
 *
 * Keys: `<keyPrefix><name>` holds `{holder, token, acquiredAtMs, renewedAtMs, ttlMs}` (JSON,
 * timestamps from the Redis server clock); `<counterPrefix><name>` holds the last token.
 *
 * @example
 * ```ts
 * import { RedisLock } from "./redis_lock.ts";
 * const lock = await RedisLock.open({ url: "redis://127.0.0.1:6379" });
 * const lease = await lock.acquire("dedup", "replica-a", { ttlMs: 30_000 });
 * if (lease) await lock.release(lease);
 * await lock.close();
 * ```
 * @module
 */
import { Redis } from "ioredis";
import { ConnectionError } from "../../config/errors.ts";
import { registerSecret } from "../observability/logger.ts";
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

/** Options of {@linkcode RedisLock.open}. */
export interface RedisLockOptions {
  /** Redis URL (from the env var named by bus.redis.url_env). */
  url: string;
  /** Prefix of lock keys (default `augur:lock:`). */
  keyPrefix?: string;
  /** Prefix of token counter keys (default `augur:lock-token:`). */
  counterPrefix?: string;
  /** Connect timeout in ms (default 5000). */
  connectTimeoutMs?: number;
  /** Keep reconnecting after a lost connection (default true; the CLI turns it off). */
  reconnect?: boolean;
  /** Clock for deadlines (timestamps come from the Redis server). */
  clock?: LockClock;
  /** Metrics registry (default: the process registry). */
  registry?: MetricsRegistry;
}

// Timestamps: Redis server clock in ms. Numbers are formatted with %d (never exponent form).
const NOW_MS = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

const ENCODE = `local function encode(holder, token, acquired, renewed, ttl)
  return '{"holder":' .. cjson.encode(holder) .. ',"token":' .. string.format('%d', token) ..
    ',"acquiredAtMs":' .. string.format('%d', acquired) ..
    ',"renewedAtMs":' .. string.format('%d', renewed) ..
    ',"ttlMs":' .. string.format('%d', ttl) .. '}'
end`;

/** KEYS: lock, counter. ARGV: holder, ttlMs. → {token, nowMs} or nil when held. */
const ACQUIRE = `${NOW_MS}
${ENCODE}
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], encode(ARGV[1], token, now, now, tonumber(ARGV[2])), 'PX', ARGV[2])
return {token, now}`;

/** KEYS: lock. ARGV: holder, token, ttlMs. → nowMs, or nil when not ours. */
const RENEW = `${NOW_MS}
${ENCODE}
local v = redis.call('GET', KEYS[1])
if not v then return false end
local ok, d = pcall(cjson.decode, v)
if not ok or d.holder ~= ARGV[1] or d.token ~= tonumber(ARGV[2]) then return false end
redis.call('SET', KEYS[1], encode(d.holder, d.token, d.acquiredAtMs, now, tonumber(ARGV[3])),
  'PX', ARGV[3])
return now`;

/** KEYS: lock. ARGV: holder, token. → 1 when deleted, 0 when not ours. */
const RELEASE = `local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local ok, d = pcall(cjson.decode, v)
if not ok or d.holder ~= ARGV[1] or d.token ~= tonumber(ARGV[2]) then return 0 end
redis.call('DEL', KEYS[1])
return 1`;

/** KEYS: lock. → {value, pttl, nowMs} or nil. */
const READ = `${NOW_MS}
local v = redis.call('GET', KEYS[1])
if not v then return false end
return {v, redis.call('PTTL', KEYS[1]), now}`;

/** KEYS: lock. → {value, pttl, nowMs} of the removed key, or nil. Counter untouched. */
const FORCE = `${NOW_MS}
local v = redis.call('GET', KEYS[1])
if not v then return false end
local pttl = redis.call('PTTL', KEYS[1])
redis.call('DEL', KEYS[1])
return {v, pttl, now}`;

type Scripted = Redis & {
  augurLockAcquire(lock: string, counter: string, holder: string, ttl: number): Promise<
    [number, number] | null
  >;
  augurLockRenew(lock: string, holder: string, token: number, ttl: number): Promise<
    number | null
  >;
  augurLockRelease(lock: string, holder: string, token: number): Promise<number>;
  augurLockRead(lock: string): Promise<[string, number, number] | null>;
  augurLockForce(lock: string): Promise<[string, number, number] | null>;
};

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) registerSecret(decodeURIComponent(u.password));
    u.password = u.password ? "***" : "";
    return u.toString();
  } catch {
    return "<redis url>";
  }
}

/**
 * A DistributedLock on Redis.
 *
 * @example
 * ```ts
 * import { RedisLock } from "./redis_lock.ts";
 * const lock = await RedisLock.open({ url: "redis://127.0.0.1:6379" });
 * console.log(await lock.holder("dedup"));
 * await lock.close();
 * ```
 */
export class RedisLock implements DistributedLock {
  readonly backend = "redis";
  readonly #redis: Scripted;
  readonly #keyPrefix: string;
  readonly #counterPrefix: string;
  readonly #clock: LockClock;
  readonly #ops;

  private constructor(redis: Scripted, options: RedisLockOptions) {
    this.#redis = redis;
    this.#keyPrefix = options.keyPrefix ?? "augur:lock:";
    this.#counterPrefix = options.counterPrefix ?? "augur:lock-token:";
    this.#clock = options.clock ?? systemClock;
    this.#ops = (options.registry ?? defaultRegistry).counter(
      "augur_lock_operations_total",
      "Lock operations by backend, operation and outcome.",
      ["backend", "op", "outcome"],
    );
  }

  /** Open the lock's own connection (no offline queue) and register its scripts. */
  static async open(options: RedisLockOptions): Promise<RedisLock> {
    const shown = redactUrl(options.url);
    const reconnect = options.reconnect ?? true;
    const redis = new Redis(options.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: options.connectTimeoutMs ?? 5000,
      connectionName: "augur-lock",
      retryStrategy: (times: number) => reconnect ? Math.min(times * 100, 1000) : null,
    }) as Scripted;
    let lastError: unknown;
    redis.on("error", (error) => lastError = error); // surfaced through command failures
    redis.defineCommand("augurLockAcquire", { numberOfKeys: 2, lua: ACQUIRE });
    redis.defineCommand("augurLockRenew", { numberOfKeys: 1, lua: RENEW });
    redis.defineCommand("augurLockRelease", { numberOfKeys: 1, lua: RELEASE });
    redis.defineCommand("augurLockRead", { numberOfKeys: 1, lua: READ });
    redis.defineCommand("augurLockForce", { numberOfKeys: 1, lua: FORCE });
    try {
      await redis.connect();
      await redis.ping();
    } catch (error) {
      redis.disconnect();
      const reason = describeError(lastError ?? error);
      throw new ConnectionError(`cannot connect to Redis at ${shown}: ${reason}`, {
        cause: error,
      });
    }
    return new RedisLock(redis, options);
  }

  #count(op: string, outcome: string): void {
    this.#ops.inc({ backend: "redis", op, outcome });
  }

  #fail(op: string, name: string, error: unknown): never {
    this.#count(op, "error");
    if (error instanceof LockError) throw error;
    throw new ConnectionError(`redis lock ${op} ${name} failed: ${describeError(error)}`, {
      cause: error,
    });
  }

  async acquire(name: string, holder: string, options: AcquireOptions): Promise<Lease | null> {
    validateLockArgs(name, options.ttlMs);
    const ttl = Math.ceil(options.ttlMs);
    const sentAt = this.#clock.monotonic();
    let reply: [number, number] | null;
    try {
      reply = await this.#redis.augurLockAcquire(
        this.#keyPrefix + name,
        this.#counterPrefix + name,
        holder,
        ttl,
      );
    } catch (error) {
      this.#fail("acquire", name, error);
    }
    if (!reply) {
      this.#count("acquire", "held");
      return null;
    }
    this.#count("acquire", "ok");
    const [token, now] = reply;
    return {
      name,
      holder,
      token,
      acquiredAtMs: now,
      expiresAtMs: now + ttl,
      ttlMs: ttl,
      sentAtMonotonicMs: sentAt,
      revision: 0,
    };
  }

  async renew(lease: Lease): Promise<Lease | null> {
    const sentAt = this.#clock.monotonic();
    let now: number | null;
    try {
      now = await this.#redis.augurLockRenew(
        this.#keyPrefix + lease.name,
        lease.holder,
        lease.token,
        lease.ttlMs,
      );
    } catch (error) {
      this.#fail("renew", lease.name, error);
    }
    if (now === null) {
      this.#count("renew", "lost");
      return null;
    }
    this.#count("renew", "ok");
    return {
      ...lease,
      expiresAtMs: now + lease.ttlMs,
      sentAtMonotonicMs: sentAt,
      revision: lease.revision + 1,
    };
  }

  async release(lease: Lease): Promise<boolean> {
    let removed: number;
    try {
      removed = await this.#redis.augurLockRelease(
        this.#keyPrefix + lease.name,
        lease.holder,
        lease.token,
      );
    } catch (error) {
      this.#fail("release", lease.name, error);
    }
    this.#count("release", removed === 1 ? "ok" : "stale");
    return removed === 1;
  }

  #describe(name: string, reply: [string, number, number]): LockHolder {
    const [raw, pttl, now] = reply;
    let value: { holder?: unknown; token?: unknown; acquiredAtMs?: unknown } = {};
    try {
      value = JSON.parse(raw);
    } catch { /* foreign value: report what we can */ }
    return {
      name,
      holder: typeof value.holder === "string" ? value.holder : "?",
      token: typeof value.token === "number" ? value.token : 0,
      acquiredAtMs: typeof value.acquiredAtMs === "number" ? value.acquiredAtMs : now,
      expiresAtMs: pttl >= 0 ? now + pttl : Number.POSITIVE_INFINITY,
      observedAtMs: now,
    };
  }

  async holder(name: string): Promise<LockHolder | null> {
    validateLockArgs(name);
    try {
      const reply = await this.#redis.augurLockRead(this.#keyPrefix + name);
      return reply ? this.#describe(name, reply) : null;
    } catch (error) {
      this.#fail("holder", name, error);
    }
  }

  async list(): Promise<LockHolder[]> {
    const names = new Set<string>();
    try {
      let cursor = "0";
      do {
        const [next, keys] = await this.#redis.scan(
          cursor,
          "MATCH",
          `${this.#keyPrefix}*`,
          "COUNT",
          500,
        );
        cursor = next;
        for (const key of keys) names.add(key.slice(this.#keyPrefix.length));
      } while (cursor !== "0");
      const out: LockHolder[] = [];
      for (const name of [...names].sort()) {
        const reply = await this.#redis.augurLockRead(this.#keyPrefix + name);
        if (reply) out.push(this.#describe(name, reply));
      }
      return out;
    } catch (error) {
      this.#fail("list", this.#keyPrefix, error);
    }
  }

  async forceRelease(name: string): Promise<LockHolder | null> {
    validateLockArgs(name);
    try {
      const reply = await this.#redis.augurLockForce(this.#keyPrefix + name);
      if (!reply) return null;
      this.#count("force_release", "ok");
      return this.#describe(name, reply);
    } catch (error) {
      this.#fail("force_release", name, error);
    }
  }

  /** The last token handed out for `name` (0 when never acquired). */
  async lastToken(name: string): Promise<number> {
    validateLockArgs(name);
    try {
      return Number(await this.#redis.get(this.#counterPrefix + name) ?? 0);
    } catch (error) {
      this.#fail("last_token", name, error);
    }
  }

  async close(): Promise<void> {
    if (this.#redis.status === "end") return;
    try {
      await this.#redis.quit();
    } catch {
      this.#redis.disconnect();
    }
  }
}
