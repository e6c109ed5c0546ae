import { parse } from "smol-toml";
import { assertEquals, assertThrows } from "../../../helpers/assert.ts";
import { ConsumerRegistry, RoutingConfigError } from "../../../../pipeline/format/routing.ts";
import { ConsumersFileSchema } from "../../../../config/schemas/consumers.ts";

const shipped = ConsumersFileSchema.parse(
  parse(Deno.readTextFileSync(new URL("../../../../config/consumers.toml", import.meta.url))),
);

Deno.test("routing: shipped consumers.toml matches DOMAIN §11.3", () => {
  const r = ConsumerRegistry.fromConfig(shipped);
  assertEquals(r.consumersFor("monetary_policy"), [
    "macro_research_agent",
    "financial_news_desk",
    "dashboard",
  ]);
  assertEquals(r.consumersFor("sanctions"), [
    "geopolitical_research_agent",
    "regulatory_news_desk",
    "dashboard",
  ]);
  assertEquals(r.consumersFor("crypto_protocol"), ["crypto_research_agent", "dashboard"]);
  assertEquals(r.consumersFor("m_and_a"), ["financial_news_desk", "dashboard"]);
  assertEquals(r.consumersFor("weather"), ["dashboard"]); // unknown ⇒ default
  assertEquals(r.consumersFor(""), ["dashboard"]);
});

Deno.test("routing: deterministic to all; llm_assisted only to opted-in, rest suppressed", () => {
  const r = ConsumerRegistry.fromConfig({
    ...shipped,
    llm_assisted: { consumers: ["dashboard", "financial_news_desk"] },
  });
  assertEquals(r.route("monetary_policy", "deterministic"), {
    deliver: ["macro_research_agent", "financial_news_desk", "dashboard"],
    suppressed: [],
  });
  assertEquals(r.route("monetary_policy", "llm_assisted"), {
    deliver: ["financial_news_desk", "dashboard"],
    suppressed: ["macro_research_agent"],
  });
  assertEquals(r.optedIn, ["financial_news_desk", "dashboard"]);
  // Without a default category in the config, dashboard is implied.
  assertEquals(ConsumerRegistry.fromConfig({ categories: {} }).consumersFor("x"), ["dashboard"]);
});

Deno.test("routing: unknown consumer types are rejected", () => {
  assertThrows(
    () =>
      ConsumerRegistry.fromConfig({
        // deno-lint-ignore no-explicit-any
        categories: { x: { consumers: ["robot"] as any } },
      }),
    RoutingConfigError,
    '"robot"',
  );
});
