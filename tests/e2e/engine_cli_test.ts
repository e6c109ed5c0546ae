/**
 * Issue 9 must-show: `augur run engine` as a real process.
 * - `--once` on a recorded replay file exits 0 and its summary (markets polled, ticks,
 *   snapshots, feature vectors, signals by type, contexts, dead letters) equals what is
 *   computed from the file itself and what the engine printed and stored.
 * - Bad input — a watchlist with no active market, an unknown source, an unreadable or corrupt
 *   replay file, a DuckDB file locked by another running engine — gives one clear line and a
 *   non-zero exit, never a stack trace or a hang.
 */
import { assert, assertEquals, assertStringIncludes } from "../helpers/assert.ts";
import { waitFor } from "../helpers/wait.ts";
import { runAugur, spawnAugur } from "../helpers/augur_process.ts";
import { engineConfigDir, replayOnceArgs } from "../helpers/engine_config.ts";
import { readReplayFacts, watchlistToml, writeReplayFile } from "../helpers/replay_file.ts";
import { createStore } from "../../adapters/storage/factory.ts";
import { loadConfig } from "../../config/loader.ts";
import { MetricsRegistry } from "../../adapters/observability/metrics.ts";
import { decode, KINDS } from "../../pipeline/canonical_json.ts";

const ALL = { start: 0, end: Number.MAX_SAFE_INTEGER };
const ENV = { AUGUR_LOG_LEVEL: "warn", NO_COLOR: "1" };

/** The summary block the engine prints on stderr, as label → number. */
function parseSummary(stderr: string): Map<string, number> {
  const out = new Map<string, number>();
  const start = stderr.indexOf("augur engine summary");
  assert(start >= 0, `no summary on stderr:\n${stderr.slice(-2000)}`);
  for (const line of stderr.slice(start).split("\n").slice(1)) {
    const m = line.match(/^\s+([a-z_ ]+?)\s+(\d+)$/);
    if (m) out.set(m[1].trim(), Number(m[2]));
  }
  return out;
}

/** Exactly one `augur:` line, containing every expected fragment; no stack trace. */
function assertOneClearLine(stderr: string, expected: string[]): string {
  const lines = stderr.split("\n").filter((l) => l.startsWith("augur:"));
  assertEquals(lines.length, 1, `expected one "augur:" line, got:\n${stderr.slice(-3000)}`);
  for (const fragment of expected) assertStringIncludes(lines[0], fragment);
  assert(!/^\s+at /m.test(stderr), `stack trace on stderr:\n${stderr.slice(-3000)}`);
  assert(!stderr.includes("internal error"), stderr);
  return lines[0];
}

