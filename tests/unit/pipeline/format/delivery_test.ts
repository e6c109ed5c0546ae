import { assert, assertEquals, assertStringIncludes } from "../../../helpers/assert.ts";
import {
  frameJson,
  slackBlocks,
  webhookBody,
  webhookHeaders,
  webhookOutcome,
} from "../../../../pipeline/format/delivery.ts";
import { renderMarkdown } from "../../../../pipeline/format/markdown.ts";
import { canonicalJson, KINDS } from "../../../../pipeline/canonical_json.ts";
import { goldenContext } from "./format_fixtures.ts";

Deno.test("webhook json body = canonical JSON of the context", () => {
  const ctx = goldenContext("volume_spike");
  assertEquals(webhookBody(ctx, "json"), canonicalJson(ctx, KINDS.context));
});

Deno.test('webhook markdown body = {"text": md}', () => {
  const ctx = goldenContext("regime_shift");
  const body = webhookBody(ctx, "markdown");
  assertEquals(JSON.parse(body), { text: renderMarkdown(ctx) });
  assert(body.startsWith('{"text":"# Regime Shift on kalshi_fed'));
});

Deno.test("webhook slack_blocks: header, question/criteria, optional sections, footer", () => {
  const full = slackBlocks(goldenContext("price_velocity")).blocks;
  assertEquals(full[0], {
    type: "header",
    text: { type: "plain_text", text: "price_velocity | high | 0.88" },
  });
  assertEquals(full.map((b) => b.type), [
    "header",
    "section",
    "section",
    "section",
    "section",
    "context",
  ]);
  assertStringIncludes(JSON.stringify(full[1]), "Resolves YES if the FOMC");
  assertStringIncludes(JSON.stringify(full[2]), "kalshi_fed_holds (inverse, strength 0.90)");
  const bare = slackBlocks(goldenContext("book_imbalance")).blocks;
  assertEquals(bare.map((b) => b.type), ["header", "section", "context"]);
  assertEquals(
    webhookBody(goldenContext("book_imbalance"), "slack_blocks"),
    webhookBody(goldenContext("book_imbalance"), "slack_blocks"),
  );
});

Deno.test("webhook headers and outcomes", () => {
  assertEquals(webhookHeaders(undefined), { "Content-Type": "application/json" });
  assertEquals(webhookHeaders("Bearer x"), {
    "Content-Type": "application/json",
    Authorization: "Bearer x",
  });
  assertEquals([200, 302, 399, 400, 404, 429, 500, 503].map(webhookOutcome), [
    "delivered",
    "delivered",
    "delivered",
    "failed",
    "failed",
    "retry",
    "retry",
    "retry",
  ]);
});

Deno.test("websocket frame JSON", () => {
  const ctx = goldenContext("volume_spike");
  const payload = canonicalJson(ctx, KINDS.context);
  const text = frameJson({
    frame_type: "signal",
    frame_id: "00000000-0000-4000-8000-000000000001",
    ts: Date.UTC(2026, 2, 15, 12, 0, 8) * 1000,
    payload_json: payload,
  });
  const parsed = JSON.parse(text);
  assertEquals(parsed.frame_type, "signal");
  assertEquals(parsed.ts, "2026-03-15T12:00:08Z");
  assertEquals(
    JSON.stringify(parsed.payload.signal.signal_id),
    JSON.stringify(ctx.signal.signal_id),
  );
  assert(!frameJson({ frame_type: "heartbeat", frame_id: "x", ts: 0 }).includes("payload"));
});
