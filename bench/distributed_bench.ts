/**
 * The end-to-end distributed benchmark (issue 12 item 2; the latency report of issue 5): real
 * `augur` processes — a simulator poller per platform → 2 feature → 2 detector → manipulation →
 * calibration → divergence + dedup → context → store — over NATS JetStream and over Redis
 * Streams into PostgreSQL, at fixed offered loads of 1k, 5k and 20k snapshots/s
 * (bench/distributed_stack.ts builds the rig; every load point gets a fresh one).
 *
 * Offered load: `[polling.simulator]` with `interval_ms = 250` and `markets = load / 4`, so
 * each poller publishes its half of the markets every 250 ms on a fixed wall-clock schedule
 * (a poller that falls behind publishes the overdue ticks at once: the offered rate holds for
 * as long as it can). Data time runs 300 s per tick (the cadence the simulator's detection
 * shapes assume), i.e. 20 min of market time per wall second; `features.warmup_size = 2`
 * (default 50) so vectors, and signals, start within the short run even at the loads where a
 * poller manages only a few ticks — warm-up only gates emission, every snapshot is processed
 * the same. A seeded book imbalance or volume burst every 150 data seconds keeps signals,
 * hence contexts, flowing. Each load point offers load for `seconds` (10; 8 with --quick),
 * then the pollers are stopped (SIGTERM) and the pipeline is given a bounded drain (10 s).
 *
 * Figures (per bus and load):
 * - throughput: feature vectors stored per second (each is one snapshot through poller → bus
 *   → feature → bus → store), from the publish of the first tick that yields vectors (the
 *   `warmup_size`-th, on both platforms) to the storing of the last vector, against the
 *   offered load. While the pipeline keeps up this is the offered rate (less the last
 *   vector's latency over the span); when a stage — or the poller itself — falls behind, it
 *   is the pace at which the backlog was worked off, i.e. that stage's capacity (a drain cut
 *   short counts what was stored by then). Target ≥ 90 % of offered — a pass/short statement
 *   about this machine, not a ratio gate: the higher loads are far beyond 2 shared cores,
 *   which is the point of measuring them.
 * - latency snapshot publish → stored feature vector, p50/p99: for every snapshot of one
 *   partition (1/12 of the markets), the bus server's timestamp of the snapshot message to
 *   the PostgreSQL `clock_timestamp()` at which its feature vector was first stored.
 * - latency snapshot publish → stored context, p50/p99: for every stored context, from the
 *   moment the data its signal rests on had been published — the first tick with T ≥
 *   detected_at, on every platform (bus timestamp of the tick announcement, which follows the
 *   tick's last acknowledged snapshot; dedup closes a data-time window only once every
 *   platform has passed it) — to when the context was first stored. It spans the whole
 *   pipeline: detection, manipulation, calibration, dedup's window close, context assembly
 *   (which waits for the tick to be fully stored) and the store sink.
 * - CPU seconds per 1,000 snapshots: utime + stime of every augur process (and its
 *   descendants) over the load window — workers from just before the pollers start to the end
 *   of the drain, pollers from their start-up log to SIGTERM — per 1,000 snapshots published.
 *   The bus server and the PostgreSQL backends are logged apart (not augur's).
 * - peak RSS: the largest VmHWM of one augur process (every process is logged).
 * If the drain does not finish within its bound, the latencies cover only what was stored
 * (a lower bound; the row says so).
 *
 * The progress log (stderr) lists, per load point, every process's CPU (seconds and share of
 * one core over the window) and peak RSS, the poller's achieved publish rate and the drain.
 *
 * ```
 * deno run -A bench/distributed_bench.ts [--quick] [--bus nats|redis] [--loads 1000,5000] [--seconds 15]
 * ```
 *
 * @example
 * ```ts
 * import { run } from "./distributed_bench.ts";
 * const rows = await run({ quick: true });
 * console.log(rows.map((r) => `${r.name}: ${r.augur} ${r.unit}`));
 * ```
 * @module
 */
