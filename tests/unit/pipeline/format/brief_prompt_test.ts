import { createHash } from "node:crypto";
import { assert, assertEquals, assertStringIncludes } from "../../../helpers/assert.ts";
import {
  buildBriefPrompt,
  systemPrompt,
  userPrompt,
} from "../../../../pipeline/format/brief_prompt.ts";
import {
  DEFAULT_FORBIDDEN_TOKENS,
  flattenForbiddenTokens,
} from "../../../../config/schemas/forbidden_tokens.ts";
import { SIGNAL_TYPES } from "../../../../pipeline/models.ts";
import { goldenContext } from "./format_fixtures.ts";

const phrases = flattenForbiddenTokens(DEFAULT_FORBIDDEN_TOKENS).phrases;

Deno.test("brief prompt: deterministic, hash = SHA-256(system + \\n\\n + user)", () => {
  const a = buildBriefPrompt(goldenContext("price_velocity"), { forbiddenPhrases: phrases });
  const b = buildBriefPrompt(goldenContext("price_velocity"), {
    forbiddenPhrases: [...phrases].reverse(),
  });
  assertEquals(a, b);
  assertEquals(
    a.prompt_hash,
    createHash("sha256").update(a.system + "\n\n" + a.user).digest("hex"),
  );
});

Deno.test("brief prompt: system lists sorted phrases, schema lines and consumer types", () => {
  const system = systemPrompt(["Price will", "evidence of collusion"]);
  assertStringIncludes(system, "Forbidden phrases:\n- evidence of collusion\n- price will\n");
  assertStringIncludes(system, "- headline: string, at most 90 characters");
  assertStringIncludes(system, "Consumer types:\n- macro_research_agent\n");
  assert(system.endsWith("- dashboard"));
});

Deno.test("brief prompt: user turn facts and (none) lines", () => {
  const full = userPrompt(goldenContext("price_velocity"));
  assertStringIncludes(full, "Market: kalshi_fed (kalshi)\n");
  assertStringIncludes(full, "Magnitude: 0.812500\nConfidence: 0.875000\n");
  assertStringIncludes(full, "Detected at: 2026-03-15T12:00:07Z\nCloses at: 2026-06-15T18:00:00Z");
  assertStringIncludes(full, "Manipulation flags: thin_book_during_move, pre_resolution_window");
  assertStringIncludes(
    full,
    "- kalshi_fed_holds (inverse, strength 0.9): price 0.44, 24h delta -0.023543",
  );
  const bare = userPrompt(goldenContext("book_imbalance"));
  assertStringIncludes(
    bare,
    "Manipulation flags: (none)\nRelated markets:\n(none)\nInvestigation prompts:\n(none)\n",
  );
  // Identical per type except the type line (same other inputs).
  const lines = SIGNAL_TYPES.map((t) => {
    const ctx = goldenContext("volume_spike");
    return userPrompt({ ...ctx, signal: { ...ctx.signal, signal_type: t } }).split("\n").slice(1)
      .join("\n");
  });
  assertEquals(new Set(lines).size, 1);
});
