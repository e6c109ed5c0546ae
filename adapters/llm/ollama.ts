/**
 * Ollama backend (DOMAIN §11.5): `POST <endpoint>/api/generate` with
 * `{model, system, prompt, stream: false, options: {num_predict, temperature}}` → `response`;
 * health `GET /api/tags`. 4xx fails at once; other errors (5xx, timeouts, transport) are
 * retried `max_retries` times, each attempt bounded by `timeout_seconds`.
 *
 * @example
 * ```ts
 * import { OllamaBackend } from "./ollama.ts";
 * const backend = new OllamaBackend({ endpoint: "http://localhost:11434", model: "gemma2:27b" });
 * ```
 * @module
 */
import type { Logger } from "../observability/logger.ts";
import type { MetricsRegistry } from "../observability/metrics.ts";
import { callJson } from "./http_call.ts";
import {
  type GenerateOptions,
  type LlmBackend,
  LlmBackendError,
  type LlmRequest,
} from "./types.ts";

/** Options of {@linkcode OllamaBackend}. */
export interface OllamaOptions {
  /** `llm.backends.ollama.endpoint`. */
  endpoint: string;
  /** `llm.backends.ollama.model`. */
  model: string;
  /** Per-attempt timeout (`timeout_seconds`, 30). */
  timeoutSeconds?: number;
  /** Per-attempt timeout in ms (overrides `timeoutSeconds`; tests). */
  timeoutMs?: number;
  /** Retries after the first attempt (`max_retries`, 2). */
  maxRetries?: number;
  /** Retry backoff (default 500 ms doubling, capped at 8 s). */
  backoff?: { initialMs: number; maxMs: number };
  /** Injectable fetch. */
  fetch?: typeof fetch;
  /** Injectable sleep. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Logger. */
  logger?: Logger;
  /** Metrics registry. */
  registry?: MetricsRegistry;
}

/**
 * Ollama backend.
 *
 * @example
 * ```ts
 * import { OllamaBackend } from "./ollama.ts";
 * new OllamaBackend({ endpoint: "http://localhost:11434", model: "m" }).id; // "ollama"
 * ```
 */
export class OllamaBackend implements LlmBackend {
  readonly id = "ollama";
  readonly model: string;
  readonly #options: OllamaOptions;

  constructor(options: OllamaOptions) {
    this.model = options.model;
    this.#options = options;
  }

  #call(path: string, method: "GET" | "POST", body: string | undefined, options: GenerateOptions) {
    const o = this.#options;
    return callJson({
      backend: this.id,
      url: o.endpoint.replace(/\/+$/, "") + path,
      method,
      headers: () => ({ "content-type": "application/json" }),
      body,
      timeoutMs: o.timeoutMs ?? (o.timeoutSeconds ?? 30) * 1000,
      maxRetries: o.maxRetries ?? 2,
      isFinalStatus: (s) => s >= 400 && s < 500,
      backoff: o.backoff,
      fetch: o.fetch,
      sleep: o.sleep,
      signal: options.signal,
      logger: o.logger,
      registry: o.registry,
    });
  }

  /** Generate; resolves with `response`. */
  async generate(request: LlmRequest, options: GenerateOptions = {}): Promise<string> {
    const body = JSON.stringify({
      model: this.model,
      system: request.system,
      prompt: request.user,
      stream: false,
      options: { num_predict: request.maxTokens, temperature: request.temperature },
    });
    const reply = await this.#call("/api/generate", "POST", body, options);
    const response = (reply as { response?: unknown })?.response;
    if (typeof response !== "string") {
      throw new LlmBackendError({
        backend: this.id,
        kind: "invalid_response",
        attempts: 1,
        detail: "expected a string `response` in the reply, received none",
      });
    }
    return response;
  }

  /** `GET /api/tags` answers. */
  async health(): Promise<boolean> {
    try {
      await this.#call("/api/tags", "GET", undefined, {});
      return true;
    } catch {
      return false;
    }
  }
}
