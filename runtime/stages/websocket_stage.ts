/**
 * The `websocket` worker (`augur run websocket`): serves the WebSocket endpoint
 * (runtime/websocket_server.ts) and feeds it from the bus.
 *
 * Every replica must see EVERY context and brief (its clients are its own), so each replica
 * reads `augur.contexts` and `augur.briefs.>` with private readers from "new" (`bus.read`),
 * not a shared durable: nothing is left behind when a replica goes away, and a client that
 * missed messages (replica restart, reconnect) catches up through `GET /signals?since=`.
 *
 * Per message: fence markers are skipped and fenced-off singleton output dropped (briefs come
 * from the `llm` singleton); undecodable payloads are counted
 * (`augur_websocket_undecodable_total{family}`) and logged; duplicates (redeliveries,
 * replays) are skipped through an LRU of recent ids (`augur_websocket_duplicates_total`).
 * Contexts become `signal` frames whose payload is the canonical context JSON, sent to every
 * consumer of the market's category; briefs become `brief` frames (canonical brief JSON) for
 * their opted-in `actionable_for` consumers.
 *
 * @example
 * ```ts
 * import { websocketWorker } from "./websocket_stage.ts";
 * import type { Components } from "../components.ts";
 * declare const components: Components;
 * const worker = websocketWorker(components);
 * // runWorker(worker, harnessOptions)
 * ```
 * @module
 */
import { setImmediate } from "node:timers";
import type { Delivery, EventBus, Subscription } from "../../adapters/bus/types.ts";
import type { Store } from "../../adapters/storage/types.ts";
import type { Logger } from "../../adapters/observability/logger.ts";
import type { MetricsRegistry } from "../../adapters/observability/metrics.ts";
import { ConfigError } from "../../config/errors.ts";
import { readSecret } from "../../config/secrets.ts";
import type { AugurConfig } from "../../config/schema.ts";
import type { ConsumersSettings } from "../../pipeline/format/routing.ts";
import { canonicalJson, decode, KINDS } from "../../pipeline/canonical_json.ts";
import type { Worker, WorkerContext } from "../harness.ts";
import type { FenceGate } from "../fencing.ts";
import type { Subjects } from "../subjects.ts";
import { abortableSleep } from "../sleep.ts";
import { WebSocketHub } from "../websocket_hub.ts";
import { startWebSocketServer, type WebSocketServer } from "../websocket_server.ts";
import { WebSocketRouter } from "../websocket_routing.ts";

/** Messages broadcast between two yields to the event loop. */
const YIELD_EVERY = 16;

