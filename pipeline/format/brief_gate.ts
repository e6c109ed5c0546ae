/**
 * The gate of the LLM brief (DOMAIN §11.5 steps 4–8), pure: parse the model's text, lint it
 * against the forbidden phrases, stamp the deterministic fields, validate, and keep only
 * opted-in `actionable_for` consumers. Returns `{ brief }` or `{ rejected, detail }` — a
 * failing brief is never coerced. `brief_id` and `generated_at` are inputs (the adapter or
 * runtime supplies them).
 *
 * Rejection reasons (the `reason` label of `augur_llm_briefs_rejected_total`):
 * `forbidden_token`, `schema`, `consumer_gate` (decided here), `backend_error`, `suspended`
 * (decided by the caller before/at the model call).
 *
 * Tolerance: one surrounding Markdown code fence (```json … ```) around the JSON object is
 * removed before parsing; anything else that is not a JSON object is `schema`.
 *
 * @example
 * ```ts
 * import { gateBrief } from "./brief_gate.ts";
 * import type { SignalContext } from "../models.ts";
 * declare const context: SignalContext;
 * const result = gateBrief('{"headline":"h","body_markdown":"b","actionable_for":["dashboard"]}', {
 *   context, promptHash: "0".repeat(64), forbiddenPhrases: ["price will"],
 *   optedIn: ["dashboard"], model: "m", backend: "ollama",
 *   briefId: "00000000-0000-4000-8000-000000000000", generatedAt: 0,
 * });
 * "brief" in result; // true
 * ```
 * @module
 */
import {
  CONSUMER_TYPES,
  type ConsumerType,
  type IntelligenceBrief,
  IntelligenceBriefSchema,
  SCHEMA_VERSION,
  type SignalContext,
} from "../models.ts";
import { severityOf } from "./severity.ts";

/** Why a brief was not produced. */
export const BRIEF_REJECT_REASONS = [
  "forbidden_token",
  "schema",
  "consumer_gate",
  "backend_error",
  "suspended",
] as const;
/** A rejection reason. */
export type BriefRejectReason = typeof BRIEF_REJECT_REASONS[number];

/** Package version used when the caller does not know it. */
export const FALLBACK_FORMATTER_VERSION = "0.0.0+unknown";

/** Inputs of {@linkcode gateBrief}. */
export interface GateInputs {
  /** The context the brief restates. */
  context: SignalContext;
  /** `prompt_hash` of the prompt sent. */
  promptHash: string;
  /** Forbidden phrases (matched lower-cased as plain substrings). */
  forbiddenPhrases: readonly string[];
  /** Consumers opted in to llm_assisted output. */
  optedIn: readonly ConsumerType[];
  /** Model id (e.g. `claude-haiku-4-5-20251001`). */
  model: string;
  /** Backend id (e.g. `anthropic`). */
  backend: string;
  /** Package version (default `0.0.0+unknown`). */
  formatterVersion?: string;
  /** New UUID for the brief. */
  briefId: string;
  /** Epoch µs. */
  generatedAt: number;
}

/** Outcome of {@linkcode gateBrief}. */
export type GateResult =
  | { brief: IntelligenceBrief }
  | { rejected: BriefRejectReason; detail: string };

const FENCE = /^\s*```[a-zA-Z]*\s*\n([\s\S]*?)\n?\s*```\s*$/;

/**
 * The first forbidden phrase contained in `text` (case-insensitive plain substring), or null.
 *
 * @example
 * ```ts
 * import { lintText } from "./brief_gate.ts";
 * lintText("The Price Will rise", ["price will"]); // "price will"
 * lintText("Volume rose", ["price will"]); // null
 * ```
 */
export function lintText(text: string, phrases: readonly string[]): string | null {
  const lower = text.toLowerCase();
  for (const phrase of phrases) {
    const p = phrase.toLowerCase();
    if (p !== "" && lower.includes(p)) return p;
  }
  return null;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "string" ? "a string" : typeof v;
}

/**
 * Run steps 4–8 of DOMAIN §11.5 over the model's raw text.
 *
 * @example
 * ```ts
 * import { gateBrief } from "./brief_gate.ts";
 * import type { GateInputs } from "./brief_gate.ts";
 * declare const inputs: GateInputs;
 * gateBrief("not json", inputs); // { rejected: "schema", detail: "expected a JSON object, ..." }
 * ```
 */
export function gateBrief(raw: string, inputs: GateInputs): GateResult {
  // 4. Parse; must be an object.
  const fenced = FENCE.exec(raw);
  const text = fenced ? fenced[1] : raw;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { rejected: "schema", detail: "expected a JSON object, received text that is not JSON" };
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return { rejected: "schema", detail: `expected a JSON object, received ${describe(parsed)}` };
  }
  const obj = parsed as Record<string, unknown>;
  // 5. Lint headline + "\n" + body_markdown.
  const headline = typeof obj.headline === "string" ? obj.headline : "";
  const body = typeof obj.body_markdown === "string" ? obj.body_markdown : "";
  const hit = lintText(headline + "\n" + body, inputs.forbiddenPhrases);
  if (hit !== null) {
    return { rejected: "forbidden_token", detail: `contains the forbidden phrase "${hit}"` };
  }
  // 6. Stamp the deterministic fields.
  const candidate: Record<string, unknown> = {
    ...obj,
    brief_id: inputs.briefId,
    signal_id: inputs.context.signal.signal_id,
    severity: severityOf(inputs.context.signal),
    interpretation_mode: "llm_assisted",
    model: `${inputs.model}@${inputs.backend}`,
    prompt_hash: inputs.promptHash,
    formatter_version: inputs.formatterVersion ?? FALLBACK_FORMATTER_VERSION,
    generated_at: inputs.generatedAt,
    forbidden_token_check: "passed",
    schema_version: SCHEMA_VERSION,
  };
  // 7. Validate: actionable_for first (offenders in input order), then the whole record.
  if ("actionable_for" in obj) {
    const list = obj.actionable_for;
    if (!Array.isArray(list)) {
      return {
        rejected: "schema",
        detail: `actionable_for: expected a list of consumer types, received ${describe(list)}`,
      };
    }
    const offenders = list.filter((c) => !(CONSUMER_TYPES as readonly unknown[]).includes(c));
    if (offenders.length > 0) {
      return {
        rejected: "schema",
        detail: `actionable_for: expected consumer types (${CONSUMER_TYPES.join(", ")}), received ${
          offenders.map((o) => JSON.stringify(o)).join(", ")
        }`,
      };
    }
  }
  const result = IntelligenceBriefSchema.safeParse(candidate);
  if (!result.success) {
    const issue = result.error.issues[0];
    return {
      rejected: "schema",
      detail: `${issue.path.map(String).join(".") || "<root>"}: ${issue.message}`,
    };
  }
  // 8. Keep only opted-in consumers; none left ⇒ drop.
  const kept = [...new Set(result.data.actionable_for)].filter((c) => inputs.optedIn.includes(c));
  if (kept.length === 0) {
    return {
      rejected: "consumer_gate",
      detail: `actionable_for: expected at least one opted-in consumer (${
        inputs.optedIn.join(", ") || "none opted in"
      }), received ${JSON.stringify(result.data.actionable_for)}`,
    };
  }
  return { brief: { ...result.data, actionable_for: kept } };
}
