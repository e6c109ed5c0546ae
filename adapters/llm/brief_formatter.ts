/**
 * The gated LLM brief formatter (DOMAIN §11.5): suspended check, deterministic prompt,
 * backend call (bounded timeouts/retries), then the pure gate (`pipeline/format/brief_gate.ts`).
 * Any failure ⇒ no brief; deterministic outputs are unaffected. Every rejection is counted in
 * `augur_llm_briefs_rejected_total{reason}` (forbidden_token, schema, consumer_gate,
 * backend_error, suspended) and logged without the model text or any secret.
 *
 * @example
 * ```ts
 * import { LlmBriefFormatter } from "./brief_formatter.ts";
 * import { NoneBackend } from "./none.ts";
 * import type { SignalContext } from "../../pipeline/models.ts";
 * declare const context: SignalContext;
 * const formatter = new LlmBriefFormatter({ backend: new NoneBackend(), forbiddenPhrases: [],
 *   optedIn: ["dashboard"] });
 * const result = await formatter.format(context); // { rejected: "backend_error", ... }
 * ```
 * @module
 */
import type { ConsumerType, SignalContext } from "../../pipeline/models.ts";
import { buildBriefPrompt } from "../../pipeline/format/brief_prompt.ts";
import {
  type BriefRejectReason,
  gateBrief,
  type GateResult,
} from "../../pipeline/format/brief_gate.ts";
import { createLogger, type Logger } from "../observability/logger.ts";
import { defaultRegistry, type MetricsRegistry } from "../observability/metrics.ts";
import { type LlmBackend, LlmBackendError } from "./types.ts";

/** Options of {@linkcode LlmBriefFormatter}. */
export interface BriefFormatterOptions {
  /** The model backend. */
  backend: LlmBackend;
  /** `config.forbidden_tokens.phrases`. */
  forbiddenPhrases: readonly string[];
  /** Consumers opted in to llm_assisted output (`config.consumers.llm_assisted.consumers`). */
  optedIn: readonly ConsumerType[];
  /** `llm.interpreter.max_tokens` (512). */
  maxTokens?: number;
  /** `llm.interpreter.temperature` (0.2). */
  temperature?: number;
  /** `llm.interpreter.suspend_during_storm` (true). */
  suspendDuringStorm?: boolean;
  /** Package version (default `0.0.0+unknown`). */
  formatterVersion?: string;
  /** New brief id (default `crypto.randomUUID()`). */
  newId?: () => string;
  /** Current time in epoch µs (default wall clock). */
  now?: () => number;
  /** Logger (default component `llm`). */
  logger?: Logger;
  /** Metrics registry. */
  registry?: MetricsRegistry;
}

/** Per-call options of {@linkcode LlmBriefFormatter.format}. */
export interface FormatOptions {
  /** The signal was produced during a storm (suspends the formatter). */
  inStorm?: boolean;
  /** Aborts the model call (drain/failover: in-flight briefs are dropped by design). */
  signal?: AbortSignal;
}

/**
 * Produces gated briefs.
 *
 * @example
 * ```ts
 * import { LlmBriefFormatter } from "./brief_formatter.ts";
 * import { NoneBackend } from "./none.ts";
 * new LlmBriefFormatter({ backend: new NoneBackend(), forbiddenPhrases: [], optedIn: [] });
 * ```
 */
export class LlmBriefFormatter {
  readonly #o: BriefFormatterOptions;
  readonly #log: Logger;
  readonly #rejected;
  readonly #accepted;

  constructor(options: BriefFormatterOptions) {
    this.#o = options;
    this.#log = options.logger ?? createLogger({ component: "llm" });
    const registry = options.registry ?? defaultRegistry;
    this.#rejected = registry.counter(
      "augur_llm_briefs_rejected_total",
      "LLM briefs not produced, by reason.",
      ["reason"],
    );
    this.#accepted = registry.counter("augur_llm_briefs_accepted_total", "LLM briefs produced.");
  }

  /** Run §11.5 for one context. Never throws for model/backend problems. */
  async format(context: SignalContext, options: FormatOptions = {}): Promise<GateResult> {
    const signalId = context.signal.signal_id;
    if (options.inStorm && (this.#o.suspendDuringStorm ?? true)) {
      return this.#reject(signalId, "suspended", "storm in progress (suspend_during_storm)");
    }
    const prompt = buildBriefPrompt(context, { forbiddenPhrases: this.#o.forbiddenPhrases });
    let text: string;
    try {
      text = await this.#o.backend.generate({
        system: prompt.system,
        user: prompt.user,
        maxTokens: this.#o.maxTokens ?? 512,
        temperature: this.#o.temperature ?? 0.2,
      }, { signal: options.signal });
    } catch (error) {
      const detail = error instanceof LlmBackendError
        ? error.message
        : `unexpected backend failure (${(error as Error)?.name ?? "Error"})`;
      return this.#reject(signalId, "backend_error", detail);
    }
    const result = gateBrief(text, {
      context,
      promptHash: prompt.prompt_hash,
      forbiddenPhrases: this.#o.forbiddenPhrases,
      optedIn: this.#o.optedIn,
      model: this.#o.backend.model,
      backend: this.#o.backend.id,
      formatterVersion: this.#o.formatterVersion,
      briefId: (this.#o.newId ?? (() => crypto.randomUUID()))(),
      generatedAt: (this.#o.now ?? (() => Date.now() * 1000))(),
    });
    if ("rejected" in result) return this.#reject(signalId, result.rejected, result.detail);
    this.#accepted.inc();
    this.#log.info("llm brief accepted", {
      signal_id: signalId,
      brief_id: result.brief.brief_id,
      model: result.brief.model,
    });
    return result;
  }

  #reject(signalId: string, reason: BriefRejectReason, detail: string): GateResult {
    this.#rejected.inc({ reason });
    this.#log.warn("llm brief rejected", { signal_id: signalId, reason, detail });
    return { rejected: reason, detail };
  }
}