/** Resolve after pending I/O had a turn (setImmediate: no 4 ms timer clamping). */
function yieldToIo(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** `formatters.websocket` (with the augur additions). */
export interface WebSocketSettings {
  readonly bind: string;
  readonly port: number;
  readonly heartbeat_interval_seconds: number;
  readonly heartbeat_timeout_seconds: number;
  readonly per_connection_buffer: number;
  readonly auth_token_env?: string;
  readonly max_connections?: number;
  readonly max_message_bytes?: number;
}

/** The config sections the worker reads (structurally a subset of the effective config). */
export interface WebSocketStageConfig {
  readonly formatters: {
    readonly json: { readonly float_decimals: number };
    readonly websocket: WebSocketSettings;
  };
  readonly consumers: ConsumersSettings;
  readonly markets: { readonly markets: readonly { id: string; category: string }[] };
}

/** What the worker needs from the opened components (`Components` fits). */
export interface WebSocketWorkerDeps {
  readonly config: WebSocketStageConfig;
  readonly subjects: Subjects;
  readonly bus?: EventBus;
  /** For `GET /signals` catch-up (answers 503 without one). */
  readonly store?: Pick<Store, "contextsInRange">;
}

/** Everything a running worker exposes to tests and the engine. */
export interface WebSocketEndpoint {
  readonly server: WebSocketServer;
  readonly hub: WebSocketHub;
}

/** Options of {@linkcode websocketWorker} (tests and the engine; production uses config). */
export interface WebSocketWorkerOptions {
  /** Override `formatters.websocket.bind`. */
  readonly hostname?: string;
  /** Override `formatters.websocket.port` (0 = a free port). */
  readonly port?: number;
  /** The token itself (default: read from the env var named by `auth_token_env`). */
  readonly token?: string;
  /** Override the heartbeat period (ms). */
  readonly heartbeatIntervalMs?: number;
  /** Override the idle timeout (seconds). */
  readonly idleTimeoutSeconds?: number;
  /** Socket bufferedAmount above which frames queue (default 1 MiB). */
  readonly highWaterBytes?: number;
  /** Drops fenced-off output of a former `llm` active. */
  readonly fences?: FenceGate;
  /** Recent ids remembered for duplicate suppression (default 10 000). */
  readonly dedupWindow?: number;
  /** Called once the endpoint listens. */
  readonly onListening?: (endpoint: WebSocketEndpoint) => void;
}

/** A bounded set of recently seen ids (insertion-ordered eviction). */
class RecentIds {
  readonly #ids = new Set<string>();
  constructor(readonly capacity: number) {}
  /** True when `id` was seen; remembers it otherwise. */
  seen(id: string): boolean {
    if (this.#ids.has(id)) return true;
    this.#ids.add(id);
    if (this.#ids.size > this.capacity) {
      this.#ids.delete(this.#ids.values().next().value!);
    }
    return false;
  }
}

function resolveToken(config: WebSocketStageConfig, options: WebSocketWorkerOptions) {
  if (options.token !== undefined) return options.token;
  const name = config.formatters.websocket.auth_token_env;
  if (name === undefined) return undefined;
  const token = readSecret(config as unknown as AugurConfig, name, { required: false });
  if (token === undefined) {
    throw new ConfigError(
      `formatters.toml: websocket.auth_token_env: environment variable ${name} is not set (the endpoint refuses to start unauthenticated when a token is configured)`,
    );
  }
  return token;
}

/**
 * Build the `websocket` worker over opened components (bus required; store for catch-up).
 *
 * @example
 * ```ts
 * import { websocketWorker } from "./websocket_stage.ts";
 * import type { Components } from "../components.ts";
 * declare const components: Components;
 * websocketWorker(components, { port: 0 }).kind; // "websocket"
 * ```
 */
export function websocketWorker(
  deps: WebSocketWorkerDeps,
  options: WebSocketWorkerOptions = {},
): Worker {
  const settings = deps.config.formatters.websocket;
  const token = resolveToken(deps.config, options);
  const router = WebSocketRouter.fromConfig(deps.config);
  return {
    kind: "websocket",
    run: async (context: WorkerContext) => {
      const bus = deps.bus;
      if (!bus) throw new ConfigError("websocket worker: expected a bus, received none");
      const { registry, logger } = context;
      const hub = new WebSocketHub({
        bufferSize: settings.per_connection_buffer,
        heartbeatIntervalMs: options.heartbeatIntervalMs ??
          settings.heartbeat_interval_seconds * 1000,
        highWaterBytes: options.highWaterBytes,
        registry,
        logger: logger.child({ component: "websocket-hub" }),
      });
      const server = startWebSocketServer({
        hostname: options.hostname ?? settings.bind,
        port: options.port ?? settings.port,
        hub,
        router,
        store: deps.store,
        token,
        maxConnections: settings.max_connections,
        maxMessageBytes: settings.max_message_bytes,
        idleTimeoutSeconds: options.idleTimeoutSeconds ?? settings.heartbeat_timeout_seconds,
        floatDecimals: deps.config.formatters.json.float_decimals,
        registry,
        logger: logger.child({ component: "websocket" }),
      });
      let reading = 0;
      context.readiness.register("websocket", () => reading === 2);
      options.onListening?.({ server, hub });
      const feed = new Feed(bus, hub, router, {
        registry,
        logger,
        fences: options.fences,
        floatDecimals: deps.config.formatters.json.float_decimals,
        recent: new RecentIds(options.dedupWindow ?? 10_000),
        signal: context.signal,
        onReading: () => reading++,
      });
      try {
        await Promise.all([
          feed.run(deps.subjects.contexts(), "contexts"),
          feed.run(deps.subjects.familyPattern("briefs"), "briefs"),
        ]);
      } finally {
        await server.close();
      }
    },
  };
}

interface FeedOptions {
  readonly registry: MetricsRegistry;
  readonly logger: Logger;
  readonly fences?: FenceGate;
  readonly floatDecimals: number;
  readonly recent: RecentIds;
  readonly signal: AbortSignal;
  readonly onReading: () => void;
}

/** Reads one family from the bus and broadcasts what it decodes. */
class Feed {
  readonly #undecodable;
  readonly #duplicates;
  readonly #fenced;

  constructor(
    readonly bus: EventBus,
    readonly hub: WebSocketHub,
    readonly router: WebSocketRouter,
    readonly o: FeedOptions,
  ) {
    this.#undecodable = o.registry.counter(
      "augur_websocket_undecodable_total",
      "Bus messages the websocket worker could not decode (skipped), by family.",
      ["family"],
    );
    this.#duplicates = o.registry.counter(
      "augur_websocket_duplicates_total",
      "Bus messages skipped as already broadcast (recent-id window), by family.",
      ["family"],
    );
    this.#fenced = o.registry.counter(
      "augur_websocket_fenced_total",
      "Fenced-off singleton output not broadcast, by family.",
      ["family"],
    );
  }

  /** Read `subject` from "new" until the drain; reopen with backoff after a reader error. */
  async run(subject: string, family: "contexts" | "briefs"): Promise<void> {
    const { signal, logger } = this.o;
    let first = true;
    for (let attempt = 0; !signal.aborted; attempt++) {
      let sub: Subscription | undefined;
      const stop = () => void sub?.stop();
      try {
        sub = this.bus.read(subject, { from: { kind: "new" }, worker: "websocket" });
        signal.addEventListener("abort", stop, { once: true });
        if (first) {
          first = false;
          this.o.onReading();
        }
        let handled = 0;
        for await (const delivery of sub) {
          attempt = 0;
          await this.#handle(delivery, family);
          if (signal.aborted) break;
          // Let socket writes run between bursts, so `bufferedAmount` measures the client's
          // real backlog rather than this burst (a memory bus delivers without yielding).
          if (++handled % YIELD_EVERY === 0) await yieldToIo();
        }
      } catch (error) {
        logger.warn("websocket bus reader failed; reopening", {
          subject,
          error: (error as Error).message,
        });
      } finally {
        signal.removeEventListener("abort", stop);
        await sub?.stop().catch(() => {});
      }
      await abortableSleep(Math.min(5000, 100 * 2 ** Math.min(attempt, 6)), signal);
    }
  }

  async #handle(delivery: Delivery, family: "contexts" | "briefs"): Promise<void> {
    if (this.o.fences) {
      const verdict = await this.o.fences.check(delivery);
      if (verdict === "fence") return;
      if (verdict === "reject") {
        this.#fenced.inc({ family });
        return;
      }
    }
    try {
      if (family === "contexts") {
        const context = decode(delivery.payload, KINDS.context);
        if (this.o.recent.seen(`c:${context.signal.signal_id}`)) {
          this.#duplicates.inc({ family });
          return;
        }
        const payload = canonicalJson(context, KINDS.context, {
          floatDecimals: this.o.floatDecimals,
        });
        this.hub.broadcast("signal", payload, this.router.routeContext(context));
      } else {
        const brief = decode(delivery.payload, KINDS.brief);
        if (this.o.recent.seen(`b:${brief.brief_id}`)) {
          this.#duplicates.inc({ family });
          return;
        }
        const payload = canonicalJson(brief, KINDS.brief, {
          floatDecimals: this.o.floatDecimals,
        });
        this.hub.broadcast("brief", payload, this.router.routeBrief(brief));
      }
    } catch (error) {
      this.#undecodable.inc({ family });
      this.o.logger.warn("undecodable message skipped by the websocket worker", {
        subject: delivery.subject,
        position: delivery.position,
        error: (error as Error).message,
      });
    }
  }
}
