/**
 * The LLM backend contract of the gated brief (DOMAIN §11.5): one system prompt and one user
 * turn in, the model's text out. Implementations: `anthropic.ts` (Messages API over fetch),
 * `ollama.ts` (local HTTP), `none.ts` (always fails with kind `disabled`). Errors are typed
 * ({@linkcode LlmBackendError}) and never contain the API key.
 *
 * @example
 * ```ts
 * import type { LlmBackend } from "./types.ts";
 * declare const backend: LlmBackend;
 * const text = await backend.generate({ system: "s", user: "u", maxTokens: 512, temperature: 0.2 });
 * ```
 * @module
 */
import { AugurError } from "../../config/errors.ts";

/** One generation request. */
export interface LlmRequest {
  /** System prompt. */
  system: string;
  /** The single user turn. */
  user: string;
  /** `llm.interpreter.max_tokens` (512). */
  maxTokens: number;
  /** `llm.interpreter.temperature` (0.2). */
  temperature: number;
}

/** Per-call options. */
export interface GenerateOptions {
  /** Aborts the call (and its retries). */
  signal?: AbortSignal;
}

/** A model backend. */
export interface LlmBackend {
  /** Backend id: `anthropic`, `ollama` or `none`. */
  readonly id: string;
  /** Model id (the brief's `model` is `<model>@<id>`). */
  readonly model: string;
  /** Generate; rejects with {@linkcode LlmBackendError} after bounded retries. */
  generate(request: LlmRequest, options?: GenerateOptions): Promise<string>;
  /** Cheap reachability check (true = reachable). */
  health(): Promise<boolean>;
}

/** Classified failure of a backend call. */
export type LlmErrorKind =
  | "auth"
  | "bad_request"
  | "rate_limited"
  | "server"
  | "timeout"
  | "transport"
  | "invalid_response"
  | "aborted"
  | "disabled";

/** A backend call failed (after its bounded retries when the error was retryable). */
export class LlmBackendError extends AugurError {
  /** Backend id. */
  readonly backend: string;
  /** Failure class. */
  readonly kind: LlmErrorKind;
  /** Last HTTP status, if any. */
  readonly status: number | undefined;
  /** Attempts made. */
  readonly attempts: number;
  constructor(
    init: {
      backend: string;
      kind: LlmErrorKind;
      status?: number;
      attempts: number;
      detail: string;
    },
    options?: ErrorOptions,
  ) {
    super(
      `${init.backend}: ${init.kind}${
        init.status === undefined ? "" : ` (HTTP ${init.status})`
      } after ${init.attempts} attempt${init.attempts === 1 ? "" : "s"}: ${init.detail}`,
      options,
    );
    this.name = "LlmBackendError";
    this.backend = init.backend;
    this.kind = init.kind;
    this.status = init.status;
    this.attempts = init.attempts;
  }
}
