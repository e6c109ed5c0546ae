/**
 * Build the configured {@linkcode EventBus} from the `bus` section of the config
 * (bus.toml): `memory`, `nats` or `redis`. Secrets come from the environment variables
 * the config names (`[nats].credentials_file_env`, `[redis].url_env`). The bus is returned
 * unconnected; call `connect()`.
 *
 * @example
 * ```ts
 * import { createEventBus } from "./factory.ts";
 * const bus = await createEventBus({ backend: { kind: "memory", capacity: 64 } });
 * await bus.connect();
 * await bus.close();
 * ```
 * @module
 */

import { ConfigError, nearest } from "../../config/errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { MetricsRegistry } from "../observability/metrics.ts";
import { MemoryBus } from "./memory_bus.ts";
import type { BusKind, EventBus } from "./types.ts";

/** The bus.toml keys the factory reads (snake_case, as loaded); everything is optional. */
export interface BusSection {
  readonly backend?: {
    readonly kind?: string;
    readonly capacity?: number;
    readonly partitions?: number;
    readonly retention_hours?: number;
  };
  readonly nats?: {
    readonly servers?: readonly string[];
    readonly credentials_file_env?: string;
    readonly stream_name?: string;
    readonly replication_factor?: number;
    readonly subject_prefix?: string;
    readonly ack_wait_seconds?: number;
    readonly max_deliver?: number;
    readonly duplicate_window_seconds?: number;
    readonly batch?: number;
  };
  readonly redis?: {
    readonly url_env?: string;
    readonly stream_max_length?: number;
    readonly consumer_group_prefix?: string;
    readonly block_ms?: number;
    readonly claim_idle_ms?: number;
    readonly allow_volatile?: boolean;
    readonly batch?: number;
  };
  readonly dlq?: { readonly max_retries?: number; readonly retry_backoff_ms?: readonly number[] };
}

/** Dependencies of {@linkcode createEventBus}. */
export interface EventBusDeps {
  /** Environment: a record or a getter (default `Deno.env.get`). */
  readonly env?:
    | Readonly<Record<string, string | undefined>>
    | ((name: string) => string | undefined);
  /** Metrics registry for the bus metrics. */
  readonly registry?: MetricsRegistry;
  /** Logger. */
  readonly logger?: Logger;
}

const KINDS: readonly BusKind[] = ["memory", "nats", "redis"];

/**
 * Create the bus named by `bus.backend.kind` (default `memory`).
 * Throws {@linkcode ConfigError} (exit 2) for an unknown kind or a missing secret.
 *
 * @example
 * ```ts
 * import { createEventBus } from "./factory.ts";
 * const bus = await createEventBus(
 *   { backend: { kind: "nats" }, nats: { servers: ["nats://127.0.0.1:4222"] } },
 *   { env: {} },
 * );
 * bus.kind; // "nats"
 * ```
 */
export async function createEventBus(
  bus: BusSection,
  deps: EventBusDeps = {},
): Promise<EventBus> {
  const env = deps.env === undefined
    ? (name: string) => Deno.env.get(name)
    : typeof deps.env === "function"
    ? deps.env
    : ((record) => (name: string) => record[name])(deps.env);
  const kind = bus.backend?.kind ?? "memory";
  const prefix = bus.nats?.subject_prefix ?? "augur";
  const maxDeliver = bus.dlq?.max_retries ?? bus.nats?.max_deliver;
  switch (kind) {
    case "memory":
      return new MemoryBus({
        capacity: bus.backend?.capacity,
        prefix,
        maxDeliver,
        nakDelayMs: bus.dlq?.retry_backoff_ms?.[0],
        registry: deps.registry,
        logger: deps.logger,
      });
    case "nats": {
      const n = bus.nats ?? {};
      const credsEnv = n.credentials_file_env ?? "NATS_CREDENTIALS_FILE";
      const credentialsFile = env(credsEnv) || undefined;
      const { NatsBus } = await import("./nats_bus.ts");
      return new NatsBus({
        servers: n.servers,
        credentialsFile,
        streamName: n.stream_name,
        replicas: n.replication_factor,
        subjectPrefix: prefix,
        ackWaitMs: seconds(n.ack_wait_seconds),
        maxDeliver: n.max_deliver ?? bus.dlq?.max_retries,
        duplicateWindowMs: seconds(n.duplicate_window_seconds),
        batch: n.batch,
        retentionHours: bus.backend?.retention_hours,
        nakDelayMs: bus.dlq?.retry_backoff_ms?.[0],
        registry: deps.registry,
        logger: deps.logger,
      });
    }
    case "redis": {
      const r = bus.redis ?? {};
      const urlEnv = r.url_env ?? "REDIS_URL";
      const url = env(urlEnv);
      if (!url) {
        throw new ConfigError(
          `config/bus.toml: redis.url_env: environment variable ${urlEnv} is not set (expected a redis:// URL)`,
        );
      }
      const { RedisBus } = await import("./redis_bus.ts");
      return new RedisBus({
        url,
        streamMaxLength: r.stream_max_length,
        groupPrefix: r.consumer_group_prefix,
        blockMs: r.block_ms,
        claimIdleMs: r.claim_idle_ms,
        allowVolatile: r.allow_volatile,
        batch: r.batch,
        partitions: bus.backend?.partitions,
        subjectPrefix: prefix,
        maxDeliver,
        nakDelayMs: bus.dlq?.retry_backoff_ms?.[0],
        registry: deps.registry,
        logger: deps.logger,
      });
    }
    default: {
      const hint = nearest(kind, KINDS);
      throw new ConfigError(
        `config/bus.toml: backend.kind: expected one of ${KINDS.join(", ")}, received "${kind}"${
          hint ? ` (did you mean "${hint}"?)` : ""
        }`,
      );
    }
  }
}

function seconds(value: number | undefined): number | undefined {
  return value === undefined ? undefined : value * 1000;
}
