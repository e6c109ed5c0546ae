import { assert, assertEquals, assertThrows } from "../../helpers/assert.ts";
import { ConfigError } from "../../../config/errors.ts";
import { loadConfig, parseConfig, resolveConfigDir } from "../../../config/loader.ts";
import { CONFIG_FILES } from "../../../config/schema.ts";

const REPO_CONFIG = new URL("../../../config/", import.meta.url).pathname;
const MARKETS = `[[markets]]
id = "kalshi_fed"
platform = "kalshi"
platform_market_id = "FED-26JUN"
category = "monetary_policy"
`;

/** The ConfigError message parseConfig throws for these files (markets.toml added). */
function errorOf(files: Record<string, string>): string {
  const error = assertThrows(
    () => parseConfig({ "markets.toml": MARKETS, ...files }),
    ConfigError,
  );
  assertEquals(error.exitCode, 2);
  assert(!error.message.includes("\n"), `one line expected: ${error.message}`);
  return error.message;
}

async function tempConfig(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "augur_config_" });
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(`${dir}/${name}`, text);
  }
  return dir;
}

Deno.test("every shipped config file loads and every known file is shipped", async () => {
  const config = await loadConfig({ dir: REPO_CONFIG, env: {} });
  for (const spec of CONFIG_FILES) {
    await Deno.stat(`${REPO_CONFIG}${spec.file}`); // throws if a file is not shipped
    assert(config[spec.key] !== undefined, spec.key);
  }
  assertEquals(config.bus.backend.kind, "memory");
  assertEquals(config.storage.backend.kind, "duckdb");
  assert(config.markets.markets.length >= 6);
  assert(config.markets.relationships.length >= 2);
  assertEquals(
    config.consumers.categories.monetary_policy.consumers,
    ["macro_research_agent", "financial_news_desk", "dashboard"],
  );
  assertEquals(config.forbidden_tokens.phrases.length, 17);
  assertEquals(config.prompts.length, 1);
  assertEquals(config.prompts[0].signal_type, "price_velocity");
  assertEquals(config.prompts[0].market_category, "monetary_policy");
  assertEquals(config.polling.hot_interval_s, 15);
  assertEquals(config.dedup.storm.trigger_signal_rate_per_sec, 20);
  // no default.toml is shipped (DOMAIN §12: never loaded)
  await Deno.stat(`${REPO_CONFIG}default.toml`).then(
    () => assert(false, "default.toml must not be shipped"),
    () => undefined,
  );
});

Deno.test("omitted files and keys take the DOMAIN §12 defaults", () => {
  const config = parseConfig({ "markets.toml": MARKETS });
  assertEquals(config.bus.backend, {
    kind: "memory",
    capacity: 256,
    partitions: 60,
    max_in_flight: 64,
    retention_hours: 24,
    drain_timeout_seconds: 30,
  });
  assertEquals(config.bus.nats.replication_factor, 1);
  assertEquals(config.bus.redis.url_env, "REDIS_URL");
  assertEquals(config.bus.dlq.retry_backoff_ms, [100, 1000, 5000]);
  assertEquals(config.storage.retention, { snapshot_days: 0, feature_days: 30, signal_days: 0 });
  assertEquals(config.observability.metrics.port, 9090);
  assertEquals(config.polling.hysteresis.hot_promote, 2.2);
  assertEquals(config.polling.backoff.remove_after_consecutive_failures, 50);
  assertEquals(config.detectors.price_velocity.hazard_rate, 0.004);
  assertEquals(config.detectors.regime_shift.resolution_exclusion_seconds, 21600);
  assertEquals(config.detectors.book_imbalance.bullish_threshold, 0.72);
  assertEquals(config.dedup.cluster_relationship_types, ["positive", "inverse", "causal"]);
  assertEquals(config.llm.interpreter.enabled, false);
  assertEquals(config.llm.backends.anthropic.api_key_env, "ANTHROPIC_API_KEY");
  assertEquals(config.formatters.websocket.port, 8765);
  assertEquals(config.formatters.json.float_decimals, 6);
  assertEquals(config.consumers.categories, { default: { consumers: ["dashboard"] } });
  assertEquals(config.forbidden_tokens.phrases.length, 17);
  assertEquals(config.prompts, []);
  assertEquals(config.engine.features.warmup_size, 50);
  assertEquals(config.markets.markets[0].poll_priority, "normal");
  assertEquals(config.markets.markets[0].active, true);
});

