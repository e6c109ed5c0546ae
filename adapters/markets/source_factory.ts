/**
 * Builds a {@linkcode MarketSource} from a `--source` spec and the `[polling]` table of
 * `polling.toml`: `live` (default), `simulator[:seed]` or `replay:FILE` (append `@recorded`
 * to replay at the recorded pace: `replay:FILE@recorded`). Also maps the polling settings to
 * the client and scheduler options, so `augur run poller`, `augur record` and the engine wire
 * the adapters the same way.
 *
 * @example
 * ```ts
 * import { createMarketSource, parseSourceSpec } from "./source_factory.ts";
 * console.log(parseSourceSpec("simulator:7")); // { kind: "simulator", seed: 7 }
 * const source = createMarketSource("simulator:7", { platform: "polymarket", markets: [] });
 * await source.close();
 * ```
 * @module
 */

import { UsageError } from "../../config/errors.ts";
import type { Platform } from "../../pipeline/models.ts";
import type { SchedulerConfig, SchedulerEvent } from "../../pipeline/scheduler.ts";
import type { MetricsRegistry } from "../observability/metrics.ts";
import type { Clock } from "./clock.ts";
import { KalshiClient } from "./kalshi_client.ts";
import { LivePollerSource } from "./poller.ts";
import { PolymarketClient } from "./polymarket_client.ts";
import type { Recorder } from "./recorder.ts";
import { ReplaySource } from "./replay.ts";
import { type SimulatorOptions, SimulatorSource } from "./simulator.ts";
import type { MarketSource, PlatformClient, WatchedMarket } from "./source.ts";

/** A parsed `--source` value. */
export type SourceSpec =
  | { kind: "live" }
  | { kind: "simulator"; seed: number }
  | { kind: "replay"; path: string; pace: "fast" | "recorded" };

/**
 * Parse `live`, `simulator`, `simulator:SEED`, `replay:FILE` or `replay:FILE@recorded`.
 *
 * @example
 * ```ts
 * import { parseSourceSpec } from "./source_factory.ts";
 * parseSourceSpec("replay:data/poly.ndjson.gz"); // { kind: "replay", path: "data/poly.ndjson.gz", pace: "fast" }
 * ```
 */
export function parseSourceSpec(spec: string): SourceSpec {
  if (spec === "" || spec === "live") return { kind: "live" };
  if (spec === "simulator") return { kind: "simulator", seed: 42 };
  if (spec.startsWith("simulator:")) {
    const seed = Number(spec.slice("simulator:".length));
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new UsageError(
        `--source: expected simulator:<non-negative integer seed>, received "${spec}"`,
      );
    }
    return { kind: "simulator", seed };
  }
  if (spec.startsWith("replay:") && spec.length > "replay:".length) {
    let path = spec.slice("replay:".length);
    let pace: "fast" | "recorded" = "fast";
    if (path.endsWith("@recorded")) {
      path = path.slice(0, -"@recorded".length);
      pace = "recorded";
    }
    return { kind: "replay", path, pace };
  }
  throw new UsageError(
    `--source: expected live, simulator[:seed] or replay:FILE, received "${spec}"`,
  );
}

/** The `[polling]` table of polling.toml (DOMAIN §12); every key optional. */
export interface PollingSettings {
  hot_interval_s?: number;
  warm_interval_s?: number;
  cool_interval_s?: number;
  cold_interval_s?: number;
  hysteresis?: Partial<SchedulerConfig["hysteresis"]>;
  platform_caps?: {
    polymarket_per_min?: number;
    kalshi_per_min?: number;
    budget_safety_pct?: number;
  };
  backoff?: {
    initial_s?: number;
    max_s?: number;
    max_retries?: number;
    demote_after_consecutive_failures?: number;
    remove_after_consecutive_failures?: number;
  };
  /** `[polling.simulator]`: the shape of `--source simulator`. */
  simulator?: {
    markets?: number;
    tick_seconds?: number;
    interval_ms?: number;
    event_every_seconds?: number;
  };
}

/** Scheduler settings for a platform from polling.toml. */
export function schedulerConfigOf(
  platform: Platform,
  polling: PollingSettings = {},
): Partial<SchedulerConfig> {
  const d = { hot: 15, warm: 30, cool: 60, cold: 300 };
  const caps = polling.platform_caps ?? {};
  return {
    intervals: {
      hot: polling.hot_interval_s ?? d.hot,
      warm: polling.warm_interval_s ?? d.warm,
      cool: polling.cool_interval_s ?? d.cool,
      cold: polling.cold_interval_s ?? d.cold,
    },
    hysteresis: { ...polling.hysteresis } as SchedulerConfig["hysteresis"],
    capPerMinute: platform === "polymarket"
      ? caps.polymarket_per_min ?? 600
      : caps.kalshi_per_min ?? 1000,
    safetyPct: caps.budget_safety_pct ?? 0.7,
    demoteAfterFailures: polling.backoff?.demote_after_consecutive_failures ?? 10,
    removeAfterFailures: polling.backoff?.remove_after_consecutive_failures ?? 50,
  };
}

