/**
 * Retrying JSON GET for the platform APIs (DOMAIN §3.5, `polling.toml` `[polling.backoff]`):
 * per-attempt timeout, at most `maxRetries` attempts in total, exponential back-off from
 * `initialS` doubling to `maxS` with jitter on 429, 5xx, network errors, timeouts and
 * unparseable bodies; other 4xx are not retried (404 surfaces as {@linkcode NotFoundError});
 * `Retry-After` (seconds or HTTP date) is honoured. Every attempt first takes a slot from a
 * per-platform {@linkcode RequestBudget}, so the published rate limit is never exceeded.
 * Clock, sleep and randomness are injectable.
 *
 * @example
 * ```ts
 * import { HttpClient, RequestBudget } from "./http.ts";
 * const http = new HttpClient({
 *   platform: "polymarket",
 *   budget: new RequestBudget({ capPerMinute: 600, safetyPct: 0.7 }),
 * });
 * const res = await http.getJson("https://gamma-api.polymarket.com/markets?limit=1");
 * console.log(res.status, Array.isArray(res.json));
 * ```
 * @module
 */

import { ConnectionError } from "../../config/errors.ts";
import { defaultRegistry, type MetricsRegistry } from "../observability/metrics.ts";
import { createLogger, type Logger } from "../observability/logger.ts";
import { type Clock, systemClock } from "./clock.ts";

/** A non-retryable HTTP status (4xx other than 429). */
export class HttpStatusError extends ConnectionError {
  /** The HTTP status code. */
  readonly status: number;
  /** The requested URL (without query secrets; augur puts none there). */
  readonly url: string;
  constructor(status: number, url: string, detail = "", options?: ErrorOptions) {
    super(`GET ${url}: expected HTTP 2xx, received ${status}${detail ? ` (${detail})` : ""}`, {
      ...options,
    });
    this.name = "HttpStatusError";
    this.status = status;
    this.url = url;
  }
}

/** HTTP 404: the "no book" / delisted path. */
export class NotFoundError extends HttpStatusError {
  constructor(url: string, options?: ErrorOptions) {
    super(404, url, "not found", options);
    this.name = "NotFoundError";
  }
}

/** Every attempt failed; `cause` is the last error. */
export class RetryExhaustedError extends ConnectionError {
  /** Attempts made. */
  readonly attempts: number;
  constructor(url: string, attempts: number, cause: unknown) {
    super(
      `GET ${url}: gave up after ${attempts} attempts: ${(cause as Error)?.message ?? cause}`,
      { cause },
    );
    this.name = "RetryExhaustedError";
    this.attempts = attempts;
  }
}

/** Options of {@linkcode RequestBudget}. */
export interface RequestBudgetOptions {
  /** The platform's published limit in requests per minute (e.g. 600 Polymarket, 1000 Kalshi). */
  capPerMinute: number;
  /** Fraction of the cap to plan to (`budget_safety_pct`, default 0.7). */
  safetyPct?: number;
  /** Clock (default the system clock). */
  clock?: Clock;
}

const MINUTE_MS = 60_000;

/**
 * Per-platform request budget: a token bucket refilling at `capPerMinute × safetyPct` per
 * minute, with a burst size chosen so that burst + one minute of refill never exceeds the
 * cap, plus a sliding 60-s window hard guard at the cap itself. Waiting callers are served in
 * FIFO order by sleeping on the injected clock.
 *
 * @example
 * ```ts
 * import { RequestBudget } from "./http.ts";
 * const budget = new RequestBudget({ capPerMinute: 600, safetyPct: 0.7 });
 * await budget.acquire();
 * console.log(budget.ratePerMinute); // 420
 * ```
 */
export class RequestBudget {
  /** Planned rate: requests per minute. */
  readonly ratePerMinute: number;
  /** Published cap: requests per minute. */
  readonly capPerMinute: number;
  /** Bucket capacity (burst). */
  readonly burst: number;
  readonly #clock: Clock;
  #tokens: number;
  #refilledAt: number;
  readonly #window: number[] = [];
  #queue: Promise<void> = Promise.resolve();
  #waitedMs = 0;

