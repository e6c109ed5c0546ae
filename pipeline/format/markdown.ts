/**
 * Deterministic Markdown (DOMAIN §11.1): one template per signal type (in code) over a shared
 * layout. Same context ⇒ same bytes. Numbers are correctly rounded (ties to even).
 *
 * Layout: title; bold lines (severity, confidence 2 dp, tier, detected time); the per-type
 * detector block plus provenance; summary bullets (question, close time, source, magnitude
 * 3 dp with direction, window in whole minutes); criteria blockquote; related markets (or a
 * fixed "none" line); investigation prompts (or a fixed "none" line); manipulation flags only
 * when present; footer (interpretation mode, schema version, signal id).
 *
 * @example
 * ```ts
 * import { renderMarkdown } from "./markdown.ts";
 * import type { SignalContext } from "../models.ts";
 * declare const context: SignalContext;
 * renderMarkdown(context).startsWith("# "); // true
 * ```
 * @module
 */
import { formatIsoMicros } from "../canonical_json.ts";
import { AugurError } from "../../config/errors.ts";
import type { MarketSignal, SignalContext, SignalType } from "../models.ts";
import { fixed } from "./number_format.ts";
import { severityOf } from "./severity.ts";

/** A signal type without a template (a contract error). */
export class MissingTemplateError extends AugurError {
  constructor(signalType: string) {
    super(
      `no Markdown template for signal_type ${
        JSON.stringify(signalType)
      } (expected price_velocity, volume_spike, book_imbalance, cross_market_divergence or regime_shift)`,
    );
    this.name = "MissingTemplateError";
  }
}

/** Fixed line when a list section is empty. */
export const NONE_RELATED = "- No related markets with data.";
/** Fixed line when no investigation prompt applies. */
export const NONE_PROMPTS = "- No investigation prompts for this signal type and category.";

type Raw = MarketSignal["raw_features"];

function num(raw: Raw, key: string): number {
  const v = raw[key];
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}

function text(raw: Raw, key: string, fallback: string): string {
  const v = raw[key];
  return typeof v === "string" && v !== "" ? v : fallback;
}

/** Per-type detector lines (without the provenance line). */
const TEMPLATES: Readonly<Record<SignalType, (s: MarketSignal) => string[]>> = {
  price_velocity: (s) => [
    `- P5 (posterior change probability): ${fixed(num(s.raw_features, "posterior_p_change"), 3)}`,
  ],
  volume_spike: (s) => [
    `- z-score: ${fixed(num(s.raw_features, "z_score"), 3)}`,
    `- \`ewma_mean\`: ${fixed(num(s.raw_features, "ewma_mean"), 3)}`,
    `- 1h volume ratio: ${fixed(num(s.raw_features, "volume_ratio_1h"), 3)}`,
  ],
  book_imbalance: (s) => [
    `- Bid/ask depth ratio: ${fixed(num(s.raw_features, "bid_ask_ratio"), 3)}`,
    `- Liquidity: ${fixed(num(s.raw_features, "liquidity"), 0)} USD`,
  ],
  cross_market_divergence: (s) => [
    `- Spearman ρ: ${fixed(num(s.raw_features, "spearman_rho"), 3)}`,
    `- Historical z: ${fixed(num(s.raw_features, "historical_z"), 3)}`,
    `- p-value: ${fixed(num(s.raw_features, "p_value"), 4)}`,
    `- Related market: ${
      text(s.raw_features, "related_market_id", s.related_market_ids[0] ?? "(none)")
    }`,
  ],
  regime_shift: (s) => [
    `- Positive CUSUM: ${fixed(num(s.raw_features, "positive_cusum"), 3)}`,
    `- Negative CUSUM: ${fixed(num(s.raw_features, "negative_cusum"), 3)}`,
    `- Threshold: ${fixed(num(s.raw_features, "threshold"), 3)}`,
  ],
};

