/**
 * The shared rig of the process-level e2e tests: a real bus server (NATS or Redis), a fresh
 * PostgreSQL database, a config directory (bus.toml, storage.toml, engine.toml), the test's
 * own bus and store clients, and `augur` processes spawned against them — all torn down by
 * `cleanup()` (processes SIGCONTed and SIGKILLed, clients closed, server stopped, database
 * dropped, config directory removed).
 *
 * @example
 * ```ts
 * import { withStack } from "./e2e_stack.ts";
 * await withStack({
 *   bus: "nats",
 *   partitions: 4,
 *   storage: { batchSize: 200 },
 *   checkpointIntervalSeconds: 1,
 * }, async (stack) => {
 *   const sink = stack.spawn(["run", "store", "--replica-id", "store-0"]);
 *   await sink.waitForLog("worker started");
 * });
 * ```
 * @module
 */
import {
  type ManagedServer,
  pgDatabase,
  startNats,
  startRedis,
  type TestDatabase,
} from "./servers.ts";
import { type AugurProcess, spawnAugur, writeConfigDir } from "./augur_process.ts";
import { SimulatorSource } from "../../adapters/markets/simulator.ts";
import { createEventBus } from "../../adapters/bus/factory.ts";
import type { EventBus } from "../../adapters/bus/types.ts";
import { createStore } from "../../adapters/storage/factory.ts";
import type { Store } from "../../adapters/storage/types.ts";
import { type AugurConfig, loadConfig } from "../../config/loader.ts";
import { MetricsRegistry } from "../../adapters/observability/metrics.ts";
import { createLogger } from "../../adapters/observability/logger.ts";
import { encodeText, KINDS } from "../../pipeline/canonical_json.ts";
import { FeaturePipeline } from "../../pipeline/features.ts";
import type { SnapshotMessage } from "../../pipeline/models.ts";

/**
 * The bus backends the e2e tests run against.
 *
 * @example
 * ```ts
 * import type { BusKind } from "./e2e_stack.ts";
 * const kinds: BusKind[] = ["nats", "redis"];
 * ```
 */
export type BusKind = "nats" | "redis";

/**
 * Knobs of {@linkcode busToml}; the rest are the e2e defaults (20 s drain, 5 s ack wait,
 * 3 s Redis claim idle, 200 ms block, 1 s lock renewal and margin).
 *
 * @example
 * ```ts
 * import type { BusTomlOptions } from "./e2e_stack.ts";
 * const options: BusTomlOptions = { partitions: 8, ttlSeconds: 3 };
 * ```
 */
export interface BusTomlOptions {
  readonly partitions: number;
  /** `[lock] ttl_seconds` (default 3). */
  readonly ttlSeconds?: number;
  /** `[lock] wait_tick_seconds` (default 1). */
  readonly waitTickSeconds?: number;
  /** `[nats] duplicate_window_seconds` (omitted when not given). */
  readonly duplicateWindowSeconds?: number;
  /** `[nats] ack_wait_seconds` (default 5). */
  readonly ackWaitSeconds?: number;
  /** `[redis] claim_idle_ms` (default 3000). */
  readonly claimIdleMs?: number;
  /** `[lock] renew_interval_seconds` (default 1). */
  readonly renewIntervalSeconds?: number;
  /** `[lock] margin_seconds` (default 1). */
  readonly marginSeconds?: number;
}

/**
 * bus.toml text for `kind` with fast lease timings, so failovers happen within seconds.
 *
 * @example
 * ```ts
 * import { busToml } from "./e2e_stack.ts";
 * const text = busToml("redis", "redis://127.0.0.1:6379", { partitions: 4 });
 * text.startsWith('[backend]\nkind = "redis"'); // true
 * ```
 */
export function busToml(kind: BusKind, natsUrl: string, options: BusTomlOptions): string {
  const duplicateWindow = options.duplicateWindowSeconds === undefined
    ? ""
    : `duplicate_window_seconds = ${options.duplicateWindowSeconds}\n`;
  return `[backend]
kind = "${kind}"
partitions = ${options.partitions}
drain_timeout_seconds = 20
[nats]
servers = ["${natsUrl}"]
ack_wait_seconds = ${options.ackWaitSeconds ?? 5}
${duplicateWindow}[redis]
url_env = "REDIS_URL"
claim_idle_ms = ${options.claimIdleMs ?? 3000}
block_ms = 200
[lock]
ttl_seconds = ${options.ttlSeconds ?? 3}
renew_interval_seconds = ${options.renewIntervalSeconds ?? 1}
wait_tick_seconds = ${options.waitTickSeconds ?? 1}
margin_seconds = ${options.marginSeconds ?? 1}
`;
}

