/**
 * Polymarket client (DOMAIN §3.2): Gamma market by condition id, CLOB order book of the YES
 * token, Data-API trades. Base URLs are configurable (tests point them at a local fake).
 * A 404 on the book is "no book"; book or trades failures after retries are counted and give
 * a poll without them; a market-payload failure fails the poll.
 *
 * @example
 * ```ts
 * import { PolymarketClient } from "./polymarket_client.ts";
 * const client = new PolymarketClient();
 * const poll = await client.fetchPoll(
 *   { id: "m1", platform: "polymarket", platform_market_id: "0xabc" },
 *   0,
 * );
 * console.log(poll.responses.length);
 * ```
 * @module
 */

import { polymarketPayload, polymarketYesToken } from "../../pipeline/normalizer.ts";
import { defaultRegistry, type MetricsRegistry } from "../observability/metrics.ts";
import { createLogger, type Logger } from "../observability/logger.ts";
import { type Clock, systemClock } from "./clock.ts";
import { HttpClient, type HttpClientOptions, NotFoundError, RequestBudget } from "./http.ts";
import type {
  PlatformClient,
  PollResult,
  RawResponse,
  ResponseKind,
  WatchedMarket,
} from "./source.ts";

/** Options of {@linkcode PolymarketClient}. */
export interface PolymarketClientOptions {
  /** Gamma API base (default https://gamma-api.polymarket.com). */
  gammaUrl?: string;
  /** CLOB API base (default https://clob.polymarket.com). */
  clobUrl?: string;
  /** Data API base (default https://data-api.polymarket.com). */
  dataUrl?: string;
  /** Published cap, requests/min (`polymarket_per_min`, 600). */
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
  clock?: Clock;
  registry?: MetricsRegistry;
  logger?: Logger;
}

/**
 * Polymarket {@linkcode PlatformClient}.
 *
 * @example
 * ```ts
 * import { PolymarketClient } from "./polymarket_client.ts";
 * const client = new PolymarketClient({ gammaUrl: "http://127.0.0.1:8080" });
 * console.log(client.platform); // "polymarket"
 * ```
 */
export class PolymarketClient implements PlatformClient {
  readonly platform = "polymarket" as const;
  readonly budget: RequestBudget;
  readonly #http: HttpClient;
  readonly #gamma: string;
  readonly #clob: string;
  readonly #data: string;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #partial;

  constructor(options: PolymarketClientOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#gamma = trim(options.gammaUrl ?? "https://gamma-api.polymarket.com");
    this.#clob = trim(options.clobUrl ?? "https://clob.polymarket.com");
    this.#data = trim(options.dataUrl ?? "https://data-api.polymarket.com");
    this.budget = options.budget ?? new RequestBudget({
      capPerMinute: options.capPerMinute ?? 600,
      safetyPct: options.safetyPct ?? 0.7,
      clock: this.#clock,
    });
    this.#log = options.logger ?? createLogger({ component: "markets.polymarket" });
    this.#http = new HttpClient({
      ...options.http,
      platform: "polymarket",
      budget: this.budget,
      clock: this.#clock,
      registry: options.registry,
      logger: this.#log,
    });
    this.#partial = (options.registry ?? defaultRegistry).counter(
      "augur_market_poll_partial_total",
      "Polls that completed without a book or trades because that request failed.",
      ["platform", "part"],
    );
  }

  async fetchPoll(market: WatchedMarket, since: number, signal?: AbortSignal): Promise<PollResult> {
    const conditionId = market.platform_market_id;
    const responses: RawResponse[] = [];
    const marketRes = await this.#http.getJson(
      `${this.#gamma}/markets?condition_ids=${encodeURIComponent(conditionId)}`,
      { signal },
    );
    responses.push(toRaw("market", marketRes));
    let token: string | null;
    try {
      token = polymarketYesToken(polymarketPayload(marketRes.json, conditionId));
    } catch {
      // the payload does not fit (or names another market): the poller's normalizer reports
      // it; keep the raw response for the recorder and skip book and trades.
      return {
        raw: { market: marketRes.json, book: null, trades: null },
        fetchedAt: Math.round(marketRes.receivedAtMs * 1000),
        responses,
      };
    }
    let book: unknown | null = null;
    if (token !== null) {
      const url = `${this.#clob}/book?token_id=${encodeURIComponent(token)}`;
      try {
        const res = await this.#http.getJson(url, { signal });
        responses.push(toRaw("book", res));
        book = res.json;
      } catch (error) {
        if (signal?.aborted) throw error;
        if (error instanceof NotFoundError) {
          responses.push({ kind: "book", url, status: 404, received_at: this.#micros(), body: "" });
        } else {
          this.#partial.inc({ platform: "polymarket", part: "book" });
          this.#log.warn("book unavailable", { market_id: market.id, error });
        }
      }
    }
    let trades: unknown | null = null;
    try {
      const res = await this.#http.getJson(
        `${this.#data}/trades?market=${encodeURIComponent(conditionId)}`,
        { signal },
      );
      responses.push(toRaw("trades", res));
      trades = res.json;
    } catch (error) {
      if (signal?.aborted) throw error;
      this.#partial.inc({ platform: "polymarket", part: "trades" });
      this.#log.warn("trades unavailable", { market_id: market.id, error, since });
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

/** Raw response of a successful JSON GET. */
export function toRaw(
  kind: ResponseKind,
  res: { url: string; status: number; body: string; receivedAtMs: number },
): RawResponse {
  return {
    kind,
    url: res.url,
    status: res.status,
    received_at: Math.round(res.receivedAtMs * 1000),
    body: res.body,
  };
}

function trim(url: string): string {
  return url.replace(/\/+$/, "");
}
