/**
 * Secrets never leak: distinctive fake DSNs and API keys are set in the environment of real
 * `augur` processes that touch them (config check, a store that cannot reach TimescaleDB, a
 * feature worker and a lock inspection against unreachable Redis, and the /metrics, /healthz
 * and /readyz of a running worker); no secret substring may appear in stdout or stderr.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { spawnAugur, writeConfigDir } from "../helpers/augur_process.ts";
import { needs, startRedis } from "../helpers/servers.ts";
import { waitFor, waitForSettled } from "../helpers/wait.ts";

const SECRETS = ["SuperSecretPw123", "RedisSecret456", "sk-ant-TestKey789", "KalshiKey000"];
const BASE_ENV = {
  AUGUR_TIMESCALE_URL: "postgres://augur:SuperSecretPw123@127.0.0.1:1/x",
  REDIS_URL: "redis://:RedisSecret456@127.0.0.1:1",
  ANTHROPIC_API_KEY: "sk-ant-TestKey789",
  KALSHI_API_KEY: "KalshiKey000",
};
function assertNoSecret(label: string, text: string): void {
  for (const secret of SECRETS) {
    assert(!text.includes(secret), `${label} leaks ${secret}:\n${text.slice(0, 3000)}`);
  }
}

/** Run to completion; returns exit code and output, asserting no secret appears. */
async function run(label: string, args: string[], env: Record<string, string> = BASE_ENV) {
  const p = spawnAugur(args, { env });
  let code: number;
  try {
    code = await waitForSettled(p.exit(), {
      timeoutMs: 60_000,
      message: `${label}: did not exit within 60 s`,
    });
  } catch (error) {
    p.kill("SIGKILL");
    await p.exit();
    throw error;
  }
  assertNoSecret(`${label} stdout`, p.stdout());
  assertNoSecret(`${label} stderr`, p.stderr());
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

/** The `augur: …` error line of stderr (JSON log lines excluded). */
function errorLines(stderr: string): string[] {
  return stderr.split("\n").filter((l) => l.startsWith("augur: "));
}

const REDIS_BUS = '[backend]\nkind = "redis"\n[redis]\nallow_volatile = true\n';
const TIMESCALE = '[backend]\nkind = "timescaledb"\n';

Deno.test("secrets: config check (text and --json) shows env var names, never values", async () => {
  const dir = await writeConfigDir({ "bus.toml": REDIS_BUS, "storage.toml": TIMESCALE });
  try {
    const text = await run("config check", ["config", "check", "--config", dir]);
    assertEquals(text.code, 0);
    assert(text.stdout.includes("AUGUR_TIMESCALE_URL") && text.stdout.includes("REDIS_URL"));
    const json = await run("config check --json", ["config", "check", "--json", "--config", dir]);
    assertEquals(json.code, 0);
    JSON.parse(json.stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("secrets: unreachable Redis (run feature, lock inspect) fails with one line, no secret", async () => {
  const dir = await writeConfigDir({ "bus.toml": REDIS_BUS });
  try {
    for (
      const [label, args] of [
        ["run feature", ["run", "feature", "--replica", "0/1", "--metrics-port", "0"]],
        ["lock inspect", ["lock", "inspect"]],
      ] as const
    ) {
      const result = await run(label, [...args, "--config", dir]);
      assert(result.code !== 0, `${label} exited 0`);
      assertEquals(errorLines(result.stderr).length, 1, `${label}: ${result.stderr}`);
      assert(!result.stderr.includes("internal error"), result.stderr);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "secrets: run store with unreachable TimescaleDB fails with one line; a running worker's endpoints leak nothing",
  ...needs("redis"),
  fn: async () => {
    const redis = await startRedis();
    const dir = await writeConfigDir({ "bus.toml": REDIS_BUS, "storage.toml": TIMESCALE });
    const env = {
      ...BASE_ENV,
      REDIS_URL: redis.url.replace("redis://", "redis://:RedisSecret456@"),
    };
    try {
      const store = await run("run store", ["run", "store", "--config", dir], env);
      assert(store.code !== 0, "run store exited 0");
      assertEquals(errorLines(store.stderr).length, 1, store.stderr);
      assert(errorLines(store.stderr)[0].includes("PostgreSQL"), store.stderr);

      // A running feature worker: /metrics, /healthz, /readyz and its logs hold no secret.
      const workerDir = await writeConfigDir({
        "bus.toml": REDIS_BUS,
        "storage.toml": `[backend]\nkind = "duckdb"\nduckdb_path = "${dir}/augur.duckdb"\n`,
      });
      const worker = spawnAugur(
        ["run", "feature", "--replica", "0/1", "--metrics-port", "0", "--config", workerDir],
        { env },
      );
      try {
        await worker.waitForLog("observability endpoint listening", 30_000);
        const line = worker.stderr().split("\n").find((l) =>
          l.includes("observability endpoint listening")
        )!;
        const port = JSON.parse(line).port as number;
        assert(port > 0);
        const bodies: string[] = [];
        await waitFor(async () => {
          const response = await fetch(`http://127.0.0.1:${port}/metrics`);
          const body = await response.text();
          bodies[0] = body;
          return response.status === 200 && body.includes("augur_");
        }, { timeoutMs: 20_000 });
        for (const path of ["/healthz", "/readyz", "/nope"]) {
          const response = await fetch(`http://127.0.0.1:${port}${path}`);
          bodies.push(await response.text());
        }
        for (const body of bodies) assertNoSecret("worker endpoint", body);
      } finally {
        worker.kill("SIGKILL"); // no drain needed: only its output matters
        await worker.exit();
        await Deno.remove(workerDir, { recursive: true });
      }
      assertNoSecret("worker stderr", worker.stderr());
      assertNoSecret("worker stdout", worker.stdout());
    } finally {
      await Deno.remove(dir, { recursive: true });
      await redis.stop();
    }
  },
});
