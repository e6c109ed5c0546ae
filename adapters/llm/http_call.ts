/**
 * One bounded, retrying JSON HTTP call shared by the LLM backends: a per-attempt timeout,
 * at most `1 + maxRetries` attempts with capped exponential backoff (honouring `Retry-After`
 * up to the cap), statuses the caller marks final fail at once. Every retry is counted
 * (`augur_llm_retries_total{backend,kind}`) and logged; headers are never logged, and error
 * details are scrubbed of registered secrets and of the values `secrets()` returns.
 *
 * @example
 * ```ts
 * import { callJson } from "./http_call.ts";
 * const body = await callJson({
 *   backend: "ollama", url: "http://127.0.0.1:11434/api/tags", method: "GET",
 *   headers: () => ({}), timeoutMs: 1000, maxRetries: 0, isFinalStatus: (s) => s < 500,
 * });
 * ```
 * @module
 */
import { createLogger, type Logger, redact } from "../observability/logger.ts";
import { defaultRegistry, type MetricsRegistry } from "../observability/metrics.ts";
import { LlmBackendError, type LlmErrorKind } from "./types.ts";

/** Options of {@linkcode callJson}. */
export interface HttpCallOptions {
  /** Backend id (labels, messages). */
  backend: string;
  /** Absolute URL. */
  url: string;
  /** HTTP method. */
  method: "GET" | "POST";
  /** Builds the request headers (called per attempt; may read a secret lazily). */
  headers: () => Record<string, string>;
  /** JSON body text. */
  body?: string;
  /** Per-attempt timeout in milliseconds. */
  timeoutMs: number;
  /** Retries after the first attempt. */
  maxRetries: number;
  /** Non-2xx statuses that must not be retried. */
  isFinalStatus: (status: number) => boolean;
  /** Values to scrub from error details (e.g. the API key). */
  secrets?: () => readonly string[];
  /** Backoff: first delay and cap in ms (default 500 and 8000). */
  backoff?: { initialMs: number; maxMs: number };
  /** Injectable fetch (default globalThis.fetch). */
  fetch?: typeof fetch;
  /** Injectable sleep (default setTimeout-based, abortable). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Aborts the call and its retries. */
  signal?: AbortSignal;
  /** Logger (default component `llm`). */
  logger?: Logger;
  /** Metrics registry (default the process registry). */
  registry?: MetricsRegistry;
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Classify a non-2xx status.
 *
 * @example
 * ```ts
 * import { statusKind } from "./http_call.ts";
 * statusKind(429); // "rate_limited"
 * ```
 */
export function statusKind(status: number): LlmErrorKind {
  if (status === 401 || status === 403) return "auth";
  if (status === 429) return "rate_limited";
  if (status >= 500) return "server";
  return "bad_request";
}

/** Scrub registered secrets and `extra` values from `text`, then cap its length. */
function scrub(text: string, extra: readonly string[]): string {
  let out = redact(text);
  for (const s of extra) if (s !== "" && out.includes(s)) out = out.split(s).join("***");
  out = out.replace(/\s+/g, " ").trim();
  return out.length > 200 ? out.slice(0, 200) + "…" : out;
}

function retryAfterMs(header: string | null): number | null {
  if (header === null) return null;
  const seconds = Number(header);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : null;
}

/**
 * Perform the call; resolves with the parsed JSON body of a 2xx response, rejects with
 * {@linkcode LlmBackendError}.
 *
 * @example
 * ```ts
 * import { callJson } from "./http_call.ts";
 * await callJson({ backend: "x", url: "http://127.0.0.1:1/", method: "GET", headers: () => ({}),
 *   timeoutMs: 100, maxRetries: 0, isFinalStatus: () => true }).catch((e) => e.kind); // "transport"
 * ```
 */
export async function callJson(options: HttpCallOptions): Promise<unknown> {
  const doFetch = options.fetch ?? globalThis.fetch;
  const sleep = options.sleep ?? defaultSleep;
  const log = options.logger ?? createLogger({ component: "llm" });
  const registry = options.registry ?? defaultRegistry;
  const retries = registry.counter(
    "augur_llm_retries_total",
    "LLM backend calls retried, by failure kind.",
    ["backend", "kind"],
  );
  const requests = registry.counter(
    "augur_llm_requests_total",
    "LLM backend calls by final outcome.",
    ["backend", "outcome"],
  );
  const secrets = () => options.secrets?.() ?? [];
  const initial = options.backoff?.initialMs ?? 500;
  const cap = options.backoff?.maxMs ?? 8000;
  const attemptsAllowed = 1 + Math.max(0, options.maxRetries);
  let attempt = 0;
  const fail = (
    kind: LlmErrorKind,
    detail: string,
    status?: number,
    cause?: unknown,
  ): LlmBackendError => {
    requests.inc({ backend: options.backend, outcome: kind });
    return new LlmBackendError(
      {
        backend: options.backend,
        kind,
        status,
        attempts: attempt,
        detail: scrub(detail, secrets()),
      },
      cause === undefined ? undefined : { cause: new Error(scrub(String(cause), secrets())) },
    );
  };
  while (true) {
    attempt++;
    if (options.signal?.aborted) throw fail("aborted", "the call was aborted");
    const timeout = AbortSignal.timeout(options.timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    let kind: LlmErrorKind;
    let detail: string;
    let status: number | undefined;
    let waitHint: number | null = null;
    try {
      const response = await doFetch(options.url, {
        method: options.method,
        headers: options.headers(),
        body: options.body,
        signal,
      });
      status = response.status;
      const text = await response.text();
      if (response.ok) {
        try {
          const body = JSON.parse(text);
          requests.inc({ backend: options.backend, outcome: "ok" });
          return body;
        } catch {
          throw fail(
            "invalid_response",
            "expected a JSON response body, received non-JSON",
            status,
          );
        }
      }
      kind = statusKind(status);
      detail = `${options.method} ${new URL(options.url).pathname}: ${text}`;
      waitHint = retryAfterMs(response.headers.get("retry-after"));
      if (options.isFinalStatus(status)) throw fail(kind, detail, status);
    } catch (error) {
      if (error instanceof LlmBackendError) throw error;
      if (options.signal?.aborted) throw fail("aborted", "the call was aborted");
      if (timeout.aborted) {
        kind = "timeout";
        detail = `no response within ${options.timeoutMs} ms`;
      } else {
        kind = "transport";
        detail = `request failed: ${(error as Error)?.message ?? String(error)}`;
      }
    }
    if (attempt >= attemptsAllowed) throw fail(kind, detail, status);
    const delay = Math.min(cap, Math.max(waitHint ?? 0, initial * 2 ** (attempt - 1)));
    retries.inc({ backend: options.backend, kind });
    log.warn("llm call failed; retrying", {
      backend: options.backend,
      kind,
      status,
      attempt,
      max_attempts: attemptsAllowed,
      delay_ms: delay,
    });
    try {
      await sleep(delay, options.signal);
    } catch {
      throw fail("aborted", "the call was aborted");
    }
  }
}