import { type BenchRow, formatTable } from "./bench_row.ts";
import {
  type DistributedStack,
  PLATFORMS,
  type Published,
  readPublished,
  type StackProcess,
  startDistributedStack,
  type StoredCounts,
  WARMUP_SIZE,
} from "./distributed_stack.ts";
import { type LatencySummary, summarize, throughputSince, TickTimes } from "./pipeline_stats.ts";
import { processTree, sampleTree, type TreeSample } from "./proc_stats.ts";
import { hasService } from "../tests/helpers/servers.ts";
import type { BusKind } from "../tests/helpers/e2e_stack.ts";
import { UsageError } from "../config/errors.ts";

/** Wall-clock milliseconds between poller ticks (4 ticks/s per platform). */
export const INTERVAL_MS = 250;

/** What one run measures. */
export interface DistributedBenchOptions {
  readonly quick: boolean;
  /** Buses (default: both; quick: nats). */
  readonly buses?: readonly BusKind[];
  /** Offered loads in snapshots/s (default 1k, 5k, 20k; quick: 1k). */
  readonly loads?: readonly number[];
  /** Seconds of offered load per point (default 10; quick 8). */
  readonly seconds?: number;
  /** Progress lines (default stderr). */
  readonly log?: (line: string) => void;
}

/** One process's share of a load point. */
export interface ProcessUsage {
  readonly name: string;
  readonly kind: string;
  readonly cpuSeconds: number;
  readonly peakRssBytes: number;
}

/** Everything measured at one (bus, load) point. */
export interface PointResult {
  readonly bus: BusKind;
  readonly offered: number;
  readonly markets: number;
  /** Snapshots the pollers published (sum of tick announcements). */
  readonly published: number;
  /** Snapshots/s the pollers published, first to last tick. */
  readonly pollerRate: number;
  /**
   * Feature vectors stored per second, from the publish of the first tick that yields them to
   * the last one stored (0: none).
   */
  readonly throughput: number;
  /** That span, seconds. */
  readonly windowSeconds: number;
  readonly featureLatency: LatencySummary;
  readonly contextLatency: LatencySummary;
  readonly signals: number;
  /** The drain finished (every vector stored, a context per signal, quiet) in time. */
  readonly drained: boolean;
  /** Seconds from the pollers' stop to the end of the drain (or its bound). */
  readonly drainSeconds: number;
  /** augur processes (workers and pollers) over the load window. */
  readonly processes: readonly ProcessUsage[];
  /** Wall seconds of the load window (pollers started → drain over). */
  readonly loadSeconds: number;
  /** CPU seconds of the bus server and of the database's PostgreSQL backends. */
  readonly serverCpu: { readonly bus: number; readonly postgres: number };
  /** Wall seconds the point took, start-up and teardown included. */
  readonly wallSeconds: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const MB = 1024 * 1024;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<undefined>((resolve) => timer = setTimeout(() => resolve(undefined), ms)),
  ]);
}

/** Markets for an offered load: an even count (half per platform), `load × interval`. */
export function marketsFor(load: number, intervalMs = INTERVAL_MS): number {
  return Math.max(2, 2 * Math.round((load * intervalMs) / 1000 / 2));
}

/** CPU seconds of the bus server (a child of this process) and of the database's backends. */
async function serverCpu(rig: DistributedStack): Promise<{ bus: number; postgres: number }> {
  let bus = 0;
  for (const pid of processTree(Deno.pid)) {
    try {
      const comm = Deno.readTextFileSync(`/proc/${pid}/comm`).trim();
      if (comm === "nats-server" || comm === "redis-server") bus += sampleTree(pid).cpuSeconds;
    } catch { /* gone */ }
  }
  let postgres = 0;
  for (const pid of await rig.backendPids()) postgres += sampleTree(pid).cpuSeconds;
  return { bus, postgres };
}

/**
 * Wait, within `drainMs`, for the pipeline to finish what the pollers published: every
 * feature vector stored and a context for every signal — held for 1.5 s, so signals still
 * trickling out of dedup are waited for; at the deadline, the two conditions alone decide.
 */
async function drain(
  rig: DistributedStack,
  expectedFeatures: number,
  drainMs: number,
): Promise<boolean> {
  const deadline = Date.now() + drainMs;
  const done = (c: StoredCounts) => c.features >= expectedFeatures && c.contexts === c.signals;
  let last = "";
  let stable = 0;
  while (true) {
    await sleep(500);
    const counts = await rig.counts();
    if (Date.now() >= deadline) return done(counts);
    const key = JSON.stringify(counts);
    stable = key === last ? stable + 1 : 0;
    last = key;
    if (done(counts) && stable >= 3) return true;
  }
}

