/**
 * Pure-core throughput of the signals-out stages, measured in one run:
 * - context: {@linkcode gatherContextInputs} over an in-memory {@linkcode memorySnapshotLookup}
 *   + {@linkcode assembleContext} + canonical JSON, per signal (3 related markets each).
 *   Baseline: the same context object printed with `JSON.stringify` (no canonical printer,
 *   no assembly). Target ≥ 20,000 signals/s for the pure core (the Store-backed figures with
 *   PostgreSQL/DuckDB are in `context_store_bench.ts`).
 * - dedup: {@linkcode dedupWindow} over windows of 200 signals (50 % fingerprint duplicates,
 *   clustered neighbours). Baseline: sorting the same window only. Target ≥ 50,000 signals/s.
 *
 * Run: `deno run -A bench/dedup_context_bench.ts [--quick]`
 *
 * @example
 * ```ts
 * import { run } from "./dedup_context_bench.ts";
 * console.table(await run({ quick: true }));
 * ```
 * @module
 */
import { canonicalJson, KINDS } from "../pipeline/canonical_json.ts";
import {
  assembleContext,
  type ContextDeps,
  gatherContextInputs,
  memorySnapshotLookup,
} from "../pipeline/context.ts";
import { compareSignals, dedupWindow } from "../pipeline/dedup.ts";
import { makeSignal, type MarketSignal, type MarketSnapshot } from "../pipeline/models.ts";
import { PromptLibrary } from "../pipeline/prompts.ts";
import { Taxonomy } from "../pipeline/taxonomy.ts";

/** One printed benchmark row. */
export interface BenchRow {
  name: string;
  augur: number;
  baseline: number | null;
  unit: string;
  ratio: number | null;
  target: string;
  pass: boolean | null;
}

/** Time of the fixture signals (epoch µs). */
export const T0 = Date.UTC(2026, 2, 15, 12) * 1000;
/** Markets of the fixtures. */
export const MARKETS = 200;

/** Signal `i` on market `m<market>` at `at`. */
export function signalOf(i: number, market: number, at: number): MarketSignal {
  return makeSignal({
    signal_id: `0190a1b2-c3d4-7e5f-8a6b-${i.toString(16).padStart(12, "0")}`,
    market_id: `m${market}`,
    platform: "kalshi",
    signal_type: "volume_spike",
    magnitude: 0.3 + (i % 7) / 10,
    direction: 1,
    confidence: 0.25,
    fdr_adjusted: false,
    detected_at: at,
    window_seconds: 3600,
    liquidity_tier: (["high", "mid", "low"] as const)[i % 3],
    manipulation_flags: i % 5 === 0 ? ["thin_book_during_move"] : [],
    raw_features: {
      calibration_provenance: "volume_spike_ewma_z_v1@identity_v0",
      z_score: 2.5,
      ewma_mean: 1.1,
      ewma_std: 0.3,
      volume_ratio_1h: 2.2,
    },
    schema_version: "1.0.0",
  });
}

/** Taxonomy (2 relationships per market), context deps, 50 snapshots per market. */
export function fixtures() {
  const relationships = [];
  for (let m = 0; m < MARKETS; m++) {
    relationships.push({
      market_a: `m${m}`,
      market_b: `m${(m + 1) % MARKETS}`,
      type: "positive" as const,
    });
    relationships.push({
      market_a: `m${m}`,
      market_b: `m${(m + 7) % MARKETS}`,
      type: "complex" as const,
    });
  }
  const snapshots: MarketSnapshot[] = [];
  for (let m = 0; m < MARKETS; m++) {
    for (let k = 0; k < 50; k++) {
      snapshots.push({
        market_id: `m${m}`,
        platform: "kalshi",
        timestamp: T0 - k * 1800 * 1_000_000,
        last_price: 0.4 + (k % 10) / 100,
        bid: 0.39,
        ask: 0.41,
        spread: 0.02,
        volume_24h: 80000 + k,
        liquidity: 12000,
        question: `Question ${m}?`,
        resolution_source: "Source",
        resolution_criteria: "Criteria text.",
        closes_at: T0 + 86_400_000_000 * 30,
        raw_json: {},
        schema_version: "1.0.0",
      });
    }
  }
  const taxonomy = Taxonomy.fromRelationships(relationships);
  const deps: ContextDeps = {
    taxonomy,
    prompts: PromptLibrary.fromEntries([
      { signal_type: "volume_spike", market_category: "monetary_policy", prompts: ["Check."] },
    ]),
    categories: Object.fromEntries(
      [...Array(MARKETS).keys()].map((m) => [`m${m}`, "monetary_policy"]),
    ),
  };
  return { taxonomy, deps, snapshots, lookup: memorySnapshotLookup(snapshots) };
}

async function contextRows(quick: boolean): Promise<BenchRow> {
  const { deps, lookup, taxonomy } = fixtures();
  const n = quick ? 5_000 : 50_000;
  const signals = [...Array(n).keys()].map((i) => signalOf(i, i % MARKETS, T0));
  let bytes = 0;
  const start = performance.now();
  const contexts = [];
  for (const s of signals) {
    const inputs = await gatherContextInputs(s, { lookup, taxonomy });
    const ctx = assembleContext(s, inputs, deps);
    bytes += canonicalJson(ctx, KINDS.context).length;
    contexts.push(ctx);
  }
  const augur = n / ((performance.now() - start) / 1000);
  const b0 = performance.now();
  for (const ctx of contexts) bytes += JSON.stringify(ctx).length;
  const baseline = n / ((performance.now() - b0) / 1000);
  if (bytes === 0) throw new Error("nothing printed");
  return {
    name: "context assemble + canonical JSON (pure, memory lookup)",
    augur: Math.round(augur),
    baseline: Math.round(baseline),
    unit: "signals/s",
    ratio: Number((augur / baseline).toFixed(3)),
    target: "≥ 20000 signals/s",
    pass: augur >= 20_000,
  };
}

function dedupRows(quick: boolean): BenchRow {
  const { taxonomy } = fixtures();
  const windows = quick ? 50 : 500;
  const perWindow = 200;
  const batches: MarketSignal[][] = [];
  let id = 0;
  for (let w = 0; w < windows; w++) {
    const batch: MarketSignal[] = [];
    for (let k = 0; k < perWindow; k++) {
      batch.push(signalOf(id++, (k >> 1) % MARKETS, T0 + w * 30_000_000 + (k % 20) * 1_000_000));
    }
    batches.push(batch);
  }
  let out = 0;
  const start = performance.now();
  for (const b of batches) out += dedupWindow(b, { taxonomy }).length;
  const augur = (windows * perWindow) / ((performance.now() - start) / 1000);
  const b0 = performance.now();
  for (const b of batches) out += [...b].sort(compareSignals).length;
  const baseline = (windows * perWindow) / ((performance.now() - b0) / 1000);
  if (out === 0) throw new Error("no output");
  return {
    name: "dedupWindow (200-signal windows)",
    augur: Math.round(augur),
    baseline: Math.round(baseline),
    unit: "signals/s",
    ratio: Number((augur / baseline).toFixed(3)),
    target: "≥ 50000 signals/s",
    pass: augur >= 50_000,
  };
}

/** Run both measurements. */
export async function run(options: { quick: boolean }): Promise<BenchRow[]> {
  return [await contextRows(options.quick), dedupRows(options.quick)];
}

if (import.meta.main) {
  console.table(await run({ quick: Deno.args.includes("--quick") }));
}
