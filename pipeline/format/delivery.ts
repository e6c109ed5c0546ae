/**
 * Delivery payload builders (DOMAIN §11.4), pure: webhook bodies in the three formats
 * (`json` = canonical JSON of the context; `markdown` = `{"text": md}`; `slack_blocks`),
 * webhook headers, and WebSocket frames. The HTTP/WebSocket I/O lives in the runtime.
 *
 * @example
 * ```ts
 * import { webhookBody } from "./delivery.ts";
 * import type { SignalContext } from "../models.ts";
 * declare const context: SignalContext;
 * const body = webhookBody(context, "markdown"); // '{"text":"# ..."}'
 * ```
 * @module
 */
import { canonicalJson, formatIsoMicros, KINDS } from "../canonical_json.ts";
import type { FrameType, SignalContext } from "../models.ts";
import { renderMarkdown } from "./markdown.ts";
import { fixed } from "./number_format.ts";
import { severityOf } from "./severity.ts";

/** Webhook payload formats. */
export type WebhookFormat = "json" | "markdown" | "slack_blocks";

/** Options of {@linkcode webhookBody}. */
export interface WebhookBodyOptions {
  /** `formatters.json.float_decimals` (default 6). */
  floatDecimals?: number;
}

/** Slack limits a section's text to 3000 characters. */
const SLACK_SECTION_MAX = 3000;

function clip(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : chars.slice(0, max - 1).join("") + "…";
}

function section(text: string): Record<string, unknown> {
  return { type: "section", text: { type: "mrkdwn", text: clip(text, SLACK_SECTION_MAX) } };
}

/**
 * Slack Block Kit message of a context: header "<type> | <severity> | <confidence 2dp>",
 * a section with question and criteria, optional related / prompt / flag sections, and a
 * context footer.
 *
 * @example
 * ```ts
 * import { slackBlocks } from "./delivery.ts";
 * import type { SignalContext } from "../models.ts";
 * declare const context: SignalContext;
 * slackBlocks(context).blocks[0].type; // "header"
 * ```
 */
export function slackBlocks(context: SignalContext): { blocks: Record<string, unknown>[] } {
  const s = context.signal;
  const blocks: Record<string, unknown>[] = [
    {
      type: "header",
      text: {
        type: "plain_text",
        text: clip(`${s.signal_type} | ${severityOf(s)} | ${fixed(s.confidence, 2)}`, 150),
      },
    },
    section(
      `*Question:* ${context.market_question}\n*Criteria:* ${
        context.resolution_criteria === "" ? "(none)" : context.resolution_criteria
      }`,
    ),
  ];
  if (context.related_markets.length > 0) {
    blocks.push(section(
      "*Related markets*\n" +
        context.related_markets.map((r) =>
          `• ${r.market_id} (${r.relationship_type}, strength ${
            fixed(r.relationship_strength, 2)
          }): price ${fixed(r.current_price, 3)}, 24h delta ${fixed(r.delta_24h, 3)}`
        ).join("\n"),
    ));
  }
  if (context.investigation_prompts.length > 0) {
    blocks.push(section(
      "*Investigation prompts*\n" + context.investigation_prompts.map((p) => `• ${p}`).join("\n"),
    ));
  }
  if (s.manipulation_flags.length > 0) {
    blocks.push(section(
      "*Manipulation flags*\n" + s.manipulation_flags.map((f) => `• \`${f}\``).join("\n"),
    ));
  }
  blocks.push({
    type: "context",
    elements: [{
      type: "mrkdwn",
      text:
        `${s.market_id} · ${context.interpretation_mode} · schema ${context.schema_version} · signal ${s.signal_id} · ${
          formatIsoMicros(s.detected_at)
        }`,
    }],
  });
  return { blocks };
}

/**
 * The webhook request body of a context in `format`.
 *
 * @example
 * ```ts
 * import { webhookBody } from "./delivery.ts";
 * import type { SignalContext } from "../models.ts";
 * declare const context: SignalContext;
 * JSON.parse(webhookBody(context, "slack_blocks")).blocks.length >= 3; // true
 * ```
 */
export function webhookBody(
  context: SignalContext,
  format: WebhookFormat,
  options: WebhookBodyOptions = {},
): string {
  switch (format) {
    case "json":
      return canonicalJson(context, KINDS.context, { floatDecimals: options.floatDecimals ?? 6 });
    case "markdown":
      return JSON.stringify({ text: renderMarkdown(context) });
    case "slack_blocks":
      return JSON.stringify(slackBlocks(context));
    default:
      throw new TypeError(
        `format: expected json, markdown or slack_blocks, received ${JSON.stringify(format)}`,
      );
  }
}

/**
 * Webhook headers: `Content-Type: application/json`, plus `Authorization` when a value was
 * read from the target's `auth_header_env`.
 *
 * @example
 * ```ts
 * import { webhookHeaders } from "./delivery.ts";
 * webhookHeaders(undefined); // { "Content-Type": "application/json" }
 * ```
 */
export function webhookHeaders(authorization: string | undefined): Record<string, string> {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (authorization !== undefined && authorization !== "") headers["Authorization"] = authorization;
  return headers;
}

/**
 * Whether a webhook response status counts as delivered (200 ≤ status < 400), should be
 * retried (429 or 5xx), or is final (other 4xx).
 *
 * @example
 * ```ts
 * import { webhookOutcome } from "./delivery.ts";
 * webhookOutcome(503); // "retry"
 * ```
 */
export function webhookOutcome(status: number): "delivered" | "retry" | "failed" {
  if (status >= 200 && status < 400) return "delivered";
  if (status === 429 || status >= 500) return "retry";
  return "failed";
}

/** A WebSocket frame. */
export interface FrameInput {
  frame_type: FrameType;
  /** UUID (supplied by the caller). */
  frame_id: string;
  /** Epoch µs (supplied by the caller). */
  ts: number;
  /** Already-serialized JSON payload (e.g. the canonical context), or undefined. */
  payload_json?: string;
}

/**
 * Serialize a WebSocket frame `{"frame_type","frame_id","ts","payload"?}`.
 *
 * @example
 * ```ts
 * import { frameJson } from "./delivery.ts";
 * frameJson({ frame_type: "heartbeat", frame_id: "00000000-0000-4000-8000-000000000000", ts: 0 });
 * // '{"frame_type":"heartbeat","frame_id":"00000000-0000-4000-8000-000000000000","ts":"1970-01-01T00:00:00Z"}'
 * ```
 */
export function frameJson(frame: FrameInput): string {
  const head = `{"frame_type":${JSON.stringify(frame.frame_type)},"frame_id":${
    JSON.stringify(frame.frame_id)
  },"ts":"${formatIsoMicros(frame.ts)}"`;
  return frame.payload_json === undefined ? head + "}" : `${head},"payload":${frame.payload_json}}`;
}
