/**
 * Fuzz: TOML config through `parseConfig` — the repo's own config files, mutated at the text
 * level (bytes, lines, values, keys) and as random TOML. Each case yields a config whose every
 * section re-validates against its schema, or a ConfigError with one line — never another
 * exception or a hang.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { expectTypedError, Fuzz, fuzzPlan, FuzzTally, runSync } from "../helpers/fuzz.ts";
import { parseConfig } from "../../config/loader.ts";
import { CONFIG_FILES } from "../../config/schema.ts";
import { ConfigError } from "../../config/errors.ts";

const BUDGET_MS = 500;
const CONFIG_DIR = new URL("../../config/", import.meta.url);

function originals(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const spec of CONFIG_FILES) {
    try {
      out[spec.file] = Deno.readTextFileSync(new URL(spec.file, CONFIG_DIR));
    } catch {
      // a missing file means defaults
    }
  }
  return out;
}

const TOML_VALUES = [
  '""',
  '"x"',
  "0",
  "-1",
  "1e999",
  "nan",
  "inf",
  "-inf",
  "9223372036854775807",
  "9223372036854775808",
  "0x7fffffffffffffff",
  "1979-05-27T07:32:00Z",
  "1979-05-27",
  "true",
  "[]",
  "[1, 2]",
  '["a", 1]',
  "{}",
  "{ a = 1 }",
  '"""\nmulti\n"""',
  "'literal'",
  '"\\u0000"',
  '"\\uD800"',
];

function mutateToml(f: Fuzz, text: string): string {
  const lines = text.split("\n");
  const i = f.int(lines.length);
  switch (f.int(9)) {
    case 0: { // replace a value
      const m = /^(\s*[A-Za-z0-9_."-]+\s*=\s*)(.*)$/.exec(lines[i]);
      if (m) lines[i] = m[1] + f.pick(TOML_VALUES);
      else lines[i] = `key_${f.int(9)} = ${f.pick(TOML_VALUES)}`;
      break;
    }
    case 1: // delete a line
      lines.splice(i, 1);
      break;
    case 2: // duplicate a line (duplicate keys / tables)
      lines.splice(i, 0, lines[i]);
      break;
    case 3: // rename a key
      lines[i] = lines[i].replace(
        /^(\s*)([A-Za-z_]+)/,
        (_m, s, k) => s + k + f.pick(["x", "_", ""]) + f.pick(["", "d"]),
      );
      break;
    case 4: // a random table header
      lines.splice(i, 0, `[${f.pick(["backend", "nats", "x", "markets", "a.b", '"q"', ""])}]`);
      break;
    case 5: // deep inline nesting
      lines.splice(i, 0, `deep = ${"[".repeat(1 + f.int(2000))}${"]".repeat(1 + f.int(2000))}`);
      break;
    case 6: // byte-level
      return new TextDecoder().decode(f.mutateBytes(new TextEncoder().encode(text)));
    case 7: // a nasty string value
      lines.splice(
        i,
        0,
        `${f.pick(["kind", "id", "url_env", "bind"])} = ${JSON.stringify(f.string())}`,
      );
      break;
    default: // truncate
      return text.slice(0, f.int(text.length + 1));
  }
  return lines.join("\n");
}

Deno.test("fuzz toml config: parseConfig yields a valid config or a one-line ConfigError", () => {
  const plan = fuzzPlan("toml_config", { seed: 0x5eed_0201, cases: 2000 });
  const f = new Fuzz(plan.seed);
  const base = originals();
  const names = Object.keys(base);
  assert(names.includes("markets.toml"));
  const tally = new FuzzTally();
  for (let i = 0; i < plan.cases; i++) {
    const files = { ...base };
    const rounds = 1 + f.int(3);
    for (let r = 0; r < rounds; r++) {
      const name = f.pick(names);
      files[name] = f.chance(0.05) ? f.string() : mutateToml(f, files[name]);
    }
    if (f.chance(0.03)) files[f.pick(["bus.tom", "extra.toml", "markets.toml.bak"])] = "";
    const outcome = runSync(() => parseConfig(files, { env: {} }), BUDGET_MS);
    if (outcome.ok) {
      const config = outcome.value as unknown as Record<string, unknown>;
      for (const spec of CONFIG_FILES) {
        assert(config[spec.key] !== undefined, `section ${spec.key} missing`);
      }
      // The effective config is stable: parsing the same files again gives the same config.
      assertEquals(JSON.stringify(parseConfig(files, { env: {} })), JSON.stringify(config));
      tally.add("ok");
    } else {
      expectTypedError(outcome.error, [ConfigError], files);
      const message = (outcome.error as Error).message;
      assert(!message.includes("\n"), `multi-line ConfigError: ${JSON.stringify(message)}`);
      assert(message.length < 1000, `overlong ConfigError (${message.length} chars)`);
      tally.add("ConfigError");
    }
  }
  console.log(tally.summary("toml_config"));
  assertEquals(tally.total, plan.cases);
  assert((tally.counts.get("ok") ?? 0) > 10, "too few valid configs");
});
