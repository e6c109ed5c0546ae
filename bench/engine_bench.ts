/**
 * Engine throughput and memory (issues 9 and 12): the whole pipeline in one process on a fast
 * finite source into a DuckDB file, as fast as possible.
 *
 * The source is the simulator, which renders platform-shaped responses and normalizes them
 * through the same normalizer a replay uses. Baseline: that source alone (generate +
 * normalize, no pipeline), measured in the same run; the ratio is how much of the source's
 * speed the pipeline keeps. Feature warm-up is shortened to 10 snapshots (named in the row)
 * so that features and detectors run on nearly every snapshot of a short run, as they do in
 * steady state.
 *
 * Memory: peak RSS (the kernel's high-water mark, VmHWM) of a fresh process running the engine
 * over 10,000 markets (2,000 with `--quick`) for a few ticks — a process of its own, so that
 * nothing of the throughput run is counted. Then the same with every market's feature window
 * full from the start, as after a restart on a store with history: the store seed answers
 * 500 stored snapshots per market (generated on demand, so the seed itself costs nothing), so
 * every snapshot yields a vector and every window has its steady-state size.
 *
 * ```sh
 * deno run -A bench/engine_bench.ts [--quick] [--only=throughput|rss|rss-full]
 *   [--tracked=10000] [--rss-ticks=6] [--v8-flags=…]   # --v8-flags: for the RSS processes
 * ```
 *
 * @example
 * ```sh
 * deno run -A bench/engine_bench.ts --quick
 * ```
 * @module
 */
import type { BenchRow } from "./bench_row.ts";
import { type AugurConfig, loadConfig } from "../config/loader.ts";
import { type EngineSummary, runEngine } from "../runtime/engine.ts";
import { DuckDbStore } from "../adapters/storage/duckdb_store.ts";
import { SimulatorSource } from "../adapters/markets/simulator.ts";
import { createLogger } from "../adapters/observability/logger.ts";
import { MetricsRegistry } from "../adapters/observability/metrics.ts";
import type { MarketSnapshot } from "../pipeline/models.ts";
import { parseProcStatus } from "./proc_stats.ts";

const REPO = new URL("../", import.meta.url).pathname;
const WARMUP = 10;
/** Snapshots per market the full-window run seeds (the default feature buffer). */
const SEEDED = 500;
/** The simulator's cadence (µs), which the seeded history continues. */
const SEED_STEP_US = 300_000_000;

async function sourceOnly(markets: number, ticks: number): Promise<number> {
  const source = new SimulatorSource({ seed: 3, markets, ticks, events: [] });
  let n = 0;
  const t0 = performance.now();
  for await (const tick of source) n += tick.messages.length;
  return n / ((performance.now() - t0) / 1000);
}

async function benchConfig(): Promise<AugurConfig> {
  const loaded = await loadConfig({ dir: `${REPO}config` });
  return {
    ...loaded,
    engine: {
      ...loaded.engine,
      features: { ...loaded.engine.features, warmup_size: WARMUP },
    },
  };
}

/**
 * A DuckDB store whose bulk seed answers `SEEDED` plausible snapshots per market before the
 * engine's first tick (a random walk per market), made when the feature stage asks for that
 * market and dropped once it is seeded.
 */
class SeededStore extends DuckDbStore {
  override latestSnapshotsOfAll(
    n: number,
    options: { asOf?: number } = {},
  ): Promise<Map<string, MarketSnapshot[]>> {
    const asOf = options.asOf ?? 0;
    const count = Math.min(n, SEEDED);
    class History extends Map<string, MarketSnapshot[]> {
      override get(market: string): MarketSnapshot[] {
        let h = 0x811c9dc5;
        for (let i = 0; i < market.length; i++) h = Math.imul(h ^ market.charCodeAt(i), 16777619);
        const unit = () => (h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0) / 2 ** 32;
        let price = 0.3 + 0.4 * unit();
        const out: MarketSnapshot[] = [];
        for (let i = 0; i < count; i++) {
          price = Math.min(
            0.95,
            Math.max(0.05, Math.round((price + 0.02 * (unit() - 0.5)) * 100) / 100),
          );
          out.push({
            market_id: market,
            timestamp: asOf + 1 - (count - i) * SEED_STEP_US,
            last_price: price,
            volume_24h: Math.round(20_000 + 80_000 * unit()),
            bid: price - 0.01,
            ask: price + 0.01,
          } as MarketSnapshot);
        }
        return out;
      }
    }
    return Promise.resolve(new History());
  }
}

interface EngineRun {
  summary: EngineSummary;
  seconds: number;
  /** Peak RSS of this process (VmHWM), MiB. */
  peakRssMiB: number;
}