/**
 * Simulator options from `[polling.simulator]` (0 = off for `interval_ms` and
 * `event_every_seconds`).
 *
 * @example
 * ```ts
 * import { simulatorOptionsOf } from "./source_factory.ts";
 * simulatorOptionsOf({ simulator: { markets: 500, interval_ms: 250 } });
 * // { markets: 500, tickSeconds: undefined, intervalMs: 250, eventEverySeconds: undefined }
 * ```
 */
export function simulatorOptionsOf(
  polling: PollingSettings = {},
): Pick<SimulatorOptions, "markets" | "tickSeconds" | "intervalMs" | "eventEverySeconds"> {
  const sim = polling.simulator ?? {};
  return {
    markets: sim.markets,
    tickSeconds: sim.tick_seconds,
    intervalMs: sim.interval_ms || undefined,
    eventEverySeconds: sim.event_every_seconds || undefined,
  };
}

/** Options of {@linkcode createPlatformClient} and {@linkcode createMarketSource}. */
export interface MarketSourceOptions {
  platform: Platform;
  /** Active watchlist markets of this platform (live only). */
  markets: readonly WatchedMarket[];
  /** The `[polling]` table. */
  polling?: PollingSettings;
  /** Base URLs (tests, proxies). */
  urls?: { gamma?: string; clob?: string; data?: string; kalshi?: string };
  /** Environment variable with the Kalshi key (default KALSHI_API_KEY). */
  kalshiApiKeyEnv?: string;
  /** Simulator overrides (markets, tickSeconds, ticks, events, start). */
  simulator?: Omit<SimulatorOptions, "seed" | "clock">;
  /** Stop after one round (live `--once`). */
  once?: boolean;
  /** Record raw polls (live only). */
  recorder?: Recorder;
  onEvent?: (event: SchedulerEvent) => void;
  clock?: Clock;
  registry?: MetricsRegistry;
}

/** The live client of a platform configured from polling.toml. */
export function createPlatformClient(options: MarketSourceOptions): PlatformClient {
  const polling = options.polling ?? {};
  const http = {
    initialS: polling.backoff?.initial_s,
    maxS: polling.backoff?.max_s,
    maxRetries: polling.backoff?.max_retries,
  };
  const safetyPct = polling.platform_caps?.budget_safety_pct;
  if (options.platform === "polymarket") {
    return new PolymarketClient({
      gammaUrl: options.urls?.gamma,
      clobUrl: options.urls?.clob,
      dataUrl: options.urls?.data,
      capPerMinute: polling.platform_caps?.polymarket_per_min,
      safetyPct,
      http,
      clock: options.clock,
      registry: options.registry,
    });
  }
  return new KalshiClient({
    baseUrl: options.urls?.kalshi,
    apiKeyEnv: options.kalshiApiKeyEnv,
    capPerMinute: polling.platform_caps?.kalshi_per_min,
    safetyPct,
    http,
    clock: options.clock,
    registry: options.registry,
  });
}

/**
 * A source for `spec`. A simulator source is shaped by `[polling.simulator]` (overridden by
 * `options.simulator`) and renders only `options.platform` unless `options.simulator.platforms`
 * says otherwise; a replay yields the recorded platform.
 */
export function createMarketSource(
  spec: string | SourceSpec,
  options: MarketSourceOptions,
): MarketSource {
  const parsed = typeof spec === "string" ? parseSourceSpec(spec) : spec;
  switch (parsed.kind) {
    case "simulator":
      return new SimulatorSource({
        ...simulatorOptionsOf(options.polling),
        platforms: [options.platform],
        ...options.simulator,
        seed: parsed.seed,
        clock: options.clock,
      });
    case "replay":
      return new ReplaySource(parsed.path, {
        pace: parsed.pace,
        clock: options.clock,
        registry: options.registry,
      });
    case "live":
      return new LivePollerSource({
        client: createPlatformClient(options),
        markets: options.markets.filter((m) => m.platform === options.platform),
        scheduler: schedulerConfigOf(options.platform, options.polling),
        once: options.once,
        recorder: options.recorder,
        onEvent: options.onEvent,
        clock: options.clock,
        registry: options.registry,
      });
  }
}
