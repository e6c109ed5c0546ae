/**
 * Anthropic Messages API backend over fetch (DOMAIN §11.5): `POST <base>/v1/messages` with the
 * system prompt and one user turn; text blocks of the reply are concatenated. The API key is
 * read lazily (first call) through the supplied getter, registered for redaction, sent only
 * in the `x-api-key` header and never logged or put in an error. Authentication, permission
 * and bad-request errors fail at once; 429, 5xx, timeouts and transport errors are retried
 * (`max_retries` retries), each attempt bounded by `timeout_seconds`.
 *
 * @example
 * ```ts
 * import { AnthropicBackend } from "./anthropic.ts";
 * const backend = new AnthropicBackend({
 *   model: "claude-haiku-4-5-20251001", timeoutSeconds: 20, maxRetries: 3,
 *   apiKey: () => Deno.env.get("ANTHROPIC_API_KEY") ?? "",
 * });
 * ```
 * @module
 */
import { registerSecret } from "../observability/logger.ts";
import type { Logger } from "../observability/logger.ts";
import type { MetricsRegistry } from "../observability/metrics.ts";
import { callJson } from "./http_call.ts";
import {
  type GenerateOptions,
  type LlmBackend,
  LlmBackendError,
  type LlmRequest,
} from "./types.ts";

/** The public API host. */
export const ANTHROPIC_BASE_URL = "https://api.anthropic.com";
/** API version header value. */
export const ANTHROPIC_VERSION = "2023-06-01";

/** Options of {@linkcode AnthropicBackend}. */
export interface AnthropicOptions {
  /** `llm.backends.anthropic.model`. */
  model: string;
  /** Per-attempt timeout (`timeout_seconds`, 20). */
  timeoutSeconds?: number;
  /** Per-attempt timeout in ms (overrides `timeoutSeconds`; tests). */
  timeoutMs?: number;
  /** Retries after the first attempt (`max_retries`, 3). */
  maxRetries?: number;
  /** Returns the API key (read lazily from the env var named by `api_key_env`). */
  apiKey: () => string;
  /** Base URL (default {@linkcode ANTHROPIC_BASE_URL}; tests point it at a fake server). */
  baseUrl?: string;
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

/** Statuses that fail at once: bad request, authentication, permission, not found, too large. */
const FINAL = new Set([400, 401, 403, 404, 413, 422]);

/**
 * Anthropic backend.
 *
 * @example
 * ```ts
 * import { AnthropicBackend } from "./anthropic.ts";
 * new AnthropicBackend({ model: "m", apiKey: () => "k" }).id; // "anthropic"
 * ```
 */
export class AnthropicBackend implements LlmBackend {
  readonly id = "anthropic";
  readonly model: string;
  readonly #options: AnthropicOptions;
  #key: string | undefined;

  constructor(options: AnthropicOptions) {
    this.model = options.model;
    this.#options = options;
  }

  #apiKey(): string {
    if (this.#key === undefined) {
      const key = this.#options.apiKey();
      if (typeof key !== "string" || key === "") {
        throw new LlmBackendError({
          backend: this.id,
          kind: "auth",
          attempts: 0,
          detail: "expected an API key in the configured environment variable, received none",
        });
      }
      registerSecret(key);
      this.#key = key;
    }
    return this.#key;
  }

  #call(path: string, method: "GET" | "POST", body: string | undefined, options: GenerateOptions) {
    const key = this.#apiKey();
    const o = this.#options;
    return callJson({
      backend: this.id,
      url: (o.baseUrl ?? ANTHROPIC_BASE_URL).replace(/\/+$/, "") + path,
      method,
      headers: () => ({
        "content-type": "application/json",
        "anthropic-version": ANTHROPIC_VERSION,
        "x-api-key": key,
      }),
      body,
      timeoutMs: o.timeoutMs ?? (o.timeoutSeconds ?? 20) * 1000,
      maxRetries: o.maxRetries ?? 3,
      isFinalStatus: (s) => FINAL.has(s),
      secrets: () => [key],
      backoff: o.backoff,
      fetch: o.fetch,
      sleep: o.sleep,
      signal: options.signal,
      logger: o.logger,
      registry: o.registry,
    });
  }

  /** Messages call; resolves with the concatenated text blocks. */
  async generate(request: LlmRequest, options: GenerateOptions = {}): Promise<string> {
    const body = JSON.stringify({
      model: this.model,
      max_tokens: request.maxTokens,
      temperature: request.temperature,
      system: request.system,
      messages: [{ role: "user", content: request.user }],
    });
    const reply = await this.#call("/v1/messages", "POST", body, options);
    const content = (reply as { content?: unknown })?.content;
    if (!Array.isArray(content)) {
      throw new LlmBackendError({
        backend: this.id,
        kind: "invalid_response",
        attempts: 1,
        detail: "expected a content array in the Messages reply, received none",
      });
    }
    return content
      .filter((b): b is { type: "text"; text: string } =>
        b !== null && typeof b === "object" && b.type === "text" && typeof b.text === "string"
      )
      .map((b) => b.text)
      .join("");
  }

  /** `GET /v1/models` answers (any 2xx). */
  async health(): Promise<boolean> {
    try {
      await this.#call("/v1/models", "GET", undefined, {});
      return true;
    } catch {
      return false;
    }
  }
}