/** One engine run over `markets` simulated markets (both platforms) × `ticks` ticks. */
async function engineRun(
  config: AugurConfig,
  markets: number,
  ticks: number,
  seeded = false,
): Promise<EngineRun> {
  const dir = await Deno.makeTempDir({ prefix: "augur-engine-bench-" });
  const path = `${dir}/bench.duckdb`;
  const store = seeded ? new SeededStore({ path }) : new DuckDbStore({ path });
  await store.initialize();
  const t0 = performance.now();
  try {
    const summary = await runEngine(config, {
      source: "simulator:3",
      once: true,
      simulator: { markets, ticks, events: [] },
      signal: new AbortController().signal,
      store,
      registry: new MetricsRegistry(),
      logger: createLogger({ level: "error" }),
    });
    const seconds = (performance.now() - t0) / 1000;
    const status = parseProcStatus(await Deno.readTextFile("/proc/self/status"));
    return { summary, seconds, peakRssMiB: status.peakRssBytes / 2 ** 20 };
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Run {@linkcode engineRun} in a fresh `deno` process (optionally with V8 flags). */
async function engineRunInProcess(
  markets: number,
  ticks: number,
  seeded: boolean,
  v8Flags: string | undefined,
): Promise<EngineRun> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      ...(v8Flags ? [`--v8-flags=${v8Flags}`] : []),
      new URL(import.meta.url).pathname,
      `--rss-child=${JSON.stringify({ markets, ticks, seeded })}`,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const text = new TextDecoder().decode(output.stdout).trim();
  if (!output.success) throw new Error(`engine RSS process failed (${output.code}): ${text}`);
  return JSON.parse(text.slice(text.lastIndexOf("\n") + 1)) as EngineRun;
}

/** Which parts {@linkcode run} measures, and how. */
export interface EngineBenchOptions {
  readonly quick: boolean;
  /** Parts to run (default all): `throughput`, `rss` (a few ticks), `rss-full` (windows full). */
  readonly only?: readonly ("throughput" | "rss" | "rss-full")[];
  /** Markets of the RSS runs (default 10,000; 2,000 quick). */
  readonly tracked?: number;
  /** Ticks per platform of the RSS runs (default 6; 4 quick). */
  readonly rssTicks?: number;
  /** V8 flags of the RSS processes (e.g. `--max-semi-space-size=4`); named in the rows. */
  readonly v8Flags?: string;
}

/** Run the engine benchmark. */
export async function run(options: EngineBenchOptions): Promise<BenchRow[]> {
  const parts = new Set(options.only ?? ["throughput", "rss", "rss-full"]);
  const markets = options.quick ? 400 : 1_000;
  const ticks = options.quick ? 20 : 40;
  const tracked = options.tracked ?? (options.quick ? 2_000 : 10_000);
  const rssTicks = options.rssTicks ?? (options.quick ? 4 : 6);
  const flags = options.v8Flags ? `, V8 ${options.v8Flags}` : "";
  const rows: BenchRow[] = [];
  if (parts.has("throughput")) {
    const config = await benchConfig();
    const baseline = await sourceOnly(markets, ticks);
    const throughput = await engineRun(config, markets, ticks);
    const rate = throughput.summary.snapshots / throughput.seconds;
    rows.push({
      name:
        `engine end to end into DuckDB, ${markets} markets × ${ticks} ticks (warm-up ${WARMUP}; ${
          Math.round(throughput.summary.features / 1000)
        }k vectors)`,
      augur: Math.round(rate),
      baseline: Math.round(baseline),
      unit: "snapshots/s",
      ratio: rate / baseline,
      target: "≥ 50k snapshots/s (baseline: the source alone)",
      pass: rate >= 50_000,
      // Gross regression: the pipeline keeping under a twentieth of the source's speed (the
      // source alone got ~2× faster in session 3, the engine ~1.3×: it keeps ≈ 0.09-0.1).
      minRatio: 0.1,
    });
  }
  const memoryRow = (memory: EngineRun, name: string): BenchRow => ({
    name,
    augur: Math.round(memory.peakRssMiB),
    baseline: null,
    unit: "MiB",
    ratio: null,
    target: "< 500 MiB at 10k markets",
    pass: tracked >= 10_000 ? memory.peakRssMiB < 500 : null,
  });
  if (parts.has("rss")) {
    const memory = await engineRunInProcess(tracked, rssTicks, false, options.v8Flags);
    rows.push(memoryRow(
      memory,
      `engine peak RSS with ${
        tracked.toLocaleString("en")
      } markets tracked (${rssTicks} ticks${flags})`,
    ));
  }
  if (parts.has("rss-full")) {
    const memory = await engineRunInProcess(tracked, rssTicks, true, options.v8Flags);
    rows.push(memoryRow(
      memory,
      `engine peak RSS with ${
        tracked.toLocaleString("en")
      } markets tracked, windows full (${SEEDED} seeded snapshots each; ${rssTicks} ticks, ${
        Math.round(memory.summary.features / 1000)
      }k vectors${flags})`,
    ));
  }
  return rows;
}

function flag(name: string): string | undefined {
  const prefix = `--${name}=`;
  return Deno.args.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}

if (import.meta.main) {
  const child = flag("rss-child");
  if (child !== undefined) {
    const { markets, ticks, seeded } = JSON.parse(child);
    const result = await engineRun(await benchConfig(), markets, ticks, seeded);
    console.log(JSON.stringify(result));
  } else {
    const only = flag("only")?.split(",") as EngineBenchOptions["only"];
    const tracked = flag("tracked");
    const rssTicks = flag("rss-ticks");
    const rows = await run({
      quick: Deno.args.includes("--quick"),
      only,
      tracked: tracked ? Number(tracked) : undefined,
      rssTicks: rssTicks ? Number(rssTicks) : undefined,
      v8Flags: flag("v8-flags"),
    });
    for (const row of rows) console.log(row);
  }
}
