/**
 * Deterministic prompts of the gated LLM brief (DOMAIN §11.5 step 2) and their hash
 * (`prompt_hash` = hex SHA-256 of UTF-8 `system + "\n\n" + user`). Same context and phrase
 * list ⇒ same bytes. Hashing is pure computation (no I/O).
 *
 * @example
 * ```ts
 * import { buildBriefPrompt } from "./brief_prompt.ts";
 * import type { SignalContext } from "../models.ts";
 * declare const context: SignalContext;
 * const { system, user, prompt_hash } = buildBriefPrompt(context, { forbiddenPhrases: ["price will"] });
 * ```
 * @module
 */
import { createHash } from "node:crypto";
import { formatFloat, formatIsoMicros, roundHalfEven } from "../canonical_json.ts";
import { CONSUMER_TYPES, type SignalContext } from "../models.ts";
import { fixed } from "./number_format.ts";

/** A built prompt. */
export interface BriefPrompt {
  /** System prompt. */
  system: string;
  /** User turn. */
  user: string;
  /** Hex SHA-256 of `system + "\n\n" + user`. */
  prompt_hash: string;
}

/** Options of {@linkcode buildBriefPrompt}. */
export interface BriefPromptOptions {
  /** Forbidden phrases (`config.forbidden_tokens.phrases`); printed lower-cased, sorted, unique. */
  forbiddenPhrases: readonly string[];
}

/** The brief fields the model supplies, one line each (shown in the system prompt). */
export const BRIEF_SCHEMA_LINES: readonly string[] = [
  "- headline: string, at most 90 characters, a factual one-line restatement",
  "- body_markdown: string, at most 800 characters, Markdown",
  "- actionable_for: array of consumer types from the list below (may be empty)",
];

function f6(x: number): string {
  return formatFloat(roundHalfEven(x, 6));
}

/**
 * Sorted, unique, lower-cased phrases (the order the prompt lists them).
 *
 * @example
 * ```ts
 * import { normalizePhrases } from "./brief_prompt.ts";
 * normalizePhrases(["b", "A", "a"]); // ["a", "b"]
 * ```
 */
export function normalizePhrases(phrases: readonly string[]): string[] {
  return [...new Set(phrases.map((p) => p.toLowerCase()))].sort();
}

/**
 * The system prompt (independent of the signal).
 *
 * @example
 * ```ts
 * import { systemPrompt } from "./brief_prompt.ts";
 * systemPrompt(["price will"]).includes("- price will"); // true
 * ```
 */
export function systemPrompt(forbiddenPhrases: readonly string[]): string {
  return [
    "You restate a prediction-market signal for a research audience. Restate facts only.",
    "",
    "You must not:",
    "- use any of the forbidden phrases listed below;",
    "- explain why the market moved or speculate about causes;",
    "- invent facts, numbers, events or sources that are not in the input;",
    "- give trading, investment or betting advice.",
    "",
    "You must:",
    "- restate the numbers exactly as given;",
    "- quote the resolution criteria verbatim;",
    "- list the related markets;",
    "- repeat the investigation prompts as bullets;",
    "- return exactly one JSON object in the brief schema below, with no other text.",
    "",
    "Forbidden phrases:",
    ...normalizePhrases(forbiddenPhrases).map((p) => `- ${p}`),
    "",
    "Brief schema (JSON object fields):",
    ...BRIEF_SCHEMA_LINES,
    "",
    "Consumer types:",
    ...CONSUMER_TYPES.map((c) => `- ${c}`),
  ].join("\n");
}

/**
 * The user turn for one context.
 *
 * @example
 * ```ts
 * import { userPrompt } from "./brief_prompt.ts";
 * import type { SignalContext } from "../models.ts";
 * declare const context: SignalContext;
 * userPrompt(context).startsWith("Signal type: "); // true
 * ```
 */
export function userPrompt(context: SignalContext): string {
  const s = context.signal;
  const related = context.related_markets.length === 0
    ? ["(none)"]
    : context.related_markets.map((r) =>
      `- ${r.market_id} (${r.relationship_type}, strength ${f6(r.relationship_strength)}): price ${
        f6(r.current_price)
      }, 24h delta ${f6(r.delta_24h)}`
    );
  const prompts = context.investigation_prompts.length === 0
    ? ["(none)"]
    : context.investigation_prompts.map((p) => `- ${p}`);
  return [
    `Signal type: ${s.signal_type}`,
    `Market: ${s.market_id} (${s.platform})`,
    `Question: ${context.market_question}`,
    `Magnitude: ${fixed(s.magnitude, 6)}`,
    `Confidence: ${fixed(s.confidence, 6)}`,
    `Direction: ${s.direction} (1 = up, -1 = down, 0 = no direction)`,
    `FDR adjusted: ${s.fdr_adjusted}`,
    `Liquidity tier: ${s.liquidity_tier}`,
    `Window seconds: ${s.window_seconds}`,
    `Detected at: ${formatIsoMicros(s.detected_at)}`,
    `Closes at: ${formatIsoMicros(context.closes_at)}`,
    `Resolution criteria: ${
      context.resolution_criteria === "" ? "(none)" : context.resolution_criteria
    }`,
    `Resolution source: ${context.resolution_source === "" ? "(none)" : context.resolution_source}`,
    `Manipulation flags: ${
      s.manipulation_flags.length === 0 ? "(none)" : s.manipulation_flags.join(", ")
    }`,
    "Related markets:",
    ...related,
    "Investigation prompts:",
    ...prompts,
    "",
    "Write the brief now as one JSON object with the fields headline, body_markdown and actionable_for.",
  ].join("\n");
}

/**
 * Hex SHA-256 of UTF-8 `system + "\n\n" + user`.
 *
 * @example
 * ```ts
 * import { promptHash } from "./brief_prompt.ts";
 * promptHash("a", "b").length; // 64
 * ```
 */
export function promptHash(system: string, user: string): string {
  return createHash("sha256").update(system + "\n\n" + user, "utf8").digest("hex");
}

/**
 * System prompt, user turn and hash for one context.
 *
 * @example
 * ```ts
 * import { buildBriefPrompt } from "./brief_prompt.ts";
 * import type { SignalContext } from "../models.ts";
 * declare const context: SignalContext;
 * buildBriefPrompt(context, { forbiddenPhrases: [] }).prompt_hash.length; // 64
 * ```
 */
export function buildBriefPrompt(context: SignalContext, options: BriefPromptOptions): BriefPrompt {
  const system = systemPrompt(options.forbiddenPhrases);
  const user = userPrompt(context);
  return { system, user, prompt_hash: promptHash(system, user) };
}
