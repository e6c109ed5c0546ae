/**
 * `augur record --platform P --out FILE [--once] [--config DIR] [--source live]
 * [--base-url URL]`: poll the live watchlist of one platform (the adaptive
 * {@linkcode LivePollerSource}) and write every raw response with its timestamps, plus tick
 * boundaries, to FILE as NDJSON (gzip when FILE ends in `.gz`) via the {@linkcode Recorder}.
 * `--source replay:FILE` or `--source simulator` then plays the file back through the same
 * normalizer. One progress line per tick goes to stderr; SIGINT/SIGTERM stop the poller,
 * flush and close the file, and exit 0.
 *
 * Base URLs (tests, proxies): `--base-url URL` points every API of the platform at URL;
 * otherwise `AUGUR_POLYMARKET_GAMMA_URL`, `AUGUR_POLYMARKET_CLOB_URL`,
 * `AUGUR_POLYMARKET_DATA_URL` and `AUGUR_KALSHI_URL` override the production hosts one by one.
 *
 * @example
 * ```ts
 * import { recordCommand } from "./record.ts";
 * const code = await recordCommand.run(["--platform", "kalshi", "--out", "/tmp/k.ndjson.gz", "--once"]);
 * ```
 * @module
 */
import { nearest, UsageError } from "../config/errors.ts";
import { loadConfig } from "../config/loader.ts";
import { PLATFORMS } from "../config/schemas/markets.ts";
import type { Platform } from "../pipeline/models.ts";
import { Recorder } from "../adapters/markets/recorder.ts";
import type { Clock } from "../adapters/markets/clock.ts";
import {
  createMarketSource,
  type MarketSourceOptions,
  parseSourceSpec,
} from "../adapters/markets/source_factory.ts";
import type { Tick, WatchedMarket } from "../adapters/markets/source.ts";
import type { MetricsRegistry } from "../adapters/observability/metrics.ts";
import type { Command } from "./command.ts";
import { parseFlags } from "./flags.ts";

/** Environment variables that override the platform API base URLs. */
export const BASE_URL_ENV = {
  gamma: "AUGUR_POLYMARKET_GAMMA_URL",
  clob: "AUGUR_POLYMARKET_CLOB_URL",
  data: "AUGUR_POLYMARKET_DATA_URL",
  kalshi: "AUGUR_KALSHI_URL",
} as const;

const USAGE = `augur record — record raw platform responses for replay

Usage:
  augur record --platform P --out FILE [--once] [--config DIR] [--source live]
               [--base-url URL]

Polls the active markets of platform P from markets.toml with the adaptive scheduler of
polling.toml and writes every raw response with its receive time, and one line per tick, to
FILE as NDJSON (gzip-compressed when FILE ends in .gz). Play it back with
--source replay:FILE (e.g. augur run poller --source replay:FILE). One progress line per tick
goes to stderr. Ctrl-C (SIGINT) or SIGTERM stops polling, flushes and closes the file.

Options:
  --platform P    polymarket | kalshi (required)
  --out FILE      output file (required; truncated); .gz ⇒ gzip
  --once          poll every market once, write one tick, exit
  --config DIR    configuration directory (default: $AUGUR_CONFIG_DIR or ./config)
  --source live   the only source that can be recorded (default)
  --base-url URL  send every request of the platform to URL (tests, proxies)

Environment (when --base-url is not given; default: the production hosts):
  ${BASE_URL_ENV.gamma}   Polymarket Gamma API (https://gamma-api.polymarket.com)
  ${BASE_URL_ENV.clob}    Polymarket CLOB API (https://clob.polymarket.com)
  ${BASE_URL_ENV.data}    Polymarket Data API (https://data-api.polymarket.com)
  ${BASE_URL_ENV.kalshi}            Kalshi Trade API v2 (https://api.elections.kalshi.com/trade-api/v2)
  KALSHI_API_KEY              Kalshi API key (optional; market data is public)

Exit: 0 when stopped or done, 2 on a usage or configuration error.`;

/** Options of {@linkcode recordWatchlist}. */
export interface RecordOptions {
  platform: Platform;
  /** Output path (`.gz` ⇒ gzip). */
  out: string;
  /** Markets to poll (only those of `platform` are used). */
  markets: readonly WatchedMarket[];
  /** The `[polling]` table of polling.toml. */
  polling?: MarketSourceOptions["polling"];
  /** API base URLs. */
  urls?: MarketSourceOptions["urls"];
  /** One round, then stop. */
  once?: boolean;
  /** Stops recording when aborted (the file is flushed and closed). */
  signal?: AbortSignal;
  /** Called after every tick is written. */
  onTick?: (tick: Tick, summary: RecordSummary) => void;
  clock?: Clock;
  registry?: MetricsRegistry;
}

/** What a recording wrote. */
export interface RecordSummary {
  /** Ticks written. */
  ticks: number;
  /** Successful market polls written. */
  polls: number;
  /** NDJSON lines written (header, polls, errors, ticks). */
  lines: number;
}

/**
 * Poll `markets` of one platform live and record every raw response to `out` until the source
 * ends (`once`) or `signal` aborts; the file is always flushed and closed.
 *
 * @example
 * ```ts
 * import { recordWatchlist } from "./record.ts";
 * const summary = await recordWatchlist({
 *   platform: "kalshi",
 *   out: "/tmp/k.ndjson.gz",
 *   markets: [{ id: "fed", platform: "kalshi", platform_market_id: "KXFED-26JUL-H0" }],
 *   once: true,
 * });
 * console.log(summary.ticks); // 1
 * ```
 */