Deno.test("a missing section defaults while its siblings keep their values", () => {
  const config = parseConfig({ "markets.toml": MARKETS, "bus.toml": '[backend]\nkind = "nats"\n' });
  assertEquals(config.bus.backend.kind, "nats");
  assertEquals(config.bus.backend.capacity, 256);
  assertEquals(config.bus.lock.ttl_seconds, 30);
});

Deno.test("the config is deeply frozen", () => {
  const config = parseConfig({ "markets.toml": MARKETS });
  assert(Object.isFrozen(config));
  assert(Object.isFrozen(config.bus.backend));
  assert(Object.isFrozen(config.markets.markets[0]));
  assertThrows(() => {
    (config.bus.backend as { capacity: number }).capacity = 1;
  }, TypeError);
});

Deno.test("a key typo names the file, the key path and the nearest key", () => {
  assertEquals(
    errorOf({ "bus.toml": '[backend]\nkindd = "nats"\n' }),
    'config/bus.toml: backend.kindd: unknown key (did you mean "kind"?)',
  );
  assertEquals(
    errorOf({ "bus.toml": "[bakend]\n" }),
    'config/bus.toml: bakend: unknown key (did you mean "backend"?)',
  );
  assertEquals(
    errorOf({ "bus.toml": "[lock]\nzzzzzzzz = 1\n" }),
    "config/bus.toml: lock.zzzzzzzz: unknown key (valid keys: ttl_seconds, renew_interval_seconds, wait_tick_seconds, margin_seconds, kv_bucket)",
  );
});

Deno.test("a wrong type says expected vs received", () => {
  assertEquals(
    errorOf({ "bus.toml": '[backend]\ncapacity = "abc"\n' }),
    'config/bus.toml: backend.capacity: expected integer, received string "abc"',
  );
  assertEquals(
    errorOf({ "bus.toml": "[backend]\ncapacity = 1.5\n" }),
    "config/bus.toml: backend.capacity: expected integer, received number 1.5",
  );
  assertEquals(
    errorOf({ "bus.toml": "[backend]\ncapacity = 0\n" }),
    "config/bus.toml: backend.capacity: expected a value >= 1, received number 0",
  );
  assertEquals(
    errorOf({ "bus.toml": '[nats]\nservers = "nats://x"\n' }),
    'config/bus.toml: nats.servers: expected array, received string "nats://x"',
  );
  assertEquals(
    errorOf({ "bus.toml": "backend = 1\n" }),
    "config/bus.toml: backend: expected table, received number 1",
  );
  assertEquals(
    errorOf({ "detectors.toml": "[book_imbalance]\nbullish_threshold = 0.4\n" }),
    "config/detectors.toml: book_imbalance.bullish_threshold: expected a value > 0.5, received number 0.4",
  );
});

Deno.test("a bad enum lists the allowed values", () => {
  assertEquals(
    errorOf({ "bus.toml": '[backend]\nkind = "kafka"\n' }),
    'config/bus.toml: backend.kind: expected one of "memory", "nats", "redis", received string "kafka"',
  );
  assertEquals(
    errorOf({ "storage.toml": '[backend]\nkind = "duckbd"\n' }),
    'config/storage.toml: backend.kind: expected one of "duckdb", "timescaledb", received string "duckbd" (did you mean "duckdb"?)',
  );
  assertEquals(
    errorOf({ "consumers.toml": '[categories.x]\nconsumers = ["dashbord"]\n' }),
    'config/consumers.toml: categories.x.consumers[0]: expected one of "macro_research_agent", "geopolitical_research_agent", "crypto_research_agent", "financial_news_desk", "regulatory_news_desk", "dashboard", received string "dashbord" (did you mean "dashboard"?)',
  );
});

Deno.test("a TOML syntax error gives line and column", () => {
  assertEquals(
    errorOf({ "bus.toml": "[backend]\ncapacity = \n" }),
    "config/bus.toml: line 2, column 12: invalid TOML (invalid value)",
  );
});

Deno.test("secret env names must look like env names", () => {
  assertEquals(
    errorOf({ "bus.toml": '[redis]\nurl_env = "redis://u:p@h"\n' }),
    'config/bus.toml: redis.url_env: expected an environment variable name like REDIS_URL, received string "redis://u:p@h"',
  );
});