/**
 * "price_velocity" → "Price Velocity".
 *
 * @example
 * ```ts
 * import { typeTitle } from "./markdown.ts";
 * typeTitle("cross_market_divergence"); // "Cross Market Divergence"
 * ```
 */
export function typeTitle(signalType: string): string {
  return signalType.split("_").map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join(" ");
}

/**
 * Direction legend: 1 up, −1 down, 0 flat.
 *
 * @example
 * ```ts
 * import { directionWord } from "./markdown.ts";
 * directionWord(-1); // "down"
 * ```
 */
export function directionWord(direction: number): string {
  return direction > 0 ? "up" : direction < 0 ? "down" : "flat";
}

/**
 * A blockquote of `text` (each line prefixed with `> `); `> (none)` when empty.
 *
 * @example
 * ```ts
 * import { blockquote } from "./markdown.ts";
 * blockquote("a\nb"); // "> a\n> b"
 * ```
 */
export function blockquote(text: string): string {
  if (text.trim() === "") return "> (none)";
  return text.replace(/\r\n?/g, "\n").split("\n").map((l) => (l === "" ? ">" : `> ${l}`))
    .join("\n");
}

/**
 * Render a context as Markdown. Throws {@linkcode MissingTemplateError} for an unknown type.
 *
 * @example
 * ```ts
 * import { renderMarkdown } from "./markdown.ts";
 * import type { SignalContext } from "../models.ts";
 * declare const context: SignalContext;
 * const md = renderMarkdown(context);
 * ```
 */
export function renderMarkdown(context: SignalContext): string {
  const s = context.signal;
  const template = Object.hasOwn(TEMPLATES, s.signal_type) ? TEMPLATES[s.signal_type] : undefined;
  if (template === undefined) throw new MissingTemplateError(s.signal_type);
  const provenance = text(s.raw_features, "calibration_provenance", "(none)");
  const lines: string[] = [
    `# ${typeTitle(s.signal_type)} on ${s.market_id}`,
    "",
    `**Severity:** ${severityOf(s)}`,
    "",
    `**Confidence:** ${fixed(s.confidence, 2)}`,
    "",
    `**Liquidity tier:** ${s.liquidity_tier}`,
    "",
    `**Detected:** ${formatIsoMicros(s.detected_at)}`,
    "",
    "## Detector",
    "",
    ...template(s),
    `- Provenance: \`${provenance}\``,
    "",
    "## Summary",
    "",
    `- Question: ${context.market_question}`,
    `- Closes: ${formatIsoMicros(context.closes_at)}`,
    `- Resolution source: ${
      context.resolution_source === "" ? "(none)" : context.resolution_source
    }`,
    `- Magnitude: ${fixed(s.magnitude, 3)} (${directionWord(s.direction)})`,
    `- Window: ${Math.floor(s.window_seconds / 60)} min`,
    "",
    "## Resolution criteria",
    "",
    blockquote(context.resolution_criteria),
    "",
    "## Related markets",
    "",
  ];
  if (context.related_markets.length === 0) lines.push(NONE_RELATED);
  for (const r of context.related_markets) {
    lines.push(
      `- **${r.market_id}** (${r.relationship_type}, strength ${
        fixed(r.relationship_strength, 2)
      }): price ${fixed(r.current_price, 3)}, 24h delta ${fixed(r.delta_24h, 3)}, volume ${
        fixed(r.volume_24h, 0)
      } USD`,
    );
  }
  lines.push("", "## Investigation prompts", "");
  if (context.investigation_prompts.length === 0) lines.push(NONE_PROMPTS);
  for (const p of context.investigation_prompts) lines.push(`- ${p}`);
  if (s.manipulation_flags.length > 0) {
    lines.push("", "## Manipulation flags", "");
    for (const f of s.manipulation_flags) lines.push(`- \`${f}\``);
  }
  lines.push(
    "",
    "---",
    "",
    `_Interpretation: ${context.interpretation_mode} · Schema: ${context.schema_version} · Signal: ${s.signal_id}_`,
    "",
  );
  return lines.join("\n");
}
