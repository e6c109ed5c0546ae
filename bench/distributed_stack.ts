/**
 * The rig of the end-to-end distributed benchmark (bench/distributed_bench.ts): a throwaway
 * bus server (NATS JetStream or Redis Streams), a fresh PostgreSQL database, and the real
 * `augur` processes of a deployment — store, context, dedup, divergence, 2 feature and 2
 * detector replicas, manipulation, calibration — then one simulator poller per platform at a
 * fixed offered load. Built on the e2e tests' rig (tests/helpers/e2e_stack.ts).
 *
 * The bench's instruments, none of which touches augur's code paths:
 * - every `features`, `signals` and `contexts` row gets a `bench_stored_us` column defaulting
 *   to `clock_timestamp()` (added to the bench's own database after `initialize()`; the
 *   store's upserts name their columns, and a redelivered row that changes nothing is not
 *   rewritten, so it keeps the time the row was FIRST stored);
 * - the bus server's own timestamps of what the pollers published: each snapshot message of
 *   one partition and each `augur.ticks.<platform>` announcement ({@linkcode readPublished});
 * - `/proc` CPU time and memory of each process (bench/proc_stats.ts).
 *
 * @example
 * ```ts
 * import { startDistributedStack } from "./distributed_stack.ts";
 * const stack = await startDistributedStack({ bus: "nats", markets: 250, intervalMs: 250 });
 * try {
 *   const pollers = await stack.startPollers();
 *   console.log(pollers.map((p) => p.pid));
 * } finally {
 *   await stack.cleanup();
 * }
 * ```
 * @module
 */
import postgres from "postgres";
import { type BusKind, type E2eStack, startStack } from "../tests/helpers/e2e_stack.ts";
import type { AugurProcess } from "../tests/helpers/augur_process.ts";
import { watchlistToml } from "../tests/helpers/replay_file.ts";
import { simulatorWatchlist } from "../adapters/markets/simulator.ts";
import { Subjects } from "../runtime/subjects.ts";
import { decodeTickMessage } from "../runtime/stages/poller_stage.ts";
import { type Delivery, HEADER, type Subscription } from "../adapters/bus/types.ts";
import type { TickPublication } from "./pipeline_stats.ts";

/** Bus partitions: 2 replicas own 6 each; 12 tick markers per tick and platform. */
export const PARTITIONS = 12;
/**
 * Feature warm-up of the bench (snapshots per market before its first vector; default 50):
 * at the high loads a poller manages only a few ticks in the run.
 */
export const WARMUP_SIZE = 2;
/** The platforms, one poller each. */
export const PLATFORMS = ["polymarket", "kalshi"] as const;

/** What {@linkcode startDistributedStack} builds. */
export interface DistributedStackOptions {
  readonly bus: BusKind;
  /** Simulated markets, half per platform (`[polling.simulator] markets`). */
  readonly markets: number;
  /** Wall-clock milliseconds between ticks (`[polling.simulator] interval_ms`). */
  readonly intervalMs: number;
  /** A seeded book imbalance / volume burst every this many data seconds (default 150). */
  readonly eventEverySeconds?: number;
  /** Worker start-up deadline (default 120 s: ten processes start on a loaded machine). */
  readonly startTimeoutMs?: number;
}

/** One augur process of the rig. */
export interface StackProcess {
  /** `feature-0`, `poller-kalshi`, … */
  readonly name: string;
  /** `feature`, `poller`, … */
  readonly kind: string;
  readonly process: AugurProcess;
}

/** Row counts of the instrumented tables. */
export interface StoredCounts {
  readonly features: number;
  readonly signals: number;
  readonly contexts: number;
}

/** A stored row's data time, market and when it was first stored (epoch µs). */
export interface StoredRow {
  readonly market: string;
  /** `computed_at` of a feature vector, `detected_at` of a context (epoch µs). */
  readonly t: number;
  readonly storedUs: number;
}

/** A running rig. */
export interface DistributedStack {
  readonly stack: E2eStack;
  /** The long-running workers (not the pollers), started and ready. */
  readonly workers: readonly StackProcess[];
  /**
   * Start one simulator poller per platform; resolves once both log "worker started", calling
   * `onStarted` with each as soon as it does.
   */
  startPollers(onStarted?: (poller: StackProcess) => void): Promise<StackProcess[]>;
  /** Row counts of features, signals and contexts. */
  counts(): Promise<StoredCounts>;
  /** Every stored feature vector or context with its first-stored time. */
  rows(table: "features" | "contexts"): Promise<StoredRow[]>;
  /** Process ids of the PostgreSQL backends serving the rig's database (not the bench's). */
  backendPids(): Promise<number[]>;
  /** Kill every process, drop the database, stop the server. */
  cleanup(): Promise<void>;
}

