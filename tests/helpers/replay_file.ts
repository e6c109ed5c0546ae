/**
 * Recorded replay files for tests: the simulator renders platform-shaped raw bodies
 * (Gamma/CLOB/Data-API and Kalshi v2) for every market and tick, and a real
 * {@linkcode Recorder} writes them exactly as `augur record` writes live responses (raw
 * bodies with receive times, then one tick line per platform tick). The file therefore holds
 * both platforms; `--source replay:FILE` replays it through the same normalizer as live, and
 * a poller with `--platform P` keeps the ticks of P.
 *
 * {@linkcode watchlistToml} writes the matching `markets.toml` (markets + relationships), and
 * {@linkcode readReplayFacts} computes, from the file alone, what a drained replay must
 * report (markets polled, ticks, snapshots, feature vectors).
 *
 * @example
 * ```ts
 * import { writeReplayFile } from "./replay_file.ts";
 * const file = await writeReplayFile("/tmp/r.ndjson", { markets: 4, ticks: 10, events: [] });
 * console.log(file.ticks); // 20 (10 per platform)
 * ```
 * @module
 */
import { Recorder } from "../../adapters/markets/recorder.ts";
import { ReplaySource } from "../../adapters/markets/replay.ts";
import { MetricsRegistry } from "../../adapters/observability/metrics.ts";
import { createLogger } from "../../adapters/observability/logger.ts";
import {
  DEFAULT_SCENARIO_SECONDS,
  defaultScenario,
  type SimEvent,
  type SimRawPoll,
  SIMULATOR_TICK_SECONDS,
  SimulatorSource,
  simulatorWatchlist,
} from "../../adapters/markets/simulator.ts";
import type { RawResponse, WatchedMarket } from "../../adapters/markets/source.ts";
import { type FeatureOptions, FeaturePipeline } from "../../pipeline/features.ts";
import type { Platform } from "../../pipeline/models.ts";

/** Options of {@linkcode writeReplayFile}. */
export interface ReplayFileOptions {
  /** Simulator seed (default 11). */
  readonly seed?: number;
  /** Number of markets (default 12; even → polymarket, odd → kalshi). */
  readonly markets?: number;
  /** Ticks per platform (default: the simulator's whole default scenario, 13 h). */
  readonly ticks?: number;
  /** Seconds between ticks (default {@linkcode SIMULATOR_TICK_SECONDS}, 300). */
  readonly tickSeconds?: number;
  /** Scripted events (default: the simulator's {@linkcode defaultScenario}). */
  readonly events?: readonly SimEvent[];
  /**
   * Polls recorded as failures instead (`poll_error` lines, skipped by replay): market id →
   * tick indices.
   */
  readonly failures?: Readonly<Record<string, readonly number[]>>;
}

/** What was written. */
export interface ReplayFile {
  readonly path: string;
  /** Tick lines (both platforms). */
  readonly ticks: number;
  /** Successful poll lines. */
  readonly polls: number;
  readonly markets: readonly (WatchedMarket & { category: string })[];
  readonly relationships: readonly {
    market_a: string;
    market_b: string;
    type: string;
    strength: number;
  }[];
}

function responses(platform: Platform, market: WatchedMarket, poll: SimRawPoll): RawResponse[] {
  const at = poll.fetchedAt;
  const body = (value: unknown) => JSON.stringify(value);
  if (platform === "polymarket") {
    const id = market.platform_market_id;
    return [
      {
        kind: "market",
        url: `https://gamma-api.polymarket.com/markets?condition_ids=${id}`,
        status: 200,
        received_at: at,
        body: body(poll.raw.market),
      },
      {
        kind: "book",
        url: `https://clob.polymarket.com/book?token_id=${id}`,
        status: 200,
        received_at: at,
        body: body(poll.raw.book),
      },
      {
        kind: "trades",
        url: `https://data-api.polymarket.com/trades?market=${id}`,
        status: 200,
        received_at: at,
        body: body(poll.raw.trades),
      },
    ];
  }
  const base = "https://api.elections.kalshi.com/trade-api/v2";
  const ticker = market.platform_market_id;
  return [
    {
      kind: "market",
      url: `${base}/markets/${ticker}`,
      status: 200,
      received_at: at,
      body: body(poll.raw.market),
    },
    {
      kind: "book",
      url: `${base}/markets/${ticker}/orderbook`,
      status: 200,
      received_at: at,
      body: body(poll.raw.book),
    },
    {
      kind: "trades",
      url: `${base}/markets/trades?ticker=${ticker}`,
      status: 200,
      received_at: at,
      body: body(poll.raw.trades),
    },
  ];
}

/**
 * Record a simulated run to `path` (plain NDJSON, or gzip when it ends in `.gz`).
 *
 * @example
 * ```ts
 * import { writeReplayFile } from "./replay_file.ts";
 * const file = await writeReplayFile("/tmp/r.ndjson.gz", { markets: 2, ticks: 3, events: [] });
 * console.log(file.polls); // 6
 * ```
 */