export async function recordWatchlist(options: RecordOptions): Promise<RecordSummary> {
  const markets = options.markets.filter((m) => m.platform === options.platform);
  const recorder = await Recorder.open(options.out, { platform: options.platform, markets });
  const source = createMarketSource("live", {
    platform: options.platform,
    markets,
    polling: options.polling,
    urls: options.urls,
    once: options.once,
    recorder,
    clock: options.clock,
    registry: options.registry,
  });
  const stop = () => void source.close();
  options.signal?.addEventListener("abort", stop, { once: true });
  const summary: RecordSummary = { ticks: 0, polls: 0, lines: 0 };
  try {
    if (options.signal?.aborted) return summary;
    for await (const tick of source) {
      summary.ticks++;
      summary.polls += tick.messages.length;
      summary.lines = recorder.lines;
      options.onTick?.(tick, { ...summary });
      if (options.signal?.aborted) break;
    }
  } finally {
    options.signal?.removeEventListener("abort", stop);
    await source.close();
    await recorder.close();
    summary.lines = recorder.lines;
  }
  return summary;
}

/**
 * Base URLs for a platform: `--base-url` for every API of the platform, else the
 * {@linkcode BASE_URL_ENV} variables, else undefined (production hosts).
 *
 * @example
 * ```ts
 * import { baseUrlsFor } from "./record.ts";
 * baseUrlsFor("kalshi", "http://127.0.0.1:8080", () => undefined); // { kalshi: "http://127.0.0.1:8080" }
 * ```
 */
export function baseUrlsFor(
  platform: Platform,
  baseUrl: string | undefined,
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
): NonNullable<MarketSourceOptions["urls"]> {
  const pick = (key: keyof typeof BASE_URL_ENV) => baseUrl ?? (env(BASE_URL_ENV[key]) || undefined);
  return platform === "polymarket"
    ? { gamma: pick("gamma"), clob: pick("clob"), data: pick("data") }
    : { kalshi: pick("kalshi") };
}

function parsePlatform(value: unknown): Platform {
  if (typeof value !== "string" || value === "") {
    throw new UsageError(`missing --platform (expected ${PLATFORMS.join(" or ")})`);
  }
  if (!(PLATFORMS as readonly string[]).includes(value)) {
    const hint = nearest(value, [...PLATFORMS]);
    throw new UsageError(
      `--platform: expected ${PLATFORMS.join(" or ")}, received "${value}"${
        hint ? ` (did you mean "${hint}"?)` : ""
      }`,
    );
  }
  return value as Platform;
}

function isoOf(micros: number): string {
  return new Date(Math.floor(micros / 1000)).toISOString();
}

/** `augur record` */
export const recordCommand: Command = {
  name: "record",
  summary: "record raw responses of a platform's watchlist to NDJSON for replay",
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    const { values } = parseFlags(args, {
      platform: { type: "string" },
      out: { type: "string" },
      once: { type: "boolean" },
      config: { type: "string" },
      source: { type: "string" },
      "base-url": { type: "string" },
    });
    const platform = parsePlatform(values.platform);
    const out = values.out as string | undefined;
    if (!out) throw new UsageError("missing --out FILE (the NDJSON file to write; .gz ⇒ gzip)");
    const source = (values.source as string | undefined) ?? "live";
    const kind = parseSourceSpec(source).kind;
    if (kind !== "live") {
      throw new UsageError(
        `--source: expected live (only live polls can be recorded), received "${source}"`,
      );
    }
    const baseUrl = values["base-url"] as string | undefined;
    if (baseUrl !== undefined && !/^https?:\/\/\S+$/.test(baseUrl)) {
      throw new UsageError(`--base-url: expected an http(s) URL, received "${baseUrl}"`);
    }
    const config = await loadConfig({ dir: values.config as string | undefined });
    const markets = config.markets.markets
      .filter((m) => m.active && m.platform === platform)
      .map((m) => ({
        id: m.id,
        platform: m.platform,
        platform_market_id: m.platform_market_id,
        poll_priority: m.poll_priority,
      }));
    if (markets.length === 0) {
      throw new UsageError(
        `no active ${platform} market in markets.toml (expected at least one [[markets]] entry ` +
          `with platform = "${platform}" and active = true)`,
      );
    }
    const controller = new AbortController();
    const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
    const onSignal = () => {
      if (!controller.signal.aborted) {
        console.error("record: stopping (signal received); flushing the file");
        controller.abort();
      }
    };
    for (const s of signals) Deno.addSignalListener(s, onSignal);
    const started = Date.now();
    try {
      console.error(
        `record: ${platform}, ${markets.length} market(s) → ${out}${
          out.endsWith(".gz") ? " (gzip)" : ""
        }`,
      );
      const summary = await recordWatchlist({
        platform,
        out,
        markets,
        polling: config.polling,
        urls: baseUrlsFor(platform, baseUrl),
        once: Boolean(values.once),
        signal: controller.signal,
        onTick: (tick, s) =>
          console.error(
            `record: tick ${s.ticks} T=${
              isoOf(tick.T)
            } polled ${tick.messages.length}/${markets.length} ` +
              `polls=${s.polls} lines=${s.lines}`,
          ),
      });
      console.error(
        `record: done — ${summary.ticks} tick(s), ${summary.polls} poll(s), ${summary.lines} ` +
          `line(s) in ${((Date.now() - started) / 1000).toFixed(1)} s → ${out}`,
      );
      return 0;
    } finally {
      for (const s of signals) Deno.removeSignalListener(s, onSignal);
    }
  },
};