  constructor(options: RequestBudgetOptions) {
    const safety = options.safetyPct ?? 0.7;
    if (!(options.capPerMinute > 0)) {
      throw new RangeError(`capPerMinute: expected > 0, received ${options.capPerMinute}`);
    }
    if (!(safety > 0 && safety <= 1)) {
      throw new RangeError(`safetyPct: expected in (0, 1], received ${safety}`);
    }
    this.capPerMinute = Math.floor(options.capPerMinute);
    this.ratePerMinute = Math.max(1, Math.floor(options.capPerMinute * safety));
    this.burst = Math.max(1, Math.min(this.ratePerMinute, this.capPerMinute - this.ratePerMinute));
    this.#clock = options.clock ?? systemClock;
    this.#tokens = this.burst;
    this.#refilledAt = this.#clock.now();
  }

  /** Total milliseconds callers spent waiting for a slot. */
  get waitedMs(): number {
    return this.#waitedMs;
  }

  /** Requests granted in the last 60 s divided by the cap. */
  utilization(): number {
    this.#trim(this.#clock.now());
    return this.#window.length / this.capPerMinute;
  }

  /** Wait (on the clock) for a request slot and take it. */
  acquire(signal?: AbortSignal): Promise<void> {
    const turn = this.#queue.then(() => this.#take(signal));
    this.#queue = turn.catch(() => {});
    return turn;
  }

  async #take(signal?: AbortSignal): Promise<void> {
    while (true) {
      const now = this.#clock.now();
      this.#refill(now);
      this.#trim(now);
      let waitMs = 0;
      if (this.#tokens < 1) {
        waitMs = ((1 - this.#tokens) * MINUTE_MS) / this.ratePerMinute;
      }
      if (this.#window.length >= this.capPerMinute) {
        waitMs = Math.max(waitMs, this.#window[0] + MINUTE_MS - now);
      }
      if (waitMs <= 0) {
        this.#tokens -= 1;
        this.#window.push(now);
        return;
      }
      this.#waitedMs += waitMs;
      await this.#clock.sleep(Math.ceil(waitMs), signal);
    }
  }

  #refill(now: number): void {
    const elapsed = now - this.#refilledAt;
    if (elapsed > 0) {
      this.#tokens = Math.min(
        this.burst,
        this.#tokens + (elapsed * this.ratePerMinute) / MINUTE_MS,
      );
      this.#refilledAt = now;
    }
  }

  #trim(now: number): void {
    while (this.#window.length && this.#window[0] <= now - MINUTE_MS) this.#window.shift();
  }
}

/** One completed HTTP exchange, reported to {@linkcode HttpClientOptions.onExchange}. */
export interface HttpExchange {
  /** Requested URL. */
  readonly url: string;
  /** HTTP status of the final attempt. */
  readonly status: number;
  /** Raw body text. */
  readonly body: string;
  /** Clock time (epoch ms) the response was received. */
  readonly receivedAtMs: number;
}

/** A successful JSON response. */
export interface JsonResponse {
  readonly url: string;
  readonly status: number;
  /** Raw body text (what the recorder stores). */
  readonly body: string;
  /** Parsed body. */
  readonly json: unknown;
  /** Clock time (epoch ms) the response was received. */
  readonly receivedAtMs: number;
}