Deno.test({
  name: "engine --once on a replay file: the summary counts match the file and the store",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "augur-engine-cli-" });
    try {
      // 12 markets, 13 h of 300 s ticks (the simulator's scripted scenario), both platforms in
      // one recorded file; three polls recorded as failures (skipped by replay).
      const file = await writeReplayFile(`${dir}/replay.ndjson`, {
        seed: 5,
        failures: { "sim-09": [40, 41], "sim-10": [70] },
      });
      const configDir = await engineConfigDir(dir, { "markets.toml": watchlistToml(file) });
      const config = await loadConfig({ dir: configDir });
      const facts = await readReplayFacts(file.path, config.engine.features);
      assertEquals(facts.ticks, file.ticks);
      assertEquals(facts.snapshots, file.polls);
      assertEquals(facts.snapshots, file.ticks / 2 * 12 - 3, "every poll but the 3 failures");

      const run = await runAugur(replayOnceArgs(file.path, configDir), { env: ENV });
      assertEquals(run.code, 0, `exit code; stderr:\n${run.stderr.slice(-3000)}`);
      const summary = parseSummary(run.stderr);

      // Counted from the file alone.
      assertEquals(summary.get("markets polled"), facts.markets);
      assertEquals(summary.get("ticks"), facts.ticks);
      assertEquals(summary.get("snapshots"), facts.snapshots);
      assertEquals(summary.get("feature vectors"), facts.features);
      assertEquals(summary.get("dead letters"), 0);

      // Signals and contexts: what the summary says = what was printed = what was stored.
      const printed = run.stdout.split("\n").filter((l) => l.trim())
        .map((l) => decode(l, KINDS.context));
      const byType = (types: string[]) => {
        const out: Record<string, number> = {};
        for (const t of types) out[t] = (out[t] ?? 0) + 1;
        return out;
      };
      const summaryTypes: Record<string, number> = {};
      for (const [label, n] of summary) {
        if (label.includes("_")) summaryTypes[label] = n; // signal types: snake_case
      }
      const store = await createStore(config.storage, { registry: new MetricsRegistry() });
      try {
        await store.initialize();
        const signals = await store.signalsInRange(ALL);
        const contexts = await store.contextsInRange(ALL);
        let storedSnapshots = 0;
        for (const m of file.markets) {
          storedSnapshots += (await store.snapshotsInRange(m.id, ALL)).length;
        }
        assertEquals(storedSnapshots, facts.snapshots, "snapshots stored");
        assertEquals((await store.featuresInRange(ALL)).length, facts.features, "features stored");
        assertEquals(summary.get("signals"), signals.length, "signals stored");
        assertEquals(summaryTypes, byType(signals.map((s) => s.signal_type)), "signals by type");
        assertEquals(summary.get("contexts"), contexts.length, "contexts stored");
        assertEquals(summary.get("contexts"), printed.length, "contexts printed (--json)");
        assertEquals(
          printed.map((c) => c.signal.signal_id).sort(),
          signals.map((s) => s.signal_id).sort(),
          "one printed context per stored signal",
        );
      } finally {
        await store.close();
      }
      assert(
        Object.keys(summaryTypes).length >= 3,
        `several signal types expected, got ${JSON.stringify(summaryTypes)}`,
      );
      await Deno.remove(configDir, { recursive: true });
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test("engine: a watchlist with no active market is refused (exit 2, one line)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "augur-engine-cli-" });
  try {
    const file = await writeReplayFile(`${dir}/replay.ndjson`, { markets: 2, ticks: 2 });
    const configDir = await engineConfigDir(dir, {
      "markets.toml": watchlistToml(file, { inactive: ["sim-00", "sim-01"] }),
    });
    const run = await runAugur([
      "run",
      "engine",
      "--once",
      "--source",
      `replay:${file.path}`,
      "--config",
      configDir,
    ], { env: ENV });
    assertEquals(run.code, 2, run.stderr);
    assertOneClearLine(run.stderr, ["markets.toml", "no active market"]);
    await Deno.remove(configDir, { recursive: true });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("engine: an unknown --source is refused (exit 2, names it)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "augur-engine-cli-" });
  try {
    const configDir = await engineConfigDir(dir);
    const run = await runAugur(
      ["run", "engine", "--once", "--source", "bogus", "--config", configDir],
      { env: ENV },
    );
    assertEquals(run.code, 2, run.stderr);
    assertOneClearLine(run.stderr, ['"bogus"', "simulator", "replay:FILE"]);
    await Deno.remove(configDir, { recursive: true });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("engine: an unreadable replay file gives one line naming it (non-zero, no hang)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "augur-engine-cli-" });
  try {
    const configDir = await engineConfigDir(dir);
    await Deno.writeTextFile(`${dir}/garbage.ndjson`, "this is not a recording\n");
    await Deno.writeFile(`${dir}/garbage.ndjson.gz`, new Uint8Array([0x1f, 0x8b, 1, 2, 3]));
    const cases: [string, string[]][] = [
      [`${dir}/missing.ndjson`, [`${dir}/missing.ndjson`, "no such file"]],
      [dir, [dir, "not a regular file"]],
      [`${dir}/garbage.ndjson`, [`${dir}/garbage.ndjson`, "invalid JSON"]],
      [`${dir}/garbage.ndjson.gz`, [`${dir}/garbage.ndjson.gz`, "cannot read"]],
    ];
    for (const [path, expected] of cases) {
      const run = await runAugur(
        ["run", "engine", "--once", "--source", `replay:${path}`, "--config", configDir],
        { env: ENV },
      );
      assert(run.code !== 0, `exit code for ${path}: ${run.code}`);
      assertOneClearLine(run.stderr, expected);
    }
    await Deno.remove(configDir, { recursive: true });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "engine: a DuckDB file locked by another running engine gives one line naming the lock",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "augur-engine-cli-" });
    const configDir = await engineConfigDir(dir);
    const firstConfig = await engineConfigDir(dir, {
      "observability.toml": `[metrics]\nkind = "disabled"\n[logs]\nlevel = "info"\n`,
    });
    // An endless simulation: the first engine holds the file until it is stopped.
    const first = spawnAugur(["run", "engine", "--source", "simulator:1", "--config", firstConfig]);
    try {
      await first.waitForLog("became active", 60_000);
      await waitFor(async () => {
        try {
          return (await Deno.stat(`${dir}/engine.duckdb`)).isFile;
        } catch {
          return false;
        }
      }, { timeoutMs: 30_000 });
      const second = await runAugur(
        ["run", "engine", "--once", "--source", "simulator:1", "--config", configDir],
        { env: ENV },
      );
      assert(second.code !== 0, `second engine exit code: ${second.code}`);
      const line = assertOneClearLine(second.stderr, [`${dir}/engine.duckdb`, "locked"]);
      assertStringIncludes(line, String(first.pid));
      first.kill("SIGTERM");
      assertEquals(
        await first.exit(),
        0,
        `drained engine; stderr:\n${first.stderr().slice(-2000)}`,
      );
    } finally {
      first.kill("SIGKILL");
      await first.exit();
      for (const d of [configDir, firstConfig, dir]) {
        await Deno.remove(d, { recursive: true }).catch(() => {});
      }
    }
  },
});
