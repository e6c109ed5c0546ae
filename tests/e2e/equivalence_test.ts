/**
 * Issue 9 must-show (DESIGN §5.8, "replay determinism"): one recorded replay file (both
 * platforms) goes through
 * (a) `augur run engine --source replay:FILE --once --json` (memory bus, DuckDB file),
 * (b) separate `augur run <kind>` processes over NATS JetStream — one poller per platform,
 *     feature, detector, manipulation, calibration, divergence, dedup, context, store — into
 *     PostgreSQL, and
 * (c) the same over Redis Streams with 2 feature and 2 detector replicas.
 * The sets of signal ids must be identical and the contexts byte-identical (canonical JSON,
 * compared as sorted lists).
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { waitFor } from "../helpers/wait.ts";
import {
  type ManagedServer,
  needs,
  pgDatabase,
  startNats,
  startRedis,
} from "../helpers/servers.ts";
import {
  type AugurProcess,
  REPO_ROOT,
  spawnAugur,
  writeConfigDir,
} from "../helpers/augur_process.ts";
import { type ReplayFile, watchlistToml, writeReplayFile } from "../helpers/replay_file.ts";
import { engineConfigDir, replayOnceArgs } from "../helpers/engine_config.ts";
import { busToml, timescaleStorageToml } from "../helpers/e2e_stack.ts";
import { createStore } from "../../adapters/storage/factory.ts";
import { loadConfig } from "../../config/loader.ts";
import { MetricsRegistry } from "../../adapters/observability/metrics.ts";
import { createLogger } from "../../adapters/observability/logger.ts";
import { canonicalJson, KINDS } from "../../pipeline/canonical_json.ts";
import type { Store } from "../../adapters/storage/types.ts";

/** Bus partitions of the distributed runs (the engine uses 1; 2 replicas own 6 each). */
const PARTITIONS = 12;
const ALL = { start: 0, end: Number.MAX_SAFE_INTEGER };
const quiet = createLogger({ sink: () => {} });

/** What a run produced: signal ids and canonical contexts, both sorted. */
interface Outcome {
  signalIds: string[];
  contexts: string[];
  types: Record<string, number>;
}

async function outcomeOf(store: Store): Promise<Outcome> {
  const signals = await store.signalsInRange(ALL);
  const contexts = await store.contextsInRange(ALL);
  const types: Record<string, number> = {};
  for (const s of signals) types[s.signal_type] = (types[s.signal_type] ?? 0) + 1;
  return {
    signalIds: signals.map((s) => s.signal_id).sort(),
    contexts: contexts.map((c) => canonicalJson(c, KINDS.context)).sort(),
    types,
  };
}

// ---------------------------------------------------------------------------------------
// The replay file and the engine's result, shared by both distributed runs
// ---------------------------------------------------------------------------------------

interface Reference {
  dir: string;
  file: ReplayFile;
  markets: string;
  engine: Outcome;
}

let reference: Promise<Reference> | undefined;

function engineReference(): Promise<Reference> {
  return reference ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "augur-equivalence-" });
    // The simulator's demo scenario: 12 markets (6 per platform, two cross-listed pairs), 13 h
    // of 300 s ticks — longer than the 4 h divergence window — with one event per detector;
    // two polls of sim-09 were recorded as failures.
    const file = await writeReplayFile(`${dir}/replay.ndjson.gz`, {
      seed: 11,
      failures: { "sim-09": [60, 61] },
    });
    const markets = watchlistToml(file);
    const configDir = await engineConfigDir(dir, { "markets.toml": markets });
    try {
      const engine = spawnAugur(replayOnceArgs(file.path, configDir), {
        env: { AUGUR_LOG_LEVEL: "warn" },
      });
      const code = await engine.exit();
      assertEquals(code, 0, `engine exit code; stderr:\n${engine.stderr().slice(-3000)}`);
      const printed = engine.stdout().split("\n").filter((l) => l.trim()).sort();
      const config = await loadConfig({ dir: configDir });
      const store = await createStore(config.storage, { registry: new MetricsRegistry() });
      let outcome: Outcome;
      try {
        await store.initialize();
        outcome = await outcomeOf(store);
      } finally {
        await store.close();
      }
      // What the engine printed (--json) is exactly what it stored.
      assertEquals(printed, outcome.contexts, "engine stdout contexts = stored contexts");
      assertEquals(outcome.contexts.length, outcome.signalIds.length, "one context per signal");
      assert(
        Object.keys(outcome.types).length >= 2,
        `expected signals of several types, got ${JSON.stringify(outcome.types)}`,
      );
      return { dir, file, markets, engine: outcome };
    } finally {
      await Deno.remove(configDir, { recursive: true }).catch(() => {});
    }
  })();
}

// ---------------------------------------------------------------------------------------
// Distributed runs
// ---------------------------------------------------------------------------------------

function firstDifference(a: string[], b: string[]): string {
  const inA = a.filter((x) => !b.includes(x));
  const inB = b.filter((x) => !a.includes(x));
  return `only in engine (${inA.length}): ${inA[0]?.slice(0, 1500) ?? "-"}\n` +
    `only in distributed (${inB.length}): ${inB[0]?.slice(0, 1500) ?? "-"}`;
}

