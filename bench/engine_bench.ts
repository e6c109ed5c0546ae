/**
 * Engine throughput (issue 9): the whole pipeline in one process on a fast finite source
 * (the simulator's rendered platform responses, the same path a replay takes) into a DuckDB
 * file, as fast as possible. Baseline: the source alone (generate + normalize, no pipeline),
 * measured in the same run. Also reports the process RSS with many markets tracked.
 *
 * @example
 * ```sh
 * deno run -A bench/engine_bench.ts --quick
 * ```
 * @module
 */
import type { BenchRow } from "./bench_row.ts";
import { loadConfig } from "../config/loader.ts";
import { runEngine } from "../runtime/engine.ts";
import { DuckDbStore } from "../adapters/storage/duckdb_store.ts";
import { SimulatorSource } from "../adapters/markets/simulator.ts";
import { createLogger } from "../adapters/observability/logger.ts";
import { MetricsRegistry } from "../adapters/observability/metrics.ts";

const REPO = new URL("../", import.meta.url).pathname;

async function sourceOnly(markets: number, ticks: number): Promise<number> {
  const source = new SimulatorSource({ seed: 3, markets, ticks, events: [] });
  let n = 0;
  const t0 = performance.now();
  for await (const tick of source) n += tick.messages.length;
  return n / ((performance.now() - t0) / 1000);
}

/** Run the engine benchmark. */
export async function run(options: { quick: boolean }): Promise<BenchRow[]> {
  const markets = options.quick ? 200 : 1_000;
  const ticks = options.quick ? 10 : 20;
  const config = await loadConfig({ dir: `${REPO}config` });
  const dir = await Deno.makeTempDir({ prefix: "augur-engine-bench-" });
  const store = new DuckDbStore({ path: `${dir}/bench.duckdb` });
  await store.initialize();
  const baseline = await sourceOnly(markets, ticks);
  const t0 = performance.now();
  let peakRss = 0;
  const sampler = setInterval(() => peakRss = Math.max(peakRss, Deno.memoryUsage().rss), 100);
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
  clearInterval(sampler);
  peakRss = Math.max(peakRss, Deno.memoryUsage().rss);
  await store.close();
  await Deno.remove(dir, { recursive: true });
  const rate = summary.snapshots / seconds;
  return [
    {
      name: `engine end to end into DuckDB, ${markets} markets × ${ticks} ticks/platform`,
      augur: Math.round(rate),
      baseline: Math.round(baseline),
      unit: "snapshots/s",
      ratio: rate / baseline,
      target: "≥ 50k snapshots/s",
      pass: rate >= 50_000,
    },
    {
      name: `engine peak RSS with ${markets} markets tracked`,
      augur: Math.round(peakRss / 2 ** 20),
      baseline: null,
      unit: "MiB",
      ratio: null,
      target: "< 500 MiB at 10k markets",
      pass: null,
    },
  ];
}

if (import.meta.main) {
  for (const row of await run({ quick: Deno.args.includes("--quick") })) console.log(row);
}