/** Options of {@linkcode HttpClient}. */
export interface HttpClientOptions {
  /** Platform label for metrics and logs. */
  platform: string;
  /** Shared per-platform budget; every attempt takes one slot. */
  budget?: RequestBudget;
  /** Per-attempt timeout in milliseconds (real time; default 10 000). */
  timeoutMs?: number;
  /** Attempts in total (`max_retries`, default 5). */
  maxRetries?: number;
  /** First back-off in seconds (`initial_s`, default 1). */
  initialS?: number;
  /** Back-off cap in seconds (`max_s`, default 60). */
  maxS?: number;
  /** Jitter fraction: a back-off d sleeps a uniform value in [d·(1−jitter), d] (default 0.2). */
  jitter?: number;
  /** Longest `Retry-After` honoured, seconds (default 600). */
  maxRetryAfterS?: number;
  /** Clock for back-off sleeps and the budget (default system clock). */
  clock?: Clock;
  /** Randomness in [0, 1) for jitter (default Math.random). */
  random?: () => number;
  /** fetch implementation (default globalThis.fetch). */
  fetch?: typeof fetch;
  /** Extra request headers (e.g. authorization); never logged. */
  headers?: () => Record<string, string>;
  /** Metrics registry (default the process registry). */
  registry?: MetricsRegistry;
  /** Logger. */
  logger?: Logger;
  /** Called with every final response (2xx and non-retryable 4xx), for recording. */
  onExchange?: (exchange: HttpExchange) => void;
}

class RetryableError extends ConnectionError {
  constructor(message: string, readonly reason: string, readonly retryAfterMs: number | null) {
    super(message);
    this.name = "RetryableError";
  }
}

/**
 * Retrying JSON GET client for one platform.
 *
 * @example
 * ```ts
 * import { HttpClient } from "./http.ts";
 * import { VirtualClock } from "./clock.ts";
 * const http = new HttpClient({ platform: "kalshi", clock: new VirtualClock(), maxRetries: 3 });
 * await http.getJson("http://127.0.0.1:1/markets").catch((e) => console.log(e.name));
 * ```
 */
export class HttpClient {
  readonly platform: string;
  readonly #o: Required<
    Omit<HttpClientOptions, "budget" | "headers" | "onExchange" | "logger" | "registry">
  >;
  readonly #budget?: RequestBudget;
  readonly #headers?: () => Record<string, string>;
  readonly #onExchange?: (exchange: HttpExchange) => void;
  readonly #log: Logger;
  readonly #requests;
  readonly #retries;
  readonly #failures;

