/**
 * Engine throughput and memory (issue 9): the whole pipeline in one process on a fast finite
 * source into a DuckDB file, as fast as possible.
 *
 * The source is the simulator, which renders platform-shaped responses and normalizes them
 * through the same normalizer a replay uses. Baseline: that source alone (generate +
 * normalize, no pipeline), measured in the same run; the ratio is how much of the source's
 * speed the pipeline keeps. Feature warm-up is shortened to 10 snapshots (named in the row)
 * so that features and detectors run on nearly every snapshot of a short run, as they do in
 * steady state.
 *
 * Memory: peak RSS of a second run tracking 10,000 markets (2,000 with `--quick`).
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

const REPO = new URL("../", import.meta.url).pathname;
const WARMUP = 10;

async function sourceOnly(markets: number, ticks: number): Promise<number> {
  const source = new SimulatorSource({ seed: 3, markets, ticks, events: [] });
  let n = 0;
  const t0 = performance.now();
  for await (const tick of source) n += tick.messages.length;
  return n / ((performance.now() - t0) / 1000);
}

interface EngineRun {
  summary: EngineSummary;
  seconds: number;
  peakRssMiB: number;
}

/** One engine run over `markets` simulated markets (both platforms) × `ticks` ticks. */
async function engineRun(config: AugurConfig, markets: number, ticks: number): Promise<EngineRun> {
  const dir = await Deno.makeTempDir({ prefix: "augur-engine-bench-" });
  const store = new DuckDbStore({ path: `${dir}/bench.duckdb` });
  await store.initialize();
  let peak = Deno.memoryUsage().rss;
  const sampler = setInterval(() => peak = Math.max(peak, Deno.memoryUsage().rss), 100);
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
    peak = Math.max(peak, Deno.memoryUsage().rss);
    return { summary, seconds, peakRssMiB: peak / 2 ** 20 };
  } finally {
    clearInterval(sampler);
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Run the engine benchmark. */
export async function run(options: { quick: boolean }): Promise<BenchRow[]> {
  const markets = options.quick ? 400 : 1_000;
  const ticks = options.quick ? 20 : 40;
  const tracked = options.quick ? 2_000 : 10_000;
  const loaded = await loadConfig({ dir: `${REPO}config` });
  const config: AugurConfig = {
    ...loaded,
    engine: {
      ...loaded.engine,
      features: { ...loaded.engine.features, warmup_size: WARMUP },
    },
  };
  const baseline = await sourceOnly(markets, ticks);
  const throughput = await engineRun(config, markets, ticks);
  const rate = throughput.summary.snapshots / throughput.seconds;
  const memory = await engineRun(config, tracked, options.quick ? 4 : 6);
  return [
    {
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
      // Gross regression: the pipeline keeping under a tenth of the source's speed.
      minRatio: 0.2,
    },
    {
      name: `engine peak RSS with ${tracked.toLocaleString("en")} markets tracked`,
      augur: Math.round(memory.peakRssMiB),
      baseline: null,
      unit: "MiB",
      ratio: null,
      target: "< 500 MiB at 10k markets",
      pass: tracked >= 10_000 ? memory.peakRssMiB < 500 : null,
    },
  ];
}

if (import.meta.main) {
  for (const row of await run({ quick: Deno.args.includes("--quick") })) console.log(row);
}