Deno.test("watchlist: unknown platform, duplicate id, unknown market, no active market", () => {
  const market = (id: string, extra = "") =>
    `[[markets]]\nid = "${id}"\nplatform = "kalshi"\nplatform_market_id = "T-${id}"\n${extra}`;
  assertEquals(
    errorOf({ "markets.toml": market("a").replace('"kalshi"', '"kalshy"') }),
    'config/markets.toml: markets[0].platform: expected one of "polymarket", "kalshi", received string "kalshy" (did you mean "kalshi"?)',
  );
  assertEquals(
    errorOf({ "markets.toml": market("kalshi_fed") + market("kalshi_fed") }),
    'config/markets.toml: markets[1].id: duplicate market id "kalshi_fed" (first defined at markets[0])',
  );
  assertEquals(
    errorOf({
      "markets.toml": market("kalshi_fed") + market("kalshi_cpi") +
        '[[relationships]]\nmarket_a = "kalshi_fed"\nmarket_b = "kalshi_fedd"\ntype = "inverse"\n',
    }),
    'config/markets.toml: relationships[0].market_b: unknown market "kalshi_fedd" (did you mean "kalshi_fed"?)',
  );
  assertEquals(
    errorOf({ "markets.toml": market("a", "active = false\n") }),
    "config/markets.toml: markets: no active market (expected at least one [[markets]] entry with active = true)",
  );
  assertEquals(
    errorOf({ "markets.toml": '[[markets]]\nid = "a"\nplatform = "kalshi"\n' }),
    "config/markets.toml: markets[0].platform_market_id: missing required key (expected string)",
  );
  assertEquals(
    errorOf({
      "markets.toml": market("a") + market("b") +
        '[[relationships]]\nmarket_a = "a"\nmarket_b = "b"\ntype = "opposite"\n',
    }),
    'config/markets.toml: relationships[0].type: expected one of "positive", "inverse", "complex", "causal", received string "opposite"',
  );
});

Deno.test("duplicate investigation prompts are rejected", () => {
  const entry =
    '[[prompts]]\nsignal_type = "price_velocity"\nmarket_category = "x"\nprompts = ["p"]\n';
  assertEquals(
    errorOf({ "investigation_prompts.toml": entry + entry }),
    "config/investigation_prompts.toml: prompts[1]: duplicate entry for price_velocity/x (first defined at prompts[0])",
  );
});

Deno.test("markets.toml is required", () => {
  const error = assertThrows(() => parseConfig({}), ConfigError);
  assertEquals(
    error.message,
    "config/markets.toml: required file is missing (the watchlist: at least one [[markets]] entry)",
  );
});

Deno.test("an unknown file in the directory is an error; default.toml is ignored", async () => {
  const dir = await tempConfig({
    "markets.toml": MARKETS,
    "zzzzzzzz.toml": "",
    "default.toml": "[engine]\nbus_capacity = 1024\n",
  });
  try {
    const error = await loadConfig({ dir, env: {} }).then(
      () => undefined,
      (e) => e as ConfigError,
    );
    assert(error instanceof ConfigError);
    assertEquals(
      error.message,
      `${dir}/zzzzzzzz.toml: unknown config file (expected one of ${
        CONFIG_FILES.map((f) => f.file).join(", ")
      })`,
    );
    await Deno.remove(`${dir}/zzzzzzzz.toml`);
    await Deno.writeTextFile(`${dir}/buss.toml`, "");
    const typo = await loadConfig({ dir, env: {} }).then(() => "", (e) => (e as Error).message);
    assertEquals(typo, `${dir}/buss.toml: unknown config file (did you mean "bus.toml"?)`);
    await Deno.remove(`${dir}/buss.toml`);
    const config = await loadConfig({ dir, env: {} });
    assertEquals(config.markets.markets[0].id, "kalshi_fed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("errors print the directory as given", async () => {
  const dir = await tempConfig({ "markets.toml": MARKETS, "bus.toml": "[backend]\nkindd = 1\n" });
  try {
    const message = await loadConfig({ dir: `${dir}/`, env: {} }).then(
      () => "",
      (e) => (e as Error).message,
    );
    assertEquals(message, `${dir}/bus.toml: backend.kindd: unknown key (did you mean "kind"?)`);
    const missing = await loadConfig({ dir: `${dir}/nope`, env: {} }).then(
      () => "",
      (e) => (e as Error).message,
    );
    assertEquals(
      missing,
      `${dir}/nope: config directory not found (set --config DIR or AUGUR_CONFIG_DIR)`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("config dir: explicit dir, then AUGUR_CONFIG_DIR, then ./config", () => {
  assertEquals(resolveConfigDir({ dir: "x", env: { AUGUR_CONFIG_DIR: "y" } }), "x");
  assertEquals(resolveConfigDir({ env: { AUGUR_CONFIG_DIR: "y" } }), "y");
  assertEquals(resolveConfigDir({ env: {} }), "config");
  assertEquals(
    resolveConfigDir({ env: (name) => name === "AUGUR_CONFIG_DIR" ? "z" : undefined }),
    "z",
  );
});
