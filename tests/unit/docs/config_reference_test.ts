/**
 * docs/configuration.md is generated from the zod schemas; this fails when it is stale, and
 * checks that the generator documents every key with its real default.
 */
import { assert, assertEquals, assertStringIncludes } from "../../helpers/assert.ts";
import { referenceRows, renderConfigReference } from "../../../docs/gen_config_reference.ts";
import { CONFIG_FILES } from "../../../config/schema.ts";
import { BusFileSchema } from "../../../config/schemas/bus.ts";

Deno.test("docs/configuration.md is up to date with the schemas", async () => {
  const expected = await renderConfigReference();
  const current = await Deno.readTextFile(
    new URL("../../../docs/configuration.md", import.meta.url),
  );
  assert(
    current === expected,
    "docs/configuration.md is stale: run `deno run -A docs/gen_config_reference.ts`",
  );
});

Deno.test("config reference: every file has a section and defaults match the schema", async () => {
  const text = await renderConfigReference();
  for (const spec of CONFIG_FILES) assertStringIncludes(text, `## ${spec.file}`);
  const rows = await referenceRows("bus.toml");
  const defaults = BusFileSchema.parse({});
  for (const [table, keys] of Object.entries(defaults)) {
    for (const [key, value] of Object.entries(keys as Record<string, unknown>)) {
      const row = rows.find((r) => r.path === `${table}.${key}`);
      assert(row, `bus.toml ${table}.${key} is not documented`);
      assertEquals(
        row.default.replaceAll(" ", ""),
        JSON.stringify(value).replaceAll(",", ","),
        `${table}.${key} default`,
      );
    }
  }
  const kind = rows.find((r) => r.path === "backend.kind");
  assertEquals(kind?.type, '"memory" \\| "nats" \\| "redis"');
  assertStringIncludes(kind!.description, "JetStream");
  const markets = await referenceRows("markets.toml");
  assertEquals(markets.find((r) => r.path === "markets[].id")?.default, "required");
});