export async function writeReplayFile(
  path: string,
  options: ReplayFileOptions = {},
): Promise<ReplayFile> {
  const n = options.markets ?? 12;
  const tickSeconds = options.tickSeconds ?? SIMULATOR_TICK_SECONDS;
  const watch = simulatorWatchlist({ markets: n });
  const pending = new Map<string, SimRawPoll>();
  const source = new SimulatorSource({
    seed: options.seed ?? 11,
    markets: n,
    ticks: options.ticks ?? Math.ceil(DEFAULT_SCENARIO_SECONDS / tickSeconds) + 1,
    tickSeconds,
    events: options.events ?? defaultScenario(),
    onRawPoll: (poll) => pending.set(poll.market.id, poll),
  });
  const recorder = await Recorder.open(path, {
    platform: "polymarket",
    markets: watch.markets.map(({ id, platform, platform_market_id }) => ({
      id,
      platform,
      platform_market_id,
    })),
  });
  const byId = new Map(watch.markets.map((m) => [m.id, m]));
  const tickIndex = new Map<Platform, number>();
  let ticks = 0;
  let polls = 0;
  try {
    for await (const tick of source) {
      const k = tickIndex.get(tick.platform) ?? 0;
      tickIndex.set(tick.platform, k + 1);
      const ids: string[] = [];
      for (const message of tick.messages) {
        const id = message.snapshot.market_id;
        const market = byId.get(id)!;
        const poll = pending.get(id)!;
        pending.delete(id);
        if (options.failures?.[id]?.includes(k)) {
          await recorder.pollError(id, poll.fetchedAt, new Error("HTTP 503 (recorded failure)"));
          continue;
        }
        await recorder.poll(market, poll.since, {
          raw: poll.raw,
          fetchedAt: poll.fetchedAt,
          responses: responses(tick.platform, market, poll),
        });
        ids.push(id);
        polls++;
      }
      await recorder.tick(tick.T, ids, tick.platform);
      ticks++;
    }
  } finally {
    await source.close();
    await recorder.close();
  }
  return { path, ticks, polls, markets: watch.markets, relationships: watch.relationships };
}

/**
 * The `markets.toml` of a replay file's watchlist (every market active unless listed in
 * `inactive`).
 *
 * @example
 * ```ts
 * import { watchlistToml } from "./replay_file.ts";
 * const toml = watchlistToml({ markets: [], relationships: [] });
 * ```
 */
export function watchlistToml(
  file: Pick<ReplayFile, "markets" | "relationships">,
  options: { inactive?: readonly string[] } = {},
): string {
  const lines: string[] = [];
  for (const m of file.markets) {
    lines.push(
      "[[markets]]",
      `id = "${m.id}"`,
      `platform = "${m.platform}"`,
      `platform_market_id = "${m.platform_market_id}"`,
      `category = "${m.category}"`,
      `active = ${!(options.inactive ?? []).includes(m.id)}`,
      "",
    );
  }
  for (const r of file.relationships) {
    lines.push(
      "[[relationships]]",
      `market_a = "${r.market_a}"`,
      `market_b = "${r.market_b}"`,
      `type = "${r.type}"`,
      `strength = ${r.strength}`,
      "",
    );
  }
  return lines.join("\n");
}

/** What a drained replay of a file must report, computed from the file alone. */
export interface ReplayFacts {
  /** Distinct markets with at least one poll that normalizes. */
  markets: number;
  /** Tick lines. */
  ticks: number;
  /** Polls that normalize (one snapshot each). */
  snapshots: number;
  /** Feature vectors the feature pipeline emits over those snapshots (past warm-up). */
  features: number;
}

/**
 * Replay a file through {@linkcode ReplaySource} (the parser and normalizer `--source
 * replay:FILE` uses, nothing else of the runtime) and compute the counts a drained replay
 * must report.
 *
 * @example
 * ```ts
 * import { readReplayFacts } from "./replay_file.ts";
 * // const facts = await readReplayFacts("/tmp/r.ndjson", { warmup_size: 50 });
 * ```
 */
export async function readReplayFacts(
  path: string,
  features: Partial<FeatureOptions> = {},
): Promise<ReplayFacts> {
  const markets = new Set<string>();
  const pipeline = new FeaturePipeline(features);
  const facts: ReplayFacts = { markets: 0, ticks: 0, snapshots: 0, features: 0 };
  const source = new ReplaySource(path, {
    registry: new MetricsRegistry(),
    logger: createLogger({ sink: () => {} }),
  });
  try {
    for await (const tick of source) {
      facts.ticks++;
      for (const m of tick.messages) {
        markets.add(m.snapshot.market_id);
        facts.snapshots++;
        const fv = pipeline.update(m.snapshot, { bid_depth: m.bid_depth, ask_depth: m.ask_depth });
        if (fv) facts.features++;
      }
    }
  } finally {
    await source.close();
  }
  facts.markets = markets.size;
  return facts;
}
