/**
 * Schema of `formatters.toml` (DOMAIN §11, §12): canonical JSON, Markdown, webhook delivery
 * and the WebSocket endpoint.
 *
 * @example
 * ```ts
 * import { FormattersFileSchema } from "./formatters.ts";
 * FormattersFileSchema.parse({}).websocket.port; // 8765
 * ```
 * @module
 */
import { z } from "zod";
import {
  bool,
  natInt,
  oneOf,
  optionalEnvName,
  port,
  posInt,
  requiredString,
  str,
  table,
} from "./common.ts";

/** Webhook payload formats (DOMAIN §11.4). */
export const WEBHOOK_FORMATS = ["json", "markdown", "slack_blocks"] as const;

/** One `[[webhook.targets]]` entry. */
export const WebhookTargetSchema = z.strictObject({
  target_id: requiredString(),
  url: z.url({ error: "an absolute URL" }),
  format: oneOf(WEBHOOK_FORMATS, "json"),
  auth_header_env: optionalEnvName(),
});

/** `formatters.toml` (effective config key `formatters`). */
export const FormattersFileSchema = z.strictObject({
  json: table({
    float_decimals: z.int().min(0).max(18).default(6),
    timestamp_format: oneOf(["iso_z"] as const, "iso_z"),
  }),
  markdown: table({
    /** Empty = the templates built into augur. */
    template_dir: str(""),
    trim_blocks: bool(true),
    lstrip_blocks: bool(true),
  }),
  webhook: table({
    initial_retry_delay_seconds: posInt(1),
    max_retry_delay_seconds: posInt(60),
    max_retries: natInt(5),
    delivery_timeout_seconds: posInt(10),
    targets: z.array(WebhookTargetSchema).default([]),
  }),
  websocket: table({
    bind: z.string().min(1).default("0.0.0.0"),
    port: port(8765),
    heartbeat_interval_seconds: posInt(30),
    heartbeat_timeout_seconds: posInt(90),
    per_connection_buffer: posInt(64),
    /** NAME of the env var holding the bearer token clients must present (absent = open). */
    auth_token_env: optionalEnvName(),
    /** Connections beyond this are refused with HTTP 503. */
    max_connections: posInt(10_000),
    /** Largest client message accepted; a larger one closes that connection (1009). */
    max_message_bytes: posInt(4096),
  }),
});

/** The validated `formatters` section. */
export type FormattersConfig = z.infer<typeof FormattersFileSchema>;
