/**
 * Kalshi client (DOMAIN §3.3, Trade API v2): `GET /markets/<ticker>`, `GET
 * /markets/<ticker>/orderbook` and `GET /markets/trades?ticker=…&min_ts=<unix s>`. The base URL
 * is configurable (default the current production host). The API key is read lazily, on the
 * first request, from the environment variable named in config; when present it is sent as
 * `Authorization: Bearer` (the reference scheme) and registered as a secret so it never
 * reaches a log. A missing key is a {@linkcode ConfigError} only when `requireKey` is set
 * (market data is public on the current API). Any book failure ⇒ no book (404 recorded).
 *
 * @example
 * ```ts
 * import { KalshiClient } from "./kalshi_client.ts";
 * const client = new KalshiClient({ apiKeyEnv: "KALSHI_API_KEY" });
 * const poll = await client.fetchPoll(
 *   { id: "k1", platform: "kalshi", platform_market_id: "KXFED-26JUL-H0" },
 *   0,
 * );
 * console.log(poll.fetchedAt);
 * ```
 * @module
 */

import { ConfigError } from "../../config/errors.ts";
import { defaultRegistry, type MetricsRegistry } from "../observability/metrics.ts";
import { createLogger, type Logger, registerSecret } from "../observability/logger.ts";
import { type Clock, systemClock } from "./clock.ts";
import { HttpClient, type HttpClientOptions, NotFoundError, RequestBudget } from "./http.ts";
import { toRaw } from "./polymarket_client.ts";
import type { PlatformClient, PollResult, RawResponse, WatchedMarket } from "./source.ts";

/** Options of {@linkcode KalshiClient}. */
export interface KalshiClientOptions {
  /** API base (default https://api.elections.kalshi.com/trade-api/v2). */
  baseUrl?: string;
  /** Environment variable holding the API key (default KALSHI_API_KEY). */
  apiKeyEnv?: string;
  /** Fail (ConfigError) on the first request when the key is missing (default false). */
  requireKey?: boolean;
  /** Published cap, requests/min (`kalshi_per_min`, 1000). */
  capPerMinute?: number;
  /** `budget_safety_pct` (0.7). */
  safetyPct?: number;
  /** A shared budget (overrides capPerMinute/safetyPct). */
  budget?: RequestBudget;
  /** Retry settings passed to {@linkcode HttpClient}. */
  http?: Pick<
    HttpClientOptions,
    "timeoutMs" | "maxRetries" | "initialS" | "maxS" | "jitter" | "random" | "fetch"
  >;
  /** Environment lookup (default Deno.env.get). */
  env?: (name: string) => string | undefined;
  clock?: Clock;
  registry?: MetricsRegistry;
  logger?: Logger;
}

/**
 * Kalshi {@linkcode PlatformClient}.
 *
 * @example
 * ```ts
 * import { KalshiClient } from "./kalshi_client.ts";
 * const client = new KalshiClient({ baseUrl: "http://127.0.0.1:8080/trade-api/v2" });
 * console.log(client.platform); // "kalshi"
 * ```
 */
export class KalshiClient implements PlatformClient {
  readonly platform = "kalshi" as const;
  readonly budget: RequestBudget;
  readonly #http: HttpClient;
  readonly #base: string;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #partial;
  readonly #keyEnv: string;
  readonly #requireKey: boolean;
  readonly #env: (name: string) => string | undefined;
  #key: string | null | undefined;

  constructor(options: KalshiClientOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#base = (options.baseUrl ?? "https://api.elections.kalshi.com/trade-api/v2").replace(
      /\/+$/,
      "",
    );
    this.#keyEnv = options.apiKeyEnv ?? "KALSHI_API_KEY";
    this.#requireKey = options.requireKey ?? false;
    this.#env = options.env ?? ((name) => Deno.env.get(name));
    this.budget = options.budget ?? new RequestBudget({
      capPerMinute: options.capPerMinute ?? 1000,
      safetyPct: options.safetyPct ?? 0.7,
      clock: this.#clock,
    });
    this.#log = options.logger ?? createLogger({ component: "markets.kalshi" });
    this.#http = new HttpClient({
      ...options.http,
      platform: "kalshi",
      budget: this.budget,
      clock: this.#clock,
      registry: options.registry,
      logger: this.#log,
      headers: (): Record<string, string> => {
        const key = this.#apiKey();
        return key ? { authorization: `Bearer ${key}` } : {};
      },
    });
    this.#partial = (options.registry ?? defaultRegistry).counter(
      "augur_market_poll_partial_total",
      "Polls that completed without a book or trades because that request failed.",
      ["platform", "part"],
    );
  }

  #apiKey(): string | null {
    if (this.#key === undefined) {
      const value = this.#env(this.#keyEnv);
      if (!value && this.#requireKey) {
        throw new ConfigError(
          `kalshi: expected an API key in environment variable ${this.#keyEnv}, received none`,
        );
      }
      this.#key = value || null;
      if (value) registerSecret(value);
    }
    return this.#key;
  }

  async fetchPoll(market: WatchedMarket, since: number, signal?: AbortSignal): Promise<PollResult> {
    this.#apiKey();
    const ticker = encodeURIComponent(market.platform_market_id);
    const responses: RawResponse[] = [];
    const marketRes = await this.#http.getJson(`${this.#base}/markets/${ticker}`, { signal });
    responses.push(toRaw("market", marketRes));
    let book: unknown | null = null;
    const bookUrl = `${this.#base}/markets/${ticker}/orderbook`;
    try {
      const res = await this.#http.getJson(bookUrl, { signal });
      responses.push(toRaw("book", res));
      book = res.json;
    } catch (error) {
      if (signal?.aborted) throw error;
      if (error instanceof NotFoundError) {
        responses.push({
          kind: "book",
          url: bookUrl,
          status: 404,
          received_at: this.#micros(),
          body: "",
        });
      } else {
        this.#partial.inc({ platform: "kalshi", part: "book" });
        this.#log.warn("book unavailable", { market_id: market.id, error });
      }
    }
    let trades: unknown | null = null;
    try {
      const minTs = Math.max(0, Math.floor(since / 1_000_000));
      const res = await this.#http.getJson(
        `${this.#base}/markets/trades?ticker=${ticker}&min_ts=${minTs}`,
        { signal },
      );
      responses.push(toRaw("trades", res));
      trades = res.json;
    } catch (error) {
      if (signal?.aborted) throw error;
      this.#partial.inc({ platform: "kalshi", part: "trades" });
      this.#log.warn("trades unavailable", { market_id: market.id, error });
    }
    return {
      raw: { market: marketRes.json, book, trades },
      fetchedAt: Math.round(marketRes.receivedAtMs * 1000),
      responses,
    };
  }

  #micros(): number {
    return Math.round(this.#clock.now() * 1000);
  }
}
