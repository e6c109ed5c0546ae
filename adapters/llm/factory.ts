/**
 * Build the configured LLM backend from the `llm` config section. The Anthropic key is read
 * lazily through `apiKey` (e.g. `secretAccessors(config).anthropicApiKey`), only on the first
 * call, so a disabled or non-Anthropic setup never touches the variable.
 *
 * @example
 * ```ts
 * import { createLlmBackend } from "./factory.ts";
 * const backend = createLlmBackend({ interpreter: { default_backend: "none" }, backends: {} });
 * backend.id; // "none"
 * ```
 * @module
 */
import type { Logger } from "../observability/logger.ts";
import type { MetricsRegistry } from "../observability/metrics.ts";
import { AnthropicBackend } from "./anthropic.ts";
import { NoneBackend } from "./none.ts";
import { OllamaBackend } from "./ollama.ts";
import type { LlmBackend } from "./types.ts";

/** The `llm` keys used here (a subset of `config.llm`). */
export interface LlmBackendSettings {
  interpreter: { default_backend: "ollama" | "anthropic" | "none" };
  backends: {
    ollama?: { endpoint?: string; model?: string; timeout_seconds?: number; max_retries?: number };
    anthropic?: { model?: string; timeout_seconds?: number; max_retries?: number };
  };
}

/** Options of {@linkcode createLlmBackend}. */
export interface LlmFactoryOptions {
  /** Lazy API key getter for Anthropic (reads the env var named by `api_key_env`). */
  apiKey?: () => string;
  /** Override the Anthropic base URL (tests). */
  anthropicBaseUrl?: string;
  /** Injectable fetch. */
  fetch?: typeof fetch;
  /** Logger. */
  logger?: Logger;
  /** Metrics registry. */
  registry?: MetricsRegistry;
}

/**
 * The backend named by `interpreter.default_backend`.
 *
 * @example
 * ```ts
 * import { createLlmBackend } from "./factory.ts";
 * createLlmBackend({ interpreter: { default_backend: "ollama" }, backends: {} }).model; // "gemma2:27b"
 * ```
 */
export function createLlmBackend(
  settings: LlmBackendSettings,
  options: LlmFactoryOptions = {},
): LlmBackend {
  const kind = settings.interpreter.default_backend;
  if (kind === "anthropic") {
    const a = settings.backends.anthropic ?? {};
    return new AnthropicBackend({
      model: a.model ?? "claude-haiku-4-5-20251001",
      timeoutSeconds: a.timeout_seconds ?? 20,
      maxRetries: a.max_retries ?? 3,
      apiKey: options.apiKey ?? (() => Deno.env.get("ANTHROPIC_API_KEY") ?? ""),
      baseUrl: options.anthropicBaseUrl,
      fetch: options.fetch,
      logger: options.logger,
      registry: options.registry,
    });
  }
  if (kind === "ollama") {
    const o = settings.backends.ollama ?? {};
    return new OllamaBackend({
      endpoint: o.endpoint ?? "http://localhost:11434",
      model: o.model ?? "gemma2:27b",
      timeoutSeconds: o.timeout_seconds ?? 30,
      maxRetries: o.max_retries ?? 2,
      fetch: options.fetch,
      logger: options.logger,
      registry: options.registry,
    });
  }
  return new NoneBackend();
}