/**
 * Knobs of {@linkcode timescaleStorageToml}.
 *
 * @example
 * ```ts
 * import type { TimescaleStorageOptions } from "./e2e_stack.ts";
 * const options: TimescaleStorageOptions = { batchSize: 200, poolSize: 3 };
 * ```
 */
export interface TimescaleStorageOptions {
  /** `[sink] batch_size`. */
  readonly batchSize: number;
  /** `[sink] max_delay_ms` (default 50). */
  readonly maxDelayMs?: number;
  /** `[connection] pool_size` with `max_overflow = 0` (section omitted when not given). */
  readonly poolSize?: number;
}

/**
 * storage.toml text for the TimescaleDB backend (URL from `AUGUR_TIMESCALE_URL`).
 *
 * @example
 * ```ts
 * import { timescaleStorageToml } from "./e2e_stack.ts";
 * timescaleStorageToml({ batchSize: 500 });
 * // '[backend]\nkind = "timescaledb"\n[sink]\nbatch_size = 500\nmax_delay_ms = 50\n'
 * ```
 */
export function timescaleStorageToml(options: TimescaleStorageOptions): string {
  const connection = options.poolSize === undefined
    ? ""
    : `[connection]\npool_size = ${options.poolSize}\nmax_overflow = 0\n`;
  return `[backend]\nkind = "timescaledb"\n${connection}[sink]\nbatch_size = ${options.batchSize}\nmax_delay_ms = ${
    options.maxDelayMs ?? 50
  }\n`;
}

/**
 * engine.toml text setting the runtime checkpoint interval.
 *
 * @example
 * ```ts
 * import { engineToml } from "./e2e_stack.ts";
 * engineToml(1); // "[runtime]\ncheckpoint_interval_seconds = 1\n"
 * ```
 */
export function engineToml(checkpointIntervalSeconds: number): string {
  return `[runtime]\ncheckpoint_interval_seconds = ${checkpointIntervalSeconds}\n`;
}

/**
 * What {@linkcode startStack} builds.
 *
 * @example
 * ```ts
 * import type { StackOptions } from "./e2e_stack.ts";
 * const options: StackOptions = {
 *   bus: "redis",
 *   partitions: 8,
 *   storage: { batchSize: 100, poolSize: 3 },
 *   checkpointIntervalSeconds: 1,
 * };
 * ```
 */
export interface StackOptions extends Omit<BusTomlOptions, "partitions"> {
  readonly bus: BusKind;
  readonly partitions: number;
  readonly storage: TimescaleStorageOptions;
  readonly checkpointIntervalSeconds: number;
  /** Extra environment for the spawned processes and the test's clients. */
  readonly env?: Record<string, string>;
  /** More config files (name → TOML text), written after — and replacing — the stack's own. */
  readonly files?: Record<string, string>;
}

/**
 * A running e2e rig. The test's `bus` is connected; its `store` is created but not
 * initialized (call `store.initialize()` when the test needs the schema before a sink runs).
 *
 * @example
 * ```ts
 * import type { E2eStack } from "./e2e_stack.ts";
 * declare const stack: E2eStack;
 * const feature = stack.spawn(["run", "feature", "--replica", "0/1"]);
 * ```
 */
export interface E2eStack {
  readonly kind: BusKind;
  readonly server: ManagedServer;
  readonly db: TestDatabase;
  /** `AUGUR_TIMESCALE_URL`, `REDIS_URL` and `options.env`. */
  readonly env: Record<string, string>;
  readonly configDir: string;
  readonly config: AugurConfig;
  readonly registry: MetricsRegistry;
  readonly bus: EventBus;
  readonly store: Store;
  /** Every process `spawn` started, in order. */
  readonly processes: AugurProcess[];
  /** `augur <args> --config <dir> --metrics-port 0` with `env`, tracked for cleanup. */
  spawn(args: string[]): AugurProcess;
  /** Print the stderr tail of every spawned process (for a failing test). */
  dumpStderr(): void;
  /** Kill every process and release every resource; never throws for a closed client. */
  cleanup(): Promise<void>;
}

/**
 * Start a bus server and a database, write the config directory and open the test's clients.
 * On a failure part-way, what was started is released before the error propagates.
 *
 * @example
 * ```ts
 * import { startStack } from "./e2e_stack.ts";
 * const stack = await startStack({
 *   bus: "nats",
 *   partitions: 4,
 *   storage: { batchSize: 200 },
 *   checkpointIntervalSeconds: 1,
 * });
 * try {
 *   stack.spawn(["run", "store"]);
 * } finally {
 *   await stack.cleanup();
 * }
 * ```
 */