/** Measure one (bus, load) point on a fresh rig. */
export async function measurePoint(
  bus: BusKind,
  offered: number,
  options: { seconds: number; drainMs: number; log: (line: string) => void },
): Promise<PointResult> {
  const t0 = performance.now();
  const markets = marketsFor(offered);
  const rig = await startDistributedStack({ bus, markets, intervalMs: INTERVAL_MS });
  try {
    const before = new Map<string, TreeSample>(
      rig.workers.map((w) => [w.name, sampleTree(w.process.pid)]),
    );
    const serversBefore = await serverCpu(rig);
    const loadStart = performance.now();
    const pollers = await rig.startPollers((p) => before.set(p.name, sampleTree(p.process.pid)));
    await sleep(options.seconds * 1000);
    const pollerEnd = new Map(pollers.map((p) => [p.name, sampleTree(p.process.pid)]));
    for (const p of pollers) p.process.kill("SIGTERM");
    const stoppedAt = performance.now();
    for (const p of pollers) {
      const code = await withTimeout(p.process.exit(), 30_000);
      if (code !== 0) {
        options.log(`  ${p.name} exited ${code ?? "(still running)"}:\n${p.process.stderr()}`);
      }
    }
    const published = await readPublished(rig.stack);
    const expected = expectedFeatures(published);
    const drained = await drain(rig, expected, options.drainMs);
    const drainSeconds = (performance.now() - stoppedAt) / 1000;
    const loadSeconds = (performance.now() - loadStart) / 1000;
    const end = new Map(rig.workers.map((w) => [w.name, sampleTree(w.process.pid)]));
    for (const [name, sample] of pollerEnd) end.set(name, sample);
    const serversAfter = await serverCpu(rig);
    const usage = [...rig.workers, ...pollers].map((p: StackProcess): ProcessUsage => ({
      name: p.name,
      kind: p.kind,
      cpuSeconds: end.get(p.name)!.cpuSeconds - before.get(p.name)!.cpuSeconds,
      peakRssBytes: end.get(p.name)!.peakRssBytes,
    }));
    const figures = await pipelineFigures(rig, published);
    if (!drained) {
      options.log(
        `  drain incomplete after ${drainSeconds.toFixed(1)} s: ${
          JSON.stringify(await rig.counts())
        }, expected ${expected} feature vectors`,
      );
    }
    return {
      bus,
      offered,
      markets,
      published: published.ticks.reduce((s, t) => s + t.announced, 0),
      ...figures,
      drained,
      drainSeconds,
      processes: usage,
      loadSeconds,
      serverCpu: {
        bus: serversAfter.bus - serversBefore.bus,
        postgres: serversAfter.postgres - serversBefore.postgres,
      },
      wallSeconds: (performance.now() - t0) / 1000,
    };
  } catch (error) {
    rig.stack.dumpStderr();
    throw error;
  } finally {
    await rig.cleanup();
  }
}

/** Feature vectors the published ticks yield: per market, one per snapshot from the warm-up on. */
function expectedFeatures(published: Published): number {
  let total = 0;
  for (const platform of PLATFORMS) {
    const ticks = published.ticks.filter((t) => t.platform === platform);
    const perTick = ticks[0]?.announced ?? 0;
    total += perTick * Math.max(0, ticks.length - WARMUP_SIZE + 1);
  }
  return total;
}

/** Throughput and latencies from what was published and what was stored. */
async function pipelineFigures(
  rig: DistributedStack,
  published: Published,
): Promise<
  Pick<
    PointResult,
    | "pollerRate"
    | "throughput"
    | "windowSeconds"
    | "featureLatency"
    | "contextLatency"
    | "signals"
  >
