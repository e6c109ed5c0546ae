import { assertEquals, assertStringIncludes, assertThrows } from "../../../helpers/assert.ts";
import {
  blockquote,
  MissingTemplateError,
  renderMarkdown,
} from "../../../../pipeline/format/markdown.ts";
import { SIGNAL_TYPES, type SignalContext } from "../../../../pipeline/models.ts";
import { goldenContext } from "./format_fixtures.ts";

const GOLDEN = new URL("./golden/", import.meta.url);
const UPDATE = Deno.env.get("AUGUR_UPDATE_GOLDEN") === "1";
/** First line of every golden file, so `deno fmt` leaves the bytes alone; not part of the output. */
const FMT_IGNORE = "<!-- deno-fmt-ignore-file -->\n";

for (const type of SIGNAL_TYPES) {
  Deno.test(`markdown golden: ${type}`, () => {
    const md = renderMarkdown(goldenContext(type));
    const file = new URL(`${type}.md`, GOLDEN);
    if (UPDATE) Deno.writeTextFileSync(file, FMT_IGNORE + md);
    const golden = Deno.readTextFileSync(file);
    assertEquals(golden.slice(0, FMT_IGNORE.length), FMT_IGNORE);
    assertEquals(md, golden.slice(FMT_IGNORE.length));
    assertEquals(renderMarkdown(goldenContext(type)), md); // deterministic
  });
}

Deno.test("markdown: per-type defaults for absent raw_features keys", () => {
  const ctx = goldenContext("cross_market_divergence");
  const bare: SignalContext = {
    ...ctx,
    signal: {
      ...ctx.signal,
      related_market_ids: [],
      raw_features: { calibration_provenance: ctx.signal.raw_features.calibration_provenance },
    },
  };
  const md = renderMarkdown(bare);
  assertStringIncludes(md, "- Spearman ρ: 0.000");
  assertStringIncludes(md, "- p-value: 0.0000");
  assertStringIncludes(md, "- Related market: (none)");
});

Deno.test("markdown: a missing template is a contract error", () => {
  const ctx = goldenContext("price_velocity");
  const bad = {
    ...ctx,
    signal: { ...ctx.signal, signal_type: "unknown" },
  } as unknown as SignalContext;
  assertThrows(() => renderMarkdown(bad), MissingTemplateError, "unknown");
});

Deno.test("markdown: blockquote of multi-line and empty criteria", () => {
  assertEquals(blockquote("a\n\nb"), "> a\n>\n> b");
  assertEquals(blockquote(""), "> (none)");
});
