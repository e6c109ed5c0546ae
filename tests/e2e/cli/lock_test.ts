/**
 * `augur lock inspect/release` through the real CLI (`deno run -A main.ts`) against real
 * nats-server and redis-server started by the harness.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../../helpers/assert.ts";
import { freePort, needs, startNats, startRedis } from "../../helpers/servers.ts";
import { NatsKvLock } from "../../../adapters/lock/nats_kv_lock.ts";
import { RedisLock } from "../../../adapters/lock/redis_lock.ts";
import { MetricsRegistry } from "../../../adapters/observability/metrics.ts";

const ROOT = new URL("../../../", import.meta.url).pathname;
const MARKETS = '[[markets]]\nid = "kalshi_fed"\nplatform = "kalshi"\nplatform_market_id = "FED"\n';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function passThrough(): Record<string, string> {
  const keep: Record<string, string> = {};
  for (const key of ["PATH", "HOME", "DENO_DIR", "TMPDIR", "XDG_CACHE_HOME"]) {
    const value = Deno.env.get(key);
    if (value !== undefined) keep[key] = value;
  }
  return keep;
}

async function augur(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", ...args],
    cwd: ROOT,
    clearEnv: true, // no stray REDIS_URL / AUGUR_CONFIG_DIR from the caller
    env: { ...passThrough(), ...env, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function configDir(bus: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "augur-lock-cli-" });
  await Deno.writeTextFile(`${dir}/bus.toml`, bus);
  await Deno.writeTextFile(`${dir}/markets.toml`, MARKETS);
  return dir;
}

Deno.test({
  name: "e2e: augur lock inspect / release against nats",
  ...needs("nats"),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const nats = await startNats();
    const dir = await configDir(
      `[backend]\nkind = "nats"\n[nats]\nservers = ["${nats.url}"]\n[lock]\nttl_seconds = 30\nkv_bucket = "augur_locks"\n`,
    );
    const lock = await NatsKvLock.open({
      servers: nats.url,
      bucket: "augur_locks",
      ttlMs: 30_000,
      registry: new MetricsRegistry(),
    });
    try {
      const first = await lock.acquire("dedup", "replica-7", { ttlMs: 30_000 });
      assert(first && (await lock.release(first)));
      const lease = await lock.acquire("dedup", "replica-7", { ttlMs: 30_000 });
      assert(lease && lease.token > first.token);

      const json = await augur(["lock", "inspect", "--json", "--config", dir]);
      assertEquals(json.code, 0, json.stderr);
      const rows = JSON.parse(json.stdout);
      assertEquals(rows.length, 1);
      assertEquals(rows[0].name, "dedup");
      assertEquals(rows[0].holder, "replica-7");
      assertEquals(rows[0].token, lease.token);
      assert(rows[0].ttl_left_ms > 20_000 && rows[0].ttl_left_ms <= 30_000, json.stdout);

      const one = await augur(["lock", "inspect", "dedup", "--config", dir]);
      assertEquals(one.code, 0, one.stderr);
      assertMatch(one.stdout, /NAME\s+HOLDER\s+TOKEN\s+AGE\s+TTL LEFT/);
      assertMatch(one.stdout, new RegExp(`dedup\\s+replica-7\\s+${lease.token}\\s+\\d+\\.\\ds`));

      const refused = await augur(["lock", "release", "dedup", "--config", dir]);
      assertEquals(refused.code, 2);
      assertStringIncludes(refused.stderr, "--force");
      assertEquals((await lock.holder("dedup"))?.token, lease.token, "nothing removed");

      const released = await augur(["lock", "release", "dedup", "--force", "--config", dir]);
      assertEquals(released.code, 0, released.stderr);
      assertStringIncludes(released.stdout, `holder replica-7, token ${lease.token}`);
      assertEquals(await lock.holder("dedup"), null);
      assertEquals(await lock.renew(lease), null, "the old holder lost its lease");
      const next = await lock.acquire("dedup", "replica-8", { ttlMs: 30_000 });
      assert(next && next.token > lease.token, "force release kept the counter");

      const none = await augur(["lock", "inspect", "missing", "--json", "--config", dir]);
      assertEquals(JSON.parse(none.stdout), []);
    } finally {
      await lock.close();
      await nats.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "e2e: augur lock inspect against redis (URL from the env var named in bus.toml)",
  ...needs("redis"),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const redis = await startRedis();
    const dir = await configDir(
      `[backend]\nkind = "redis"\n[redis]\nurl_env = "AUGUR_TEST_REDIS"\n`,
    );
    const lock = await RedisLock.open({ url: redis.url, registry: new MetricsRegistry() });
    try {
      const lease = await lock.acquire("part.feature.07", "replica-3", { ttlMs: 30_000 });
      assert(lease);
      const run = await augur(["lock", "inspect", "--json", "--config", dir], {
        AUGUR_TEST_REDIS: redis.url,
      });
      assertEquals(run.code, 0, run.stderr);
      const rows = JSON.parse(run.stdout);
      assertEquals(
        rows.map((r: { name: string; holder: string; token: number }) => [
          r.name,
          r.holder,
          r.token,
        ]),
        [["part.feature.07", "replica-3", lease.token]],
      );
    } finally {
      await lock.close();
      await redis.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("e2e: augur lock fails loud: memory backend, unreachable server, missing env", async () => {
  const memory = await configDir(`[backend]\nkind = "memory"\n`);
  const port = freePort();
  const nats = await configDir(
    `[backend]\nkind = "nats"\n[nats]\nservers = ["nats://127.0.0.1:${port}"]\n`,
  );
  const redis = await configDir(`[backend]\nkind = "redis"\n`);
  try {
    let run = await augur(["lock", "inspect", "--config", memory]);
    assertEquals(run.code, 2);
    assertStringIncludes(run.stderr, "lock inspect needs bus.backend.kind nats or redis");
    assertEquals(run.stderr.trim().split("\n").length, 1, run.stderr);

    run = await augur(["lock", "inspect", "--config", nats]);
    assert(run.code !== 0);
    assertStringIncludes(run.stderr, `cannot connect to NATS at nats://127.0.0.1:${port}`);
    assertEquals(run.stderr.trim().split("\n").length, 1, run.stderr);

    run = await augur(["lock", "inspect", "--config", redis], {});
    assertEquals(run.code, 2);
    assertStringIncludes(run.stderr, "REDIS_URL");
    assertEquals(run.stderr.trim().split("\n").length, 1, run.stderr);

    run = await augur(["lock", "inspect", "--config", redis], {
      REDIS_URL: `redis://127.0.0.1:${port}`,
    });
    assert(run.code !== 0);
    assertStringIncludes(run.stderr, `cannot connect to Redis at redis://127.0.0.1:${port}`);
    assertEquals(run.stderr.trim().split("\n").length, 1, run.stderr);
  } finally {
    for (const dir of [memory, nats, redis]) await Deno.remove(dir, { recursive: true });
  }
});