/** markets.toml, polling.toml and engine.toml of the rig. */
function configFiles(options: DistributedStackOptions): Record<string, string> {
  return {
    // Context, dedup and divergence read the watchlist from markets.toml; the pollers derive
    // the same one from [polling.simulator] markets.
    "markets.toml": watchlistToml(simulatorWatchlist({ markets: options.markets })),
    "polling.toml": `[polling.simulator]\nmarkets = ${options.markets}\ninterval_ms = ${
      Math.round(options.intervalMs)
    }\nevent_every_seconds = ${options.eventEverySeconds ?? 150}\n`,
    "engine.toml":
      `[runtime]\ncheckpoint_interval_seconds = 60\n[features]\nwarmup_size = ${WARMUP_SIZE}\n`,
  };
}

const WORKERS: readonly [name: string, args: string[]][] = [
  ["store-0", ["store"]],
  ["context-0", ["context"]],
  ["dedup-0", ["dedup"]],
  ["divergence-0", ["divergence"]],
  ["feature-0", ["feature", "--replica", "0/2"]],
  ["feature-1", ["feature", "--replica", "1/2"]],
  ["detector-0", ["detector", "--replica", "0/2"]],
  ["detector-1", ["detector", "--replica", "1/2"]],
  ["manipulation-0", ["manipulation", "--replica", "0/1"]],
  ["calibration-0", ["calibration", "--replica", "0/1"]],
];

/** Columns the bench adds to its own database: when each row was first stored. */
const INSTRUMENTED = ["features", "signals", "contexts"] as const;

/**
 * Start the server, the database (schema initialized and instrumented) and the ten workers;
 * resolve once every worker has logged "worker started". Production lock and ack timings
 * (30 s lease, 10 s renew; 30 s ack wait), the default sink (batches of 500, 200 ms).
 *
 * @example
 * ```ts
 * import { startDistributedStack } from "./distributed_stack.ts";
 * const rig = await startDistributedStack({ bus: "redis", markets: 1250, intervalMs: 250 });
 * await rig.cleanup();
 * ```
 */