async function distributed(kind: "nats" | "redis", replicas: number): Promise<void> {
  const ref = await engineReference();
  const expected = ref.engine;
  const server: ManagedServer = kind === "nats" ? await startNats() : await startRedis();
  const db = await pgDatabase();
  const env: Record<string, string> = {
    AUGUR_TIMESCALE_URL: db.url,
    REDIS_URL: server.url,
    AUGUR_LOG_LEVEL: "warn",
  };
  const configDir = await writeConfigDir({
    "markets.toml": ref.markets,
    "bus.toml": busToml(kind, server.url, {
      partitions: PARTITIONS,
      ackWaitSeconds: 10,
      claimIdleMs: 5000,
      ttlSeconds: 6,
      renewIntervalSeconds: 2,
    }),
    "storage.toml": timescaleStorageToml({ batchSize: 500 }),
    "observability.toml": `[metrics]\nkind = "disabled"\n[logs]\nlevel = "info"\n`,
  });
  const processes: AugurProcess[] = [];
  const start = (args: string[], id: string) => {
    const p = spawnAugur([
      "run",
      ...args,
      "--replica-id",
      id,
      "--config",
      configDir,
    ], { env, cwd: REPO_ROOT });
    processes.push(p);
    return p;
  };
  const config = await loadConfig({ dir: configDir, env });
  const store = await createStore(config.storage, {
    env,
    registry: new MetricsRegistry(),
    logger: quiet,
  });
  const started = Date.now();
  try {
    await store.initialize();
    const context = start(["context"], "context-0");
    const workers = [
      start(["store"], "store-0"),
      context,
      start(["dedup"], "dedup-0"),
      start(["divergence"], "divergence-0"),
      ...Array.from(
        { length: replicas },
        (_, i) => start(["feature", "--replica", `${i}/${replicas}`], `feature-${i}`),
      ),
      ...Array.from(
        { length: replicas },
        (_, i) => start(["detector", "--replica", `${i}/${replicas}`], `detector-${i}`),
      ),
      start(["manipulation", "--replica", "0/1"], "manipulation-0"),
      start(["calibration", "--replica", "0/1"], "calibration-0"),
    ];
    // Every worker connected (bus, store) before data flows: the context stage's bounded wait
    // for stored ticks must not be spent waiting for a store process that is still starting.
    await Promise.all(workers.map((w) => w.waitForLog("worker started", 60_000)));
    const pollers = (["polymarket", "kalshi"] as const).map((platform) =>
      start(
        ["poller", "--platform", platform, "--source", `replay:${ref.file.path}`],
        `poller-${platform}`,
      )
    );
    // A finished replay: each poller publishes its final tick and exits 0 by itself.
    for (const p of pollers) {
      assertEquals(await p.exit(), 0, `poller exit; stderr:\n${p.stderr().slice(-3000)}`);
    }
    // Settled: every context stored, and nothing more arrives for a few looks.
    const early = new Map<AugurProcess, number>();
    for (const w of workers) w.exit().then((code) => early.set(w, code));
    let last = -1;
    let stable = 0;
    await waitFor(async () => {
      for (const [w, code] of early) {
        throw new Error(`a worker exited early (${code}):\n${w.stderr().slice(-3000)}`);
      }
      const n = (await store.contextsInRange(ALL)).length +
        (await store.signalsInRange(ALL)).length;
      stable = n === last ? stable + 1 : 0;
      last = n;
      return n >= 2 * expected.contexts.length && stable >= 4;
    }, { timeoutMs: 150_000, intervalMs: 500 }).catch(async (error) => {
      const now = await outcomeOf(store);
      const logs = processes.map((p, i) => `--- process ${i}:\n${p.stderr().slice(-1500)}`);
      throw new Error(
        `${kind}: not settled: ${now.signalIds.length} signals ${
          JSON.stringify(now.types)
        }, ${now.contexts.length} contexts; the engine stored ${expected.signalIds.length} ${
          JSON.stringify(expected.types)
        }\n${logs.join("\n")}`,
        { cause: error },
      );
    });
    const got = await outcomeOf(store);
    assertEquals(got.types, expected.types, `${kind}: signals by type`);
    assertEquals(
      got.signalIds,
      expected.signalIds,
      `${kind}: signal ids differ\n${firstDifference(expected.signalIds, got.signalIds)}`,
    );
    assertEquals(got.contexts.length, expected.contexts.length, `${kind}: context count`);
    const same = got.contexts.every((c, i) => c === expected.contexts[i]);
    if (!same) {
      const early = context.stderr().split("\n").filter((l) => l.includes("before its ticks"));
      assert(
        false,
        `${kind}: contexts differ\n${
          firstDifference(expected.contexts, got.contexts)
        }\ncontexts assembled after the tick wait timed out: ${early.length}\n${
          context.stderr().slice(-2000)
        }`,
      );
    }
    for (const w of workers) w.kill("SIGTERM");
    for (const w of workers) {
      assertEquals(await w.exit(), 0, `drained worker exit; stderr:\n${w.stderr().slice(-2000)}`);
    }
    console.log(
      `${kind} (${replicas} feature/detector replicas): ${got.signalIds.length} signals ${
        JSON.stringify(got.types)
      }, ${got.contexts.length} byte-identical contexts in ${
        ((Date.now() - started) / 1000).toFixed(1)
      } s`,
    );
  } finally {
    for (const p of processes) p.kill("SIGKILL");
    await Promise.all(processes.map((p) => p.exit()));
    await store.close().catch(() => {});
    await server.stop();
    await db.drop().catch(() => {});
    await Deno.remove(configDir, { recursive: true }).catch(() => {});
  }
}

Deno.test({
  name: "e2e equivalence: engine = distributed workers over NATS (signal ids, contexts)",
  ...needs("nats", "postgres"),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () => distributed("nats", 1),
});

Deno.test({
  name: "e2e equivalence: engine = distributed workers over Redis, 2 feature + 2 detector replicas",
  ...needs("redis", "postgres"),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () => distributed("redis", 2),
});

Deno.test({
  name: "e2e equivalence: cleanup",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    if (!reference) return;
    const ref = await reference.catch(() => null);
    if (ref) await Deno.remove(ref.dir, { recursive: true }).catch(() => {});
  },
});
