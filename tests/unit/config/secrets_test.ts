import { assert, assertEquals, assertThrows } from "../../helpers/assert.ts";
import { ConfigError } from "../../../config/errors.ts";
import {
  checkSecrets,
  parseConfig,
  readSecret,
  secretAccessors,
  secretStatus,
} from "../../../config/loader.ts";
import { redact } from "../../../adapters/observability/logger.ts";

const MARKETS = '[[markets]]\nid = "kalshi_fed"\nplatform = "kalshi"\nplatform_market_id = "FED"\n';

Deno.test("secrets are read lazily, only when asked for", () => {
  const asked: string[] = [];
  const config = parseConfig({ "markets.toml": MARKETS }, {
    env: (name) => {
      asked.push(name);
      return name === "REDIS_URL" ? "redis://:s3cretpass@h:6379" : undefined;
    },
  });
  assertEquals(asked, []);
  assertEquals(readSecret(config, config.bus.redis.url_env), "redis://:s3cretpass@h:6379");
  assertEquals(asked, ["REDIS_URL"]);
  // the value is registered with the redactor
  assertEquals(redact("url=redis://:s3cretpass@h:6379"), "url=***");
});

Deno.test("a missing required secret names the variable and where it is configured", () => {
  const config = parseConfig({ "markets.toml": MARKETS }, { dir: "cfg", env: {} });
  const error = assertThrows(() => secretAccessors(config).redisUrl(), ConfigError);
  assertEquals(
    error.message,
    "cfg/bus.toml: redis.url_env: environment variable REDIS_URL is not set",
  );
  assertEquals(secretAccessors(config).natsCredentialsFile(), undefined);
  assertEquals(readSecret(config, "KALSHI_API_KEY", { required: false }), undefined);
  assertEquals(
    assertThrows(() => readSecret(config, "KALSHI_API_KEY"), ConfigError).message,
    "environment variable KALSHI_API_KEY is not set",
  );
});

Deno.test("checkSecrets requires only what the chosen backends need", () => {
  const memory = parseConfig({ "markets.toml": MARKETS }, { env: {} });
  checkSecrets(memory); // memory bus + duckdb: nothing needed
  const redis = parseConfig({
    "markets.toml": MARKETS,
    "bus.toml": '[backend]\nkind = "redis"\n',
  }, { env: {} });
  assertEquals(
    assertThrows(() => checkSecrets(redis), ConfigError).message,
    'config/bus.toml: redis.url_env: environment variable REDIS_URL is not set (required by backend.kind = "redis")',
  );
  const timescale = parseConfig({
    "markets.toml": MARKETS,
    "storage.toml": '[backend]\nkind = "timescaledb"\ntimescale_url_env = "PG_URL"\n',
  }, { env: { PG_URL: "postgres://u:pw123456@h/db" } });
  checkSecrets(timescale);
  const status = secretStatus(timescale).find((s) => s.env === "PG_URL");
  assertEquals(status?.set, true);
  assertEquals(status?.key, "backend.timescale_url_env");
  assert(!JSON.stringify(secretStatus(timescale)).includes("pw123456"));
});