export async function startDistributedStack(
  options: DistributedStackOptions,
): Promise<DistributedStack> {
  const stack = await startStack({
    bus: options.bus,
    partitions: PARTITIONS,
    storage: { batchSize: 500, maxDelayMs: 200, poolSize: 4 },
    checkpointIntervalSeconds: 60,
    ttlSeconds: 30,
    renewIntervalSeconds: 10,
    marginSeconds: 2,
    ackWaitSeconds: 30,
    claimIdleMs: 30_000,
    files: configFiles(options),
  });
  const sql = postgres(stack.db.url, { max: 1, onnotice: () => {} });
  const release = async () => {
    await sql.end({ timeout: 5 }).catch(() => {});
    await stack.cleanup();
  };
  try {
    await stack.store.initialize();
    for (const table of INSTRUMENTED) {
      await sql.unsafe(
        `ALTER TABLE "${table}" ADD COLUMN bench_stored_us bigint DEFAULT ((extract(epoch FROM clock_timestamp()) * 1000000)::bigint)`,
      );
    }
    const spawn = (name: string, args: string[]): StackProcess => ({
      name,
      kind: args[0],
      process: stack.spawn(["run", ...args, "--replica-id", name]),
    });
    const workers = WORKERS.map(([name, args]) => spawn(name, args));
    // Every worker connected before data flows: context's bounded wait for stored ticks must
    // not be spent on a store process that is still starting.
    const timeout = options.startTimeoutMs ?? 120_000;
    await Promise.all(workers.map((w) => w.process.waitForLog("worker started", timeout)));
    const count = async (table: string) =>
      Number((await sql.unsafe(`SELECT count(*)::float8 AS n FROM "${table}"`))[0].n);
    return {
      stack,
      workers,
      startPollers: async (onStarted) => {
        const pollers = PLATFORMS.map((platform) =>
          spawn(`poller-${platform}`, [
            "poller",
            "--platform",
            platform,
            "--source",
            "simulator:42",
          ])
        );
        await Promise.all(pollers.map(async (p) => {
          await p.process.waitForLog("worker started", timeout);
          onStarted?.(p);
        }));
        return pollers;
      },
      counts: async () => ({
        features: await count("features"),
        signals: await count("signals"),
        contexts: await count("contexts"),
      }),
      rows: async (table) => {
        const time = table === "features" ? "computed_at" : "detected_at";
        const rows = await sql.unsafe(
          `SELECT market_id, "${time}"::float8 AS t, bench_stored_us::float8 AS stored FROM "${table}"`,
        );
        return rows.map((r) => ({ market: r.market_id, t: r.t, storedUs: r.stored }));
      },
      backendPids: async () =>
        (await sql.unsafe(
          `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
        )).map((r) => Number(r.pid)),
      cleanup: release,
    };
  } catch (error) {
    stack.dumpStderr();
    await release();
    throw error;
  }
}

/** A snapshot message as the bus stored it: market, data time T (µs), server time (ms). */
export interface SnapshotPublication {
  readonly market: string;
  readonly t: number;
  readonly publishedAtMs: number;
}

/** The partition whose snapshot messages {@linkcode readPublished} reads back. */
export const SAMPLED_PARTITION = 0;

/** What the pollers published, as the bus stored it (see {@linkcode readPublished}). */
export interface Published {
  /** Every tick announcement, with the snapshot count it announced. */
  readonly ticks: TickPublication[];
  /** Every snapshot message of partition {@linkcode SAMPLED_PARTITION}. */
  readonly snapshots: SnapshotPublication[];
}

/**
 * Read `sub` until no message arrived for `idleMs` (`firstMs` for the first one: creating a
 * reader on a loaded server can take a while), then stop it.
 */
async function drainReader(
  sub: Subscription,
  idle: { idleMs: number; firstMs: number },
  onDelivery: (d: Delivery) => void,
): Promise<void> {
  const it = sub[Symbol.asyncIterator]();
  let first = true;
  try {
    while (true) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const wait = first ? idle.firstMs : idle.idleMs;
      first = false;
      const quiet = new Promise<"idle">((resolve) => timer = setTimeout(resolve, wait, "idle"));
      const next = await Promise.race([it.next(), quiet]);
      clearTimeout(timer);
      if (next === "idle" || next.done) return;
      onDelivery(next.value);
    }
  } finally {
    await sub.stop();
  }
}

/**
 * Read back, from the first message, what the pollers published (call it after they
 * stopped): every `augur.ticks.<platform>` announcement — a poller publishes it once every
 * snapshot of the tick is acknowledged — and every snapshot message of one partition, each
 * with the bus server's own timestamp. A reader stops after `idle.idleMs` without a message.
 *
 * @example
 * ```ts
 * import { readPublished, startDistributedStack } from "./distributed_stack.ts";
 * const rig = await startDistributedStack({ bus: "nats", markets: 250, intervalMs: 250 });
 * console.log((await readPublished(rig.stack)).ticks.length);
 * await rig.cleanup();
 * ```
 */
export async function readPublished(
  stack: E2eStack,
  idle = { idleMs: 1_000, firstMs: 15_000 },
): Promise<Published> {
  const subjects = Subjects.fromConfig(stack.config);
  const ticks: Published["ticks"] = [];
  const snapshots: SnapshotPublication[] = [];
  const readers = PLATFORMS.map((platform) =>
    drainReader(
      stack.bus.read(subjects.ticks(platform), { from: { kind: "first" } }),
      idle,
      (d) => {
        const { t, announced } = decodeTickMessage(d.payload);
        ticks.push({ platform, t, announced, publishedAtMs: d.publishedAtMs });
      },
    )
  );
  readers.push(drainReader(
    stack.bus.read(subjects.partitionPattern("snapshots", SAMPLED_PARTITION), {
      from: { kind: "first" },
      batch: 1000,
    }),
    idle,
    (d) => {
      // `snapshot:<market>:<T>`; tick markers share the partition and carry another id.
      const match = /^snapshot:(.+):(\d+)$/.exec(d.headers[HEADER.id] ?? "");
      if (match) {
        snapshots.push({ market: match[1], t: Number(match[2]), publishedAtMs: d.publishedAtMs });
      }
    },
  ));
  await Promise.all(readers);
  return { ticks, snapshots };
}
