import { assert, assertEquals, assertStringIncludes } from "../../../helpers/assert.ts";
import { gateBrief, type GateInputs, lintText } from "../../../../pipeline/format/brief_gate.ts";
import {
  DEFAULT_FORBIDDEN_TOKENS,
  flattenForbiddenTokens,
} from "../../../../config/schemas/forbidden_tokens.ts";
import { goldenContext } from "./format_fixtures.ts";

const inputs: GateInputs = {
  context: goldenContext("price_velocity"),
  promptHash: "a".repeat(64),
  forbiddenPhrases: flattenForbiddenTokens(DEFAULT_FORBIDDEN_TOKENS).phrases,
  optedIn: ["dashboard"],
  model: "gemma2:27b",
  backend: "ollama",
  formatterVersion: "0.1.0",
  briefId: "00000000-0000-4000-8000-000000000001",
  generatedAt: Date.UTC(2026, 2, 15, 12, 1, 0) * 1000,
};

const good = {
  headline: "Price velocity on kalshi_fed",
  body_markdown: "P5 0.719 over 300 s.",
  actionable_for: ["financial_news_desk", "dashboard"],
};

Deno.test("gate: accepted brief with stamped fields and opted-in consumers only", () => {
  const r = gateBrief(JSON.stringify(good), inputs);
  assert("brief" in r, JSON.stringify(r));
  assertEquals(r.brief, {
    ...good,
    actionable_for: ["dashboard"],
    brief_id: inputs.briefId,
    signal_id: inputs.context.signal.signal_id,
    severity: "high",
    interpretation_mode: "llm_assisted",
    model: "gemma2:27b@ollama",
    prompt_hash: inputs.promptHash,
    formatter_version: "0.1.0",
    generated_at: inputs.generatedAt,
    forbidden_token_check: "passed",
    schema_version: "1.0.0",
  });
  // One surrounding code fence is tolerated.
  assert("brief" in gateBrief("```json\n" + JSON.stringify(good) + "\n```", inputs));
  // Model-supplied deterministic fields are overwritten, not trusted.
  const r2 = gateBrief(
    JSON.stringify({ ...good, severity: "low", signal_id: inputs.briefId }),
    inputs,
  );
  assert("brief" in r2);
  assertEquals([r2.brief.severity, r2.brief.signal_id], ["high", inputs.context.signal.signal_id]);
});

Deno.test("gate: forbidden phrase (case-insensitive substring) ⇒ forbidden_token", () => {
  const r = gateBrief(JSON.stringify({ ...good, body_markdown: "The PRICE WILL rise." }), inputs);
  assertEquals(r, {
    rejected: "forbidden_token",
    detail: 'contains the forbidden phrase "price will"',
  });
  const h = gateBrief(JSON.stringify({ ...good, headline: "Move Likely Reflects news" }), inputs);
  assertEquals("rejected" in h && h.rejected, "forbidden_token");
  assertEquals(lintText("headline\nbody", ["line\nbo"]), "line\nbo"); // joined with \n
});

Deno.test("gate: malformed JSON, non-objects, extra keys, caps ⇒ schema", () => {
  const reason = (text: string) => {
    const r = gateBrief(text, inputs);
    return "rejected" in r ? `${r.rejected}: ${r.detail}` : "accepted";
  };
  assertStringIncludes(reason("{not json"), "schema: expected a JSON object");
  assertStringIncludes(reason("[1,2]"), "schema: expected a JSON object, received an array");
  assertStringIncludes(reason('"text"'), "received a string");
  assertStringIncludes(reason(JSON.stringify({ ...good, mood: "happy" })), "schema:");
  assertStringIncludes(reason(JSON.stringify({ ...good, headline: "x".repeat(91) })), "headline");
  assertStringIncludes(
    reason(JSON.stringify({ ...good, body_markdown: "x".repeat(801) })),
    "body_markdown",
  );
  assertStringIncludes(
    reason(JSON.stringify({ body_markdown: "b", actionable_for: ["dashboard"] })),
    "headline",
  );
});

Deno.test("gate: actionable_for validated (offenders in input order, non-list invalid)", () => {
  const r = gateBrief(
    JSON.stringify({ ...good, actionable_for: ["zeta", "dashboard", "alpha"] }),
    inputs,
  );
  assert("rejected" in r);
  assertEquals(r.rejected, "schema");
  assertStringIncludes(r.detail, 'received "zeta", "alpha"');
  const nl = gateBrief(JSON.stringify({ ...good, actionable_for: "dashboard" }), inputs);
  assertEquals("rejected" in nl && nl.rejected, "schema");
});

Deno.test("gate: no opted-in consumer left ⇒ consumer_gate", () => {
  const r = gateBrief(
    JSON.stringify({ ...good, actionable_for: ["macro_research_agent"] }),
    inputs,
  );
  assertEquals("rejected" in r && r.rejected, "consumer_gate");
  const none = gateBrief(JSON.stringify({ headline: "h", body_markdown: "b" }), inputs);
  assertEquals("rejected" in none && none.rejected, "consumer_gate");
});
