/**
 * Issue 13 item 4 — narrowest Deno permissions. Real `augur` processes run under `deno run`
 * with explicit, narrowed permissions (never `-A`):
 *
 * - `augur config check` needs only `--allow-read=<config dir> --allow-env`;
 * - `augur run store` on NATS + PostgreSQL needs `--allow-read=<config dir>,data
 *   --allow-net=127.0.0.1 --allow-env --allow-sys=hostname`: no write, no ffi, no run. It
 *   stores a published snapshot and drains with exit 0;
 * - pointed at a config directory outside its allowed paths, the same worker cannot read it:
 *   one clear "permission denied" line, exit 1, no stack trace.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../helpers/assert.ts";
import { REPO_ROOT, writeConfigDir } from "../helpers/augur_process.ts";
import { needs, pgDatabase, startNats } from "../helpers/servers.ts";
import { waitFor } from "../helpers/wait.ts";
import { NatsBus } from "../../adapters/bus/nats_bus.ts";
import { createLogger } from "../../adapters/observability/logger.ts";
import { MetricsRegistry } from "../../adapters/observability/metrics.ts";
import { SimulatorSource } from "../../adapters/markets/simulator.ts";
import { Subjects } from "../../runtime/subjects.ts";
import { snapshotMessage } from "../../runtime/stages/poller_stage.ts";

/** Start `deno run <permissions> main.ts <args>` (stdout/stderr captured). */
function spawnNarrow(permissions: string[], args: string[], env: Record<string, string> = {}) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissions, `${REPO_ROOT}/main.ts`, ...args],
    cwd: REPO_ROOT,
    env: { AUGUR_LOG_LEVEL: "info", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  let stdout = "";
  const pumps = Promise.all([
    (async () => {
      for await (const s of child.stderr.pipeThrough(new TextDecoderStream())) stderr += s;
    })(),
    (async () => {
      for await (const s of child.stdout.pipeThrough(new TextDecoderStream())) stdout += s;
    })(),
  ]);
  const status = child.status.then(async (s) => {
    await pumps;
    return s.code;
  });
  return {
    stderr: () => stderr,
    stdout: () => stdout,
    exit: () => status,
    kill: (signal: Deno.Signal = "SIGTERM") => {
      try {
        child.kill(signal);
      } catch { /* exited */ }
    },
  };
}

function assertOneCleanLine(stderr: string, path: string): void {
  const lines = stderr.trim().split("\n").filter((l) => !l.startsWith("{"));
  assertEquals(lines.length, 1, `one line expected, received:\n${stderr}`);
  assertMatch(lines[0], /^augur: permission denied: /);
  assertStringIncludes(lines[0], path);
  assert(!/\n\s+at /.test(stderr), `no stack trace:\n${stderr}`);
}

Deno.test("permissions: config check runs with read of its config dir and env only", async () => {
  const config = await writeConfigDir({});
  const outside = await Deno.makeTempDir({ prefix: "augur-outside-" });
  try {
    await Deno.writeTextFile(`${outside}/bus.toml`, '[backend]\nkind = "memory"\n');
    const permissions = [`--allow-read=${config}`, "--allow-env"];
    const ok = spawnNarrow(permissions, ["config", "check", "--config", config]);
    assertEquals(await ok.exit(), 0, ok.stderr());
    assertStringIncludes(ok.stdout(), "[bus.backend]");

    const denied = spawnNarrow(permissions, ["config", "check", "--config", outside]);
    assertEquals(await denied.exit(), 1);
    assertOneCleanLine(denied.stderr(), outside);
    assertEquals(denied.stdout(), "");
  } finally {
    await Deno.remove(config, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test({
  name: "permissions: a store worker runs on NATS + PostgreSQL without write, ffi or run, " +
    "and cannot read outside its allowed paths",
  ...needs("nats", "postgres"),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const nats = await startNats();
    const db = await pgDatabase("augur_perm");
    const config = await writeConfigDir({
      "bus.toml": `[backend]\nkind = "nats"\npartitions = 4\n[nats]\nservers = ["${nats.url}"]\n`,
      "storage.toml": `[backend]\nkind = "timescaledb"\n[sink]\nmax_delay_ms = 20\n`,
      "observability.toml": `[metrics]\nkind = "prometheus"\nbind = "127.0.0.1"\nport = 0\n`,
    });
    const outside = await Deno.makeTempDir({ prefix: "augur-outside-" });
    for await (const entry of Deno.readDir(config)) {
      await Deno.copyFile(`${config}/${entry.name}`, `${outside}/${entry.name}`);
    }
    const permissions = [
      // config + data (the calibration curves under data/calibration); nothing else.
      `--allow-read=${config},${REPO_ROOT}/data`,
      "--allow-net=127.0.0.1",
      "--allow-env",
      "--allow-sys=hostname",
    ];
    const env = { AUGUR_TIMESCALE_URL: db.url };
    const bus = new NatsBus({
      servers: [nats.url],
      registry: new MetricsRegistry(),
      logger: createLogger({ sink: () => {} }),
    });
    const worker = spawnNarrow(
      permissions,
      ["run", "store", "--config", config, "--replica-id", "store-narrow"],
      env,
    );
    let exited = false;
    worker.exit().then(() => exited = true);
    try {
      // It runs: ready, stores a published snapshot, drains cleanly.
      const port = await waitFor(() => {
        if (exited) throw new Error("store exited");
        const line = worker.stderr().split("\n").find((l) =>
          l.includes("observability endpoint listening")
        );
        return line ? JSON.parse(line).port as number : undefined;
      }, { timeoutMs: 120_000, message: "store never listened" }).catch((error) => {
        throw new Error(`${error.message}; stderr:\n${worker.stderr().slice(-2000)}`);
      });
      await waitFor(async () => {
        const response = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
        await response?.body?.cancel();
        return response?.status === 200;
      }, { timeoutMs: 30_000, message: "store never ready" });
      await bus.connect();
      const source = new SimulatorSource({ seed: 1, markets: 2, ticks: 1 });
      const subjects = new Subjects({ partitions: 4 });
      let published = 0;
      for await (const tick of source) {
        await bus.publishBatch(tick.messages.map((m) => snapshotMessage(subjects, m)));
        published += tick.messages.length;
      }
      assert(published > 0);
      await waitFor(async () => (await countSnapshots(db.url)) === published, {
        timeoutMs: 30_000,
        message: "the narrowed store never stored the snapshots",
      });
      worker.kill("SIGTERM");
      assertEquals(await worker.exit(), 0, worker.stderr().slice(-2000));
      assert(!worker.stderr().includes("NotCapable"), worker.stderr().slice(-2000));

      // It cannot read outside: the same permissions, a config dir outside the allowed paths.
      const denied = spawnNarrow(
        permissions,
        ["run", "store", "--config", outside, "--replica-id", "store-outside"],
        env,
      );
      assertEquals(await denied.exit(), 1);
      assertOneCleanLine(denied.stderr(), outside);
    } finally {
      worker.kill("SIGKILL");
      await worker.exit();
      await bus.close();
      await nats.stop();
      await db.drop();
      await Deno.remove(config, { recursive: true });
      await Deno.remove(outside, { recursive: true });
    }
  },
});

async function countSnapshots(url: string): Promise<number> {
  const out = await new Deno.Command("psql", {
    args: [url, "-At", "-c", "SELECT count(*) FROM snapshots"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return out.success ? Number(new TextDecoder().decode(out.stdout).trim()) : -1;
}
