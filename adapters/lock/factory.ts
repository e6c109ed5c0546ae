/**
 * Build the DistributedLock named by bus.toml: `[backend] kind` picks memory, NATS KV or
 * Redis; `[lock]` gives the timings and the KV bucket; `[nats] servers` /
 * `credentials_file_env` and `[redis] url_env` say where the server is.
 *
 * @example
 * ```ts
 * import { createLock, lockTimings } from "./factory.ts";
 * const bus = {
 *   backend: { kind: "memory" },
 *   lock: { ttl_seconds: 30, renew_interval_seconds: 10, wait_tick_seconds: 1,
 *           margin_seconds: 2, kv_bucket: "augur_locks" },
 * };
 * const lock = await createLock(bus);
 * console.log(lock.backend, lockTimings(bus).ttlMs); // memory 30000
 * ```
 * @module
 */
import { ConfigError, nearest } from "../../config/errors.ts";
import type { MetricsRegistry } from "../observability/metrics.ts";
import { MemoryLock, type MemoryLockStore } from "./memory_lock.ts";
import { NatsKvLock } from "./nats_kv_lock.ts";
import { RedisLock } from "./redis_lock.ts";
import type { DistributedLock, LockClock } from "./types.ts";

/** The bus.toml sections the lock reads (a structural subset of the loaded `bus` config). */
export interface LockBusConfig {
  readonly backend: { readonly kind: string };
  readonly nats?: {
    readonly servers: readonly string[];
    readonly credentials_file_env?: string;
    readonly replication_factor?: number;
  };
  readonly redis?: { readonly url_env: string };
  readonly lock: {
    readonly ttl_seconds: number;
    readonly renew_interval_seconds: number;
    readonly wait_tick_seconds: number;
    readonly margin_seconds: number;
    readonly kv_bucket: string;
  };
}

/** Lock timings in milliseconds. */
export interface LockTimings {
  ttlMs: number;
  renewIntervalMs: number;
  waitTickMs: number;
  marginMs: number;
}

/**
 * The `[lock]` timings in milliseconds.
 *
 * @example
 * ```ts
 * import { lockTimings } from "./factory.ts";
 * lockTimings({ backend: { kind: "memory" }, lock: { ttl_seconds: 30,
 *   renew_interval_seconds: 10, wait_tick_seconds: 1, margin_seconds: 2,
 *   kv_bucket: "augur_locks" } }).marginMs; // 2000
 * ```
 */
export function lockTimings(bus: LockBusConfig): LockTimings {
  return {
    ttlMs: Math.round(bus.lock.ttl_seconds * 1000),
    renewIntervalMs: Math.round(bus.lock.renew_interval_seconds * 1000),
    waitTickMs: Math.round(bus.lock.wait_tick_seconds * 1000),
    marginMs: Math.round(bus.lock.margin_seconds * 1000),
  };
}

/** Options of {@linkcode createLock}. */
export interface CreateLockOptions {
  /** Read an environment variable (default `Deno.env.get`). */
  env?: (name: string) => string | undefined;
  /** Shared state for the memory backend. */
  memoryStore?: MemoryLockStore;
  /** Clock (tests). */
  clock?: LockClock;
  /** Metrics registry. */
  registry?: MetricsRegistry;
  /**
   * Read-mostly tools (`augur lock inspect/release`): do not create the NATS bucket, do not
   * keep reconnecting to Redis. Default false.
   */
  inspectOnly?: boolean;
}

const KINDS = ["memory", "nats", "redis"];

/**
 * Build the lock backend configured in bus.toml. Throws ConfigError / ConnectionError.
 *
 * @example
 * ```ts
 * import { createLock } from "./factory.ts";
 * const lock = await createLock({
 *   backend: { kind: "redis" },
 *   redis: { url_env: "REDIS_URL" },
 *   lock: { ttl_seconds: 30, renew_interval_seconds: 10, wait_tick_seconds: 1,
 *           margin_seconds: 2, kv_bucket: "augur_locks" },
 * }, { env: () => "redis://127.0.0.1:6379" });
 * ```
 */
export async function createLock(
  bus: LockBusConfig,
  options: CreateLockOptions = {},
): Promise<DistributedLock> {
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  const timings = lockTimings(bus);
  switch (bus.backend.kind) {
    case "memory":
      return new MemoryLock({ store: options.memoryStore, clock: options.clock });
    case "nats": {
      const servers = bus.nats?.servers ?? ["nats://localhost:4222"];
      const credsEnv = bus.nats?.credentials_file_env;
      const credentialsFile = credsEnv ? env(credsEnv) || undefined : undefined;
      return await NatsKvLock.open({
        servers: [...servers],
        bucket: bus.lock.kv_bucket,
        ttlMs: timings.ttlMs,
        credentialsFile,
        replicas: bus.nats?.replication_factor,
        create: !options.inspectOnly,
        clock: options.clock,
        registry: options.registry,
      });
    }
    case "redis": {
      const urlEnv = bus.redis?.url_env ?? "REDIS_URL";
      const url = env(urlEnv);
      if (!url) {
        throw new ConfigError(
          `bus.toml: redis.url_env: expected environment variable ${urlEnv} to hold the Redis URL, received nothing (it is not set)`,
        );
      }
      return await RedisLock.open({
        url,
        reconnect: !options.inspectOnly,
        clock: options.clock,
        registry: options.registry,
      });
    }
    default: {
      const hint = nearest(bus.backend.kind, KINDS);
      throw new ConfigError(
        `bus.toml: backend.kind: expected one of ${KINDS.join(", ")}, received ${
          JSON.stringify(bus.backend.kind)
        }${hint ? ` (did you mean "${hint}"?)` : ""}`,
      );
    }
  }
}