> {
  const ticks = new TickTimes(published.ticks);
  const features = await rig.rows("features");
  const contexts = await rig.rows("contexts");
  // From the first tick that yields vectors (every platform published it) to the last vector
  // stored.
  const from = ticks.allPublishedAt(WARMUP_SIZE - 1);
  const storedMs = features.map((r) => r.storedUs / 1000);
  // None stored (or no tick yielding vectors): nothing went through.
  const throughput = (from === undefined ? NaN : throughputSince(from, storedMs)) || 0;
  const windowSeconds = from === undefined
    ? 0
    : (storedMs.reduce((a, b) => Math.max(a, b), from) - from) / 1000;
  // Snapshot → feature: exact per snapshot of the sampled partition.
  const snapshotAt = new Map(published.snapshots.map((s) => [`${s.market}|${s.t}`, s]));
  const featureLatencies: number[] = [];
  for (const row of features) {
    const snapshot = snapshotAt.get(`${row.market}|${row.t}`);
    if (snapshot) featureLatencies.push(row.storedUs / 1000 - snapshot.publishedAtMs);
  }
  // Snapshot → context: from the signal's data being published on every platform.
  const contextLatencies: number[] = [];
  for (const row of contexts) {
    const dataAt = ticks.dataPublishedAt(row.t);
    if (dataAt !== undefined) contextLatencies.push(row.storedUs / 1000 - dataAt);
  }
  return {
    pollerRate: ticks.publishRate(),
    throughput,
    windowSeconds,
    featureLatency: summarize(featureLatencies),
    contextLatency: summarize(contextLatencies),
    signals: (await rig.counts()).signals,
  };
}

/** "1k", "20k", "500". */
function loadLabel(load: number): string {
  return load >= 1000 && load % 1000 === 0 ? `${load / 1000}k` : String(load);
}

/**
 * The table rows of one point.
 *
 * @example
 * ```ts
 * import { measurePoint, pointRows } from "./distributed_bench.ts";
 * const point = await measurePoint("nats", 1000, { seconds: 8, drainMs: 10_000, log: console.error });
 * console.log(pointRows(point).map((r) => r.name));
 * ```
 */
export function pointRows(point: PointResult): BenchRow[] {
  const prefix = `${point.bus} ${loadLabel(point.offered)}/s`;
  const partial = point.drained ? "" : ", drain incomplete: lower bound";
  const rows: BenchRow[] = [];
  const ratio = point.throughput / point.offered;
  rows.push({
    name: `${prefix}: throughput (snapshot → stored feature; pollers sent ${
      Math.round(point.pollerRate)
    }/s)`,
    augur: point.throughput,
    baseline: point.offered,
    unit: "snapshots/s",
    ratio,
    target: "≥ 90 % of offered",
    pass: ratio >= 0.9,
  });
  const latency = (what: string, s: LatencySummary) => {
    if (s.n === 0) return;
    for (const [q, value] of [["p50", s.p50], ["p99", s.p99]] as const) {
      rows.push({
        name: `${prefix}: latency snapshot publish → stored ${what} ${q} (n=${s.n}${partial})`,
        augur: value,
        baseline: null,
        unit: "ms",
        ratio: null,
        target: "report (issue 5)",
        pass: null,
      });
    }
  };
  latency("feature", point.featureLatency);
  latency("context", point.contextLatency);
  const cpu = point.processes.reduce((s, p) => s + p.cpuSeconds, 0);
  rows.push({
    name: `${prefix}: CPU per 1,000 snapshots (all ${point.processes.length} augur processes)`,
    augur: point.published > 0 ? (cpu / point.published) * 1000 : 0,
    baseline: null,
    unit: "CPU s",
    ratio: null,
    target: "report",
    pass: null,
  });
  const largest = point.processes.reduce((a, b) => a.peakRssBytes >= b.peakRssBytes ? a : b);
  rows.push({
    name: `${prefix}: peak RSS of the largest process (${largest.name})`,
    augur: largest.peakRssBytes / MB,
    baseline: null,
    unit: "MB",
    ratio: null,
    target: "report",
    pass: null,
  });
  return rows;
}