export async function startStack(options: StackOptions): Promise<E2eStack> {
  const kind = options.bus;
  let server: ManagedServer | undefined;
  let db: TestDatabase | undefined;
  let configDir: string | undefined;
  let bus: EventBus | undefined;
  let store: Store | undefined;
  const processes: AugurProcess[] = [];
  // The teardown order of the original tests: processes, clients, server, database, files.
  const release = async () => {
    for (const p of processes) p.kill("SIGCONT");
    for (const p of processes) p.kill("SIGKILL");
    await Promise.all(processes.map((p) => p.exit()));
    await bus?.close().catch(() => {});
    await store?.close().catch(() => {});
    await server?.stop();
    await db?.drop();
    if (configDir !== undefined) await Deno.remove(configDir, { recursive: true });
  };
  try {
    server = kind === "nats" ? await startNats() : await startRedis();
    db = await pgDatabase();
    const env: Record<string, string> = {
      AUGUR_TIMESCALE_URL: db.url,
      REDIS_URL: server.url,
      ...options.env,
    };
    const dir = configDir = await writeConfigDir({
      "bus.toml": busToml(kind, server.url, options),
      "storage.toml": timescaleStorageToml(options.storage),
      "engine.toml": engineToml(options.checkpointIntervalSeconds),
      ...options.files,
    });
    const quiet = createLogger({ sink: () => {} });
    const registry = new MetricsRegistry();
    bus = await createEventBus({
      backend: { kind, partitions: options.partitions },
      nats: { servers: [server.url] },
      redis: { url_env: "REDIS_URL" },
    }, { env, registry, logger: quiet });
    const config = await loadConfig({ dir, env });
    store = await createStore(config.storage, { env, registry, logger: quiet });
    await bus.connect();
    return {
      kind,
      server,
      db,
      env,
      configDir: dir,
      config,
      registry,
      bus,
      store,
      processes,
      spawn: (args) => {
        const p = spawnAugur([...args, "--config", dir, "--metrics-port", "0"], { env });
        processes.push(p);
        return p;
      },
      dumpStderr: () => {
        for (const p of processes) {
          console.error(`--- stderr of pid ${p.pid} (tail) ---\n${p.stderr().slice(-1500)}`);
        }
      },
      cleanup: release,
    };
  } catch (error) {
    await release();
    throw error;
  }
}

/**
 * Run `body` against a fresh {@linkcode startStack} rig; on failure print every process's
 * stderr tail, and always clean up.
 *
 * @example
 * ```ts
 * import { withStack } from "./e2e_stack.ts";
 * await withStack({
 *   bus: "redis",
 *   partitions: 8,
 *   storage: { batchSize: 500 },
 *   checkpointIntervalSeconds: 1,
 * }, async ({ spawn }) => {
 *   spawn(["run", "store", "--replica-id", "store-0"]);
 * });
 * ```
 */
export async function withStack(
  options: StackOptions,
  body: (stack: E2eStack) => Promise<void>,
): Promise<void> {
  const stack = await startStack(options);
  try {
    await body(stack);
  } catch (error) {
    stack.dumpStderr();
    throw error;
  } finally {
    await stack.cleanup();
  }
}

/**
 * Every snapshot message a seeded simulator emits (30 s ticks), in order.
 *
 * @example
 * ```ts
 * import { simulatedSnapshots } from "./e2e_stack.ts";
 * const messages = await simulatedSnapshots({ seed: 3, markets: 8, ticks: 70 });
 * ```
 */
export async function simulatedSnapshots(
  options: { seed: number; markets: number; ticks: number },
): Promise<SnapshotMessage[]> {
  const source = new SimulatorSource({ ...options, tickSeconds: 30 });
  const out: SnapshotMessage[] = [];
  for await (const tick of source) out.push(...tick.messages);
  await source.close();
  return out;
}

/**
 * The canonical JSON of every feature vector an uninterrupted in-process run computes over
 * `messages`.
 *
 * @example
 * ```ts
 * import { expectedFeatures, simulatedSnapshots } from "./e2e_stack.ts";
 * const expected = expectedFeatures(await simulatedSnapshots({ seed: 3, markets: 8, ticks: 70 }));
 * ```
 */
export function expectedFeatures(messages: readonly SnapshotMessage[]): Set<string> {
  const pipeline = new FeaturePipeline();
  const out = new Set<string>();
  for (const m of messages) {
    const fv = pipeline.update(m.snapshot, { bid_depth: m.bid_depth, ask_depth: m.ask_depth });
    if (fv) out.add(encodeText(fv, KINDS.features));
  }
  return out;
}