  constructor(options: HttpClientOptions) {
    this.platform = options.platform;
    this.#o = {
      platform: options.platform,
      timeoutMs: options.timeoutMs ?? 10_000,
      maxRetries: Math.max(1, options.maxRetries ?? 5),
      initialS: options.initialS ?? 1,
      maxS: options.maxS ?? 60,
      jitter: Math.min(1, Math.max(0, options.jitter ?? 0.2)),
      maxRetryAfterS: options.maxRetryAfterS ?? 600,
      clock: options.clock ?? systemClock,
      random: options.random ?? Math.random,
      fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    };
    this.#budget = options.budget;
    this.#headers = options.headers;
    this.#onExchange = options.onExchange;
    this.#log = options.logger ?? createLogger({ component: `markets.http.${options.platform}` });
    const registry = options.registry ?? defaultRegistry;
    this.#requests = registry.counter(
      "augur_market_http_requests_total",
      "Platform API request attempts by outcome.",
      ["platform", "outcome"],
    );
    this.#retries = registry.counter(
      "augur_market_http_retries_total",
      "Platform API retries by reason.",
      ["platform", "reason"],
    );
    this.#failures = registry.counter(
      "augur_market_http_failures_total",
      "Platform API requests that failed for good, by reason.",
      ["platform", "reason"],
    );
  }

  /** The back-off (ms, before jitter) after failed attempt number `attempt` (1-based). */
  backoffMs(attempt: number): number {
    return Math.min(this.#o.maxS, this.#o.initialS * 2 ** (attempt - 1)) * 1000;
  }

  /**
   * GET `url` and parse JSON, retrying per DOMAIN §3.5. Throws {@linkcode NotFoundError} on
   * 404, {@linkcode HttpStatusError} on other non-retryable statuses and
   * {@linkcode RetryExhaustedError} when every attempt failed.
   */
  async getJson(url: string, options: { signal?: AbortSignal } = {}): Promise<JsonResponse> {
    const platform = this.platform;
    let lastError: unknown;
    for (let attempt = 1; attempt <= this.#o.maxRetries; attempt++) {
      if (this.#budget) await this.#budget.acquire(options.signal);
      try {
        const result = await this.#attempt(url, options.signal);
        this.#requests.inc({ platform, outcome: "ok" });
        return result;
      } catch (error) {
        if (!(error instanceof RetryableError)) {
          this.#requests.inc({ platform, outcome: "rejected" });
          this.#failures.inc({ platform, reason: error instanceof NotFoundError ? "404" : "4xx" });
          throw error;
        }
        if (options.signal?.aborted) throw options.signal.reason;
        lastError = error;
        this.#requests.inc({ platform, outcome: "retryable" });
        if (attempt === this.#o.maxRetries) break;
        const backoff = this.backoffMs(attempt) * (1 - this.#o.jitter * this.#o.random());
        const delay = error.retryAfterMs !== null
          ? Math.min(error.retryAfterMs, this.#o.maxRetryAfterS * 1000)
          : backoff;
        this.#retries.inc({ platform, reason: error.reason });
        this.#log.warn("request failed, retrying", {
          url,
          attempt,
          reason: error.reason,
          error: error.message,
          delay_ms: Math.round(delay),
        });
        await this.#o.clock.sleep(delay, options.signal);
      }
    }
    const reason = (lastError as RetryableError).reason;
    this.#failures.inc({ platform, reason });
    this.#log.error("request failed after retries", {
      url,
      attempts: this.#o.maxRetries,
      reason,
      error: (lastError as Error).message,
    });
    throw new RetryExhaustedError(url, this.#o.maxRetries, lastError);
  }

  async #attempt(url: string, signal?: AbortSignal): Promise<JsonResponse> {
    const timeout = AbortSignal.timeout(this.#o.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    const headers = { accept: "application/json", ...this.#headers?.() };
    let response: Response;
    let body: string;
    try {
      response = await this.#o.fetch(url, {
        headers,
        signal: combined,
      });
      body = await response.text();
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      const timedOut = timeout.aborted;
      throw new RetryableError(
        timedOut
          ? `GET ${url}: no response within ${this.#o.timeoutMs} ms`
          : `GET ${url}: ${(error as Error)?.message ?? error}`,
        timedOut ? "timeout" : "network",
        null,
      );
    }
    const receivedAtMs = this.#o.clock.now();
    const status = response.status;
    if (status === 429 || status >= 500) {
      throw new RetryableError(
        `GET ${url}: HTTP ${status}`,
        status === 429 ? "429" : "5xx",
        parseRetryAfter(response.headers.get("retry-after"), this.#o.clock.now()),
      );
    }
    if (status >= 400 || status < 200 || status >= 300) {
      this.#onExchange?.({ url, status, body, receivedAtMs });
      if (status === 404) throw new NotFoundError(url);
      throw new HttpStatusError(status, url, snippet(body));
    }
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch (error) {
      throw new RetryableError(
        `GET ${url}: expected a JSON body, received ${snippet(body) || "an empty body"} (${
          (error as Error).message
        })`,
        "malformed",
        null,
      );
    }
    this.#onExchange?.({ url, status, body, receivedAtMs });
    return { url, status, body, json, receivedAtMs };
  }
}

/**
 * Parse a `Retry-After` header value (delta seconds or an HTTP date) into milliseconds from
 * `nowMs`; null when absent or unparseable.
 *
 * @example
 * ```ts
 * import { parseRetryAfter } from "./http.ts";
 * parseRetryAfter("7", 0); // 7000
 * ```
 */
export function parseRetryAfter(value: string | null, nowMs: number): number | null {
  if (value === null) return null;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - nowMs);
}

function snippet(body: string): string {
  const flat = body.replace(/\s+/g, " ").trim();
  return flat.length > 80 ? `${flat.slice(0, 80)}…` : flat;
}