/** The progress-log lines of one point: processes, servers, poller rate, drain. */
export function describePoint(point: PointResult): string[] {
  const lines = [
    `  ${point.bus} ${
      loadLabel(point.offered)
    }/s: ${point.markets} markets, ${point.published} snapshots published, pollers ${
      Math.round(point.pollerRate)
    }/s, feature vectors stored ${Math.round(point.throughput)}/s over ${
      point.windowSeconds.toFixed(1)
    } s; ${point.signals} signals; drain ${point.drained ? "done" : "INCOMPLETE"} in ${
      point.drainSeconds.toFixed(1)
    } s; point took ${point.wallSeconds.toFixed(0)} s`,
    `  ${"process".padEnd(20)} ${"CPU s".padStart(7)} ${"≈cores".padStart(7)} ${
      "peak RSS MB".padStart(12)
    }`,
  ];
  const span = point.loadSeconds;
  for (const p of [...point.processes].sort((a, b) => b.cpuSeconds - a.cpuSeconds)) {
    lines.push(
      `  ${p.name.padEnd(20)} ${p.cpuSeconds.toFixed(2).padStart(7)} ${
        (p.cpuSeconds / span).toFixed(2).padStart(7)
      } ${(p.peakRssBytes / MB).toFixed(0).padStart(12)}`,
    );
  }
  lines.push(
    `  ${`${point.bus}-server`.padEnd(20)} ${point.serverCpu.bus.toFixed(2).padStart(7)} ${
      (point.serverCpu.bus / span).toFixed(2).padStart(7)
    }`,
    `  ${"postgres backends".padEnd(20)} ${point.serverCpu.postgres.toFixed(2).padStart(7)} ${
      (point.serverCpu.postgres / span).toFixed(2).padStart(7)
    }`,
  );
  return lines;
}

/**
 * Run the benchmark: every (bus, load) point on a fresh rig. Buses whose server binary is
 * missing are skipped (no rows), as is everything without `psql`.
 *
 * @example
 * ```ts
 * import { run } from "./distributed_bench.ts";
 * const rows = await run({ quick: true });
 * ```
 */
export async function run(options: DistributedBenchOptions): Promise<BenchRow[]> {
  const log = options.log ?? ((line: string) => console.error(line));
  const buses = options.buses ?? (options.quick ? ["nats"] : ["nats", "redis"]);
  const loads = options.loads ?? (options.quick ? [1000] : [1000, 5000, 20_000]);
  const seconds = options.seconds ?? (options.quick ? 8 : 10);
  const drainMs = 10_000;
  const rows: BenchRow[] = [];
  for (const bus of buses) {
    if (!hasService(bus === "nats" ? "nats" : "redis")) {
      log(`  ${bus}: server binary not installed, skipped`);
      continue;
    }
    for (const load of loads) {
      log(`  ${bus} ${loadLabel(load)}/s for ${seconds} s …`);
      const point = await measurePoint(bus, load, { seconds, drainMs, log });
      for (const line of describePoint(point)) log(line);
      rows.push(...pointRows(point));
    }
  }
  return rows;
}

/** Parse `[--quick] [--bus nats,redis] [--loads 1000,5000] [--seconds N]`. */
export function parseArgs(args: readonly string[]): DistributedBenchOptions {
  let quick = false;
  let buses: BusKind[] | undefined;
  let loads: number[] | undefined;
  let seconds: number | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const eq = arg.indexOf("=");
    const flag = eq >= 0 ? arg.slice(0, eq) : arg;
    const value = () => {
      const v = eq >= 0 ? arg.slice(eq + 1) : args[++i];
      if (v === undefined) throw new UsageError(`${flag}: expected a value, received nothing`);
      return v;
    };
    if (flag === "--quick") quick = true;
    else if (flag === "--bus") {
      buses = value().split(",").map((b) => {
        if (b !== "nats" && b !== "redis") {
          throw new UsageError(`--bus: expected nats or redis, received "${b}"`);
        }
        return b;
      });
    } else if (flag === "--loads") {
      loads = value().split(",").map((l) => {
        const n = Number(l.replace(/k$/i, "000"));
        if (!Number.isFinite(n) || n <= 0) {
          throw new UsageError(`--loads: expected positive snapshots/s, received "${l}"`);
        }
        return n;
      });
    } else if (flag === "--seconds") {
      seconds = Number(value());
      if (!(seconds > 0)) throw new UsageError(`--seconds: expected > 0, received ${seconds}`);
    } else {
      throw new UsageError(
        `unknown argument "${arg}": expected --quick, --bus nats|redis, --loads a,b or --seconds N`,
      );
    }
  }
  return { quick, buses, loads, seconds };
}

if (import.meta.main) {
  try {
    const options = parseArgs(Deno.args);
    const started = performance.now();
    const rows = await run(options);
    console.log(formatTable(rows));
    console.log(`${rows.length} rows in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(error.message);
      Deno.exit(2);
    }
    throw error;
  }
}
