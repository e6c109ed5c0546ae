/**
 * Runs the real CLI (`deno run -A main.ts ...`) from the repository root and checks exit
 * codes and output: help, version, unknown commands and flags, `config check`, `workers`,
 * and that secret values never reach the output.
 */
import { assert, assertEquals, assertStringIncludes } from "../../helpers/assert.ts";
import denoJson from "../../../deno.json" with { type: "json" };

const ROOT = new URL("../../../", import.meta.url).pathname;
const MARKETS =
  '[[markets]]\nid = "kalshi_fed"\nplatform = "kalshi"\nplatform_market_id = "FED-26JUN"\n';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function augur(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", AUGUR_CONFIG_DIR: "", REDIS_URL: "", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

async function tempConfig(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "augur_e2e_config_" });
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(`${dir}/${name}`, text);
  }
  return dir;
}

Deno.test("--help lists the commands and exits 0", async () => {
  const run = await augur(["--help"]);
  assertEquals(run.code, 0);
  assertStringIncludes(run.stdout, "Usage: augur <command> [options]");
  assertStringIncludes(run.stdout, "config");
  assertStringIncludes(run.stdout, "workers");
  const sub = await augur(["config", "--help"]);
  assertEquals(sub.code, 0);
  assertStringIncludes(sub.stdout, "augur config check [--config DIR] [--json]");
});

Deno.test("--version prints the deno.json version", async () => {
  const run = await augur(["--version"]);
  assertEquals(run.code, 0);
  assertEquals(run.stdout.trim(), `augur ${denoJson.version}`);
});

Deno.test("an unknown command exits 2 with one line and the usage", async () => {
  const run = await augur(["confg"]);
  assertEquals(run.code, 2);
  const lines = run.stderr.split("\n");
  assertEquals(lines[0], 'augur: unknown command "confg" (did you mean "config"?)');
  assertStringIncludes(run.stderr, "Usage: augur <command> [options]");
  assertEquals(run.stdout, "");
});

Deno.test("an unknown flag exits 2 with a hint and the command usage", async () => {
  const run = await augur(["workers", "--jsn"]);
  assertEquals(run.code, 2);
  assertEquals(run.stderr.split("\n")[0], 'augur: unknown option "--jsn" (did you mean "--json"?)');
  assertStringIncludes(run.stderr, "augur workers [--json] [--config DIR]");
  const top = await augur(["--confg", "x"]);
  assertEquals(top.code, 2);
  assertEquals(
    top.stderr.split("\n")[0],
    'augur: unknown option "--confg" (did you mean "--config"?)',
  );
});

Deno.test("config check on the shipped config exits 0 and prints the effective config", async () => {
  const run = await augur(["config", "check"]);
  assertEquals(run.code, 0, run.stderr);
  assertStringIncludes(run.stdout, "[bus.backend]");
  assertStringIncludes(run.stdout, 'kind = "memory"');
  assertStringIncludes(run.stdout, "[[markets.markets]]");
  assertStringIncludes(run.stdout, 'url_env = "REDIS_URL"  # not set');
  const json = await augur(["config", "check", "--json"]);
  assertEquals(json.code, 0, json.stderr);
  const parsed = JSON.parse(json.stdout);
  assertEquals(parsed.dir, "config");
  assertEquals(parsed.config.bus.backend.partitions, 60);
  assertEquals(parsed.config.prompts[0].market_category, "monetary_policy");
  assert(parsed.secrets.some((s: { env: string }) => s.env === "ANTHROPIC_API_KEY"));
});

Deno.test("config check with a typo exits 2 with the exact line (flag, global flag, env)", async () => {
  const dir = await tempConfig({
    "markets.toml": MARKETS,
    "bus.toml": '[backend]\nkindd = "nats"\n',
  });
  try {
    const expected = `augur: ${dir}/bus.toml: backend.kindd: unknown key (did you mean "kind"?)`;
    for (
      const run of [
        await augur(["config", "check", "--config", dir]),
        await augur(["--config", dir, "config", "check"]),
        await augur(["config", "check"], { AUGUR_CONFIG_DIR: dir }),
      ]
    ) {
      assertEquals(run.code, 2);
      assertEquals(run.stderr, `${expected}\n`);
      assertEquals(run.stdout, "");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("config check with an unknown file or a bad type exits 2", async () => {
  const dir = await tempConfig({
    "markets.toml": MARKETS,
    "bus.toml": '[backend]\ncapacity = "abc"\n',
  });
  try {
    const bad = await augur(["config", "check", "--config", dir]);
    assertEquals(bad.code, 2);
    assertEquals(
      bad.stderr.trim(),
      `augur: ${dir}/bus.toml: backend.capacity: expected integer, received string "abc"`,
    );
    await Deno.writeTextFile(`${dir}/bus.toml`, "");
    await Deno.writeTextFile(`${dir}/zzzzzzzz.toml`, "");
    const unknown = await augur(["config", "check", "--config", dir]);
    assertEquals(unknown.code, 2);
    assertStringIncludes(unknown.stderr, `augur: ${dir}/zzzzzzzz.toml: unknown config file`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("secret values are never printed; missing required secrets name the variable", async () => {
  const secret = "hunter2secret";
  const dir = await tempConfig({
    "markets.toml": MARKETS,
    "bus.toml": '[backend]\nkind = "redis"\n',
  });
  try {
    const env = { REDIS_URL: `redis://:${secret}@x:6379` };
    const text = await augur(["config", "check", "--config", dir], env);
    assertEquals(text.code, 0, text.stderr);
    assertStringIncludes(text.stdout, 'url_env = "REDIS_URL"  # set');
    const json = await augur(["config", "check", "--json", "--config", dir], env);
    assertEquals(json.code, 0, json.stderr);
    const redis = JSON.parse(json.stdout).secrets.find((s: { env: string }) =>
      s.env === "REDIS_URL"
    );
    assertEquals(redis.set, true);
    assertEquals(redis.required_by, 'backend.kind = "redis"');
    for (const run of [text, json]) {
      assert(!run.stdout.includes(secret) && !run.stderr.includes(secret), "secret leaked");
    }
    const missing = await augur(["config", "check", "--config", dir]);
    assertEquals(missing.code, 2);
    assertEquals(
      missing.stderr.trim(),
      `augur: ${dir}/bus.toml: redis.url_env: environment variable REDIS_URL is not set (required by backend.kind = "redis")`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("workers prints the catalog as a table and as JSON", async () => {
  const table = await augur(["workers"]);
  assertEquals(table.code, 0, table.stderr);
  const lines = table.stdout.trim().split("\n");
  assert(lines[0].startsWith("KIND"));
  assertEquals(lines.length, 14);
  assert(lines.some((l) => /^feature\s+partition-ordered\s+i\/N/.test(l)));
  const json = await augur(["workers", "--json"]);
  assertEquals(json.code, 0, json.stderr);
  const kinds = JSON.parse(json.stdout) as { kind: string; mode: string; inputs: string[] }[];
  assertEquals(kinds.length, 13);
  assertEquals(kinds.find((k) => k.kind === "dedup")?.mode, "singleton");
  assertEquals(kinds.find((k) => k.kind === "detector")?.inputs, ["augur.features.<pp>.>"]);
});
