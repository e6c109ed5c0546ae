/**
 * Issue 13 item 2 — chaos under load. The distributed pipeline runs as real processes over
 * NATS JetStream and PostgreSQL: store, context, feature ×2, detector ×2, manipulation,
 * calibration, divergence and dedup ×2 (active/passive). The store and context processes reach
 * PostgreSQL through a fault proxy.
 *
 * Load: the test process is the poller. It runs the real poller stage (`pollIntoBus`) once per
 * platform over a finite {@linkcode SimulatorSource} (200 markets, 30-s data ticks) paced at
 * `AUGUR_CHAOS_RATE` snapshots/s (default 2,000) with tick markers, so the expected output is
 * known exactly: every snapshot, and every feature vector an uninterrupted in-process
 * {@linkcode FeaturePipeline} computes. A few poison payloads are injected on snapshot
 * subjects first.
 *
 * While the load runs, a scripted schedule SIGKILLs random partition-ordered workers and
 * replaces them, SIGKILLs nats-server and restarts it on its store dir, cuts PostgreSQL (every
 * connection dropped, new ones refused) for 10 s, and SIGKILLs the active dedup (the passive
 * takes over). The test supervises like an orchestrator: a process that exits on its own is
 * recorded and restarted.
 *
 * At the end: every snapshot stored exactly once, every expected feature vector stored
 * (identical), no dead letter except the injected poison, no process exited on its own except
 * a singleton that lost its lease by design, and every process answers /healthz then drains
 * with exit 0. The counts are printed.
 *
 * CI runs a short schedule (~25 s of load). `AUGUR_CHAOS_LONG=1` runs several minutes of load
 * with the fault cycle repeated.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { waitFor } from "../helpers/wait.ts";
import { type ManagedServer, needs, pgDatabase, startNats } from "../helpers/servers.ts";
import { writeConfigDir } from "../helpers/augur_process.ts";
import { startFaultProxy } from "../helpers/fault_proxy.ts";
import { type ChaosStep, Fleet, pacedSource, runSchedule } from "../helpers/chaos.ts";
import { Prng } from "../helpers/prng.ts";
import { SimulatorSource } from "../../adapters/markets/simulator.ts";
import { NatsBus } from "../../adapters/bus/nats_bus.ts";
import { HEADER, type OutgoingMessage } from "../../adapters/bus/types.ts";
import { createStore } from "../../adapters/storage/factory.ts";
import { loadConfig } from "../../config/loader.ts";
import { MetricsRegistry } from "../../adapters/observability/metrics.ts";
import { createLogger } from "../../adapters/observability/logger.ts";
import { encodeText, KINDS } from "../../pipeline/canonical_json.ts";
import { FeaturePipeline } from "../../pipeline/features.ts";
import type { Platform, SnapshotMessage } from "../../pipeline/models.ts";
import { fnv1a64 } from "../../pipeline/partition.ts";
import { Subjects } from "../../runtime/subjects.ts";
import { pollIntoBus } from "../../runtime/stages/poller_stage.ts";
import { relatedMarkets, watchlistFor } from "../../runtime/watchlist.ts";

const LONG = Deno.env.get("AUGUR_CHAOS_LONG") === "1";
const RATE = Number(Deno.env.get("AUGUR_CHAOS_RATE") ?? 2000);
const PARTITIONS = 8;
const MARKETS = 200; // 100 per platform
const TICKS = LONG ? 3000 : 250; // per platform: 200 × TICKS snapshots (50k CI, 600k long)
// Data time per tick: the simulator's scripted events (9 h … 13.5 h in) fall inside the feed,
// so detectors, dedup and context have signals to carry.
const TICK_SECONDS = LONG ? 30 : 200;
const SEED = 13;
const SOURCE = `simulator:${SEED}`;
const PG_CUT_MS = 10_000;
const POISON = 3;

function busToml(natsUrl: string): string {
  return `[backend]
kind = "nats"
partitions = ${PARTITIONS}
drain_timeout_seconds = 20
[nats]
servers = ["${natsUrl}"]
ack_wait_seconds = 30
[lock]
ttl_seconds = 3
renew_interval_seconds = 1
wait_tick_seconds = 1
margin_seconds = 1
[dlq]
max_retries = 5
retry_backoff_ms = [100, 500, 1000]
`;
}

/** Expected outputs, accumulated as the feed publishes (hashes keep the long run small). */
class Expected {
  snapshots = 0;
  readonly features = new Map<string, bigint>(); // market|computed_at → hash of canonical text
  readonly #pipeline = new FeaturePipeline();

  add(messages: readonly SnapshotMessage[]): void {
    for (const m of messages) {
      this.snapshots++;
      const fv = this.#pipeline.update(m.snapshot, {
        bid_depth: m.bid_depth,
        ask_depth: m.ask_depth,
      });
      if (fv) {
        const key = `${fv.market_id}|${fv.computed_at}`;
        this.features.set(key, fnv1a64(encodeText(fv, KINDS.features)));
      }
    }
  }
}

Deno.test({
  name: `e2e chaos: distributed pipeline under ${RATE} snapshots/s with kills, a NATS restart, ` +
    `a 10 s PostgreSQL cut and a dedup failover — nothing lost, nothing doubled`,
  ...needs("nats", "postgres"),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const nats: ManagedServer = await startNats();
    const db = await pgDatabase("augur_chaos");
    const pgPort = Number(new URL(db.url).port || 5432);
    const proxy = await startFaultProxy(pgPort);
    const proxiedUrl = (() => {
      const u = new URL(db.url);
      u.hostname = "127.0.0.1";
      u.port = String(proxy.port);
      return u.toString();
    })();
    const configDir = await writeConfigDir({
      "bus.toml": busToml(nats.url),
      "storage.toml":
        `[backend]\nkind = "timescaledb"\n[sink]\nbatch_size = 1000\nmax_delay_ms = 50\n`,
      "engine.toml":
        `[runtime]\ncheckpoint_interval_seconds = 2\ncontext_wait_timeout_seconds = 30\n`,
      "observability.toml": `[metrics]\nkind = "prometheus"\nbind = "127.0.0.1"\nport = 0\n`,
    });
    const direct = { AUGUR_TIMESCALE_URL: db.url, AUGUR_LOG_LEVEL: "info" };
    const viaProxy = { AUGUR_TIMESCALE_URL: proxiedUrl, AUGUR_LOG_LEVEL: "info" };
    const common = ["--config", configDir, "--metrics-port", "0"];
    // Two fleets: one environment each (PostgreSQL direct or through the proxy).
    const fleet = new Fleet({ common, env: direct });
    const proxied = new Fleet({ common, env: viaProxy });
    const fleets = [fleet, proxied];
    const registry = new MetricsRegistry();
    const quiet = createLogger({ sink: () => {} });
    const bus = new NatsBus({ servers: [nats.url], registry, logger: quiet });
    const config = await loadConfig({ dir: configDir, env: direct });
    const store = await createStore(config.storage, { env: direct, registry, logger: quiet });
    const subjects = new Subjects({ partitions: PARTITIONS });
    const prng = new Prng(SEED);
    const started = performance.now();
    const say = (line: string) =>
      console.log(`[chaos ${((performance.now() - started) / 1000).toFixed(1)}s] ${line}`);
    try {
      await bus.connect();
      await store.initialize();

      // --- the pipeline -------------------------------------------------------------------
      proxied.start("store", ["run", "store", "--replica-id", "store-0"]);
      proxied.start("context", ["run", "context", "--replica-id", "context-0", "--source", SOURCE]);
      const partitionOrdered: string[] = [];
      for (const kind of ["feature", "detector"]) {
        for (const i of [0, 1]) {
          fleet.start(`${kind}-${i}`, [
            "run",
            kind,
            "--replica",
            `${i}/2`,
            "--replica-id",
            `${kind}-${i}`,
          ]);
          partitionOrdered.push(`${kind}-${i}`);
        }
      }
      for (const kind of ["manipulation", "calibration"]) {
        fleet.start(kind, ["run", kind, "--replica", "0/1", "--replica-id", kind]);
        partitionOrdered.push(kind);
      }
      fleet.start("divergence", [
        "run",
        "divergence",
        "--replica-id",
        "divergence-0",
        "--source",
        SOURCE,
      ]);
      fleet.start("dedup-a", ["run", "dedup", "--replica-id", "dedup-a", "--source", SOURCE]);
      await fleet.get("dedup-a").process.waitForLog("became active", 60_000);
      fleet.start("dedup-b", ["run", "dedup", "--replica-id", "dedup-b", "--source", SOURCE]);
      await Promise.all(fleets.map((f) => f.waitAllAnswer("/readyz", 90_000)));
      say(`${fleet.members.size + proxied.members.size} processes ready`);

      // --- poison first: must be dead-lettered, must not block its partition ----------------
      const poison: OutgoingMessage[] = [];
      for (let i = 0; i < POISON; i++) {
        const market = `poison-${i}`;
        poison.push({
          subject: subjects.snapshots(subjects.partitionOf(market), "polymarket", market),
          payload: new TextEncoder().encode(`{"not a snapshot": ${i}`),
          headers: { [HEADER.id]: `poison:${i}`, [HEADER.key]: market },
        });
      }
      await bus.publishBatch(poison);
      const poisonSubjects = new Set(poison.map((p) => p.subject));

      // --- the load ------------------------------------------------------------------------
      const expected = new Expected();
      const related = relatedMarkets(watchlistFor(config, SOURCE));
      const feedController = new AbortController();
      const feed = (platform: Platform) =>
        pollIntoBus(
          bus,
          pacedSource(
            new SimulatorSource({
              seed: SEED,
              markets: MARKETS,
              ticks: TICKS,
              tickSeconds: TICK_SECONDS,
            }),
            {
              // Each source yields both platforms; half of them are this feed's.
              snapshotsPerSecond: RATE,
              onTick: (tick) => {
                if (tick.platform !== platform) return;
                expected.add(tick.messages);
              },
            },
          ),
          { platform, subjects, signal: feedController.signal, related },
        );
      const feedStarted = performance.now();
      const feeding = Promise.all([feed("polymarket"), feed("kalshi")]);
      const loadMs = (MARKETS * TICKS / RATE) * 1000;
      say(`feeding ${MARKETS * TICKS} snapshots at ${RATE}/s (~${(loadMs / 1000).toFixed(0)} s)`);

      // --- the fault schedule --------------------------------------------------------------
      const pick = () => partitionOrdered[prng.int(partitionOrdered.length)];
      const killWorker = (): ChaosStep["action"] => async () => {
        const victim = pick();
        await fleet.killAndRestart(victim);
        say(`SIGKILL ${victim}, replaced`);
      };
      const cycle = (offset: number): ChaosStep[] => [
        { atMs: offset + 2_000, label: "SIGKILL a partition-ordered worker", action: killWorker() },
        { atMs: offset + 4_000, label: "SIGKILL a partition-ordered worker", action: killWorker() },
        {
          atMs: offset + 6_000,
          label: "SIGKILL nats-server, restart on its store dir",
          action: async () => {
            await nats.kill();
            say("nats-server killed");
            await nats.restart();
            say("nats-server restarted");
          },
        },
        {
          atMs: offset + 10_000,
          label: `cut PostgreSQL for ${PG_CUT_MS / 1000} s (store, context)`,
          action: async () => {
            proxy.refuse();
            proxy.cut();
            say("PostgreSQL cut");
            await new Promise((resolve) => setTimeout(resolve, PG_CUT_MS));
            proxy.accept();
            say("PostgreSQL back");
          },
        },
        {
          atMs: offset + 21_000,
          label: "SIGKILL the active dedup (failover)",
          action: async () => {
            const active = ["dedup-a", "dedup-b"].find((n) => {
              const text = fleet.get(n).process.stderr();
              return text.includes("became active");
            }) ?? "dedup-a";
            await fleet.killAndRestart(active);
            say(`SIGKILL ${active} (active dedup), replaced`);
          },
        },
        {
          atMs: offset + 23_000,
          label: "SIGKILL a partition-ordered worker",
          action: killWorker(),
        },
      ];
      const steps: ChaosStep[] = [];
      const cycles = LONG ? Math.max(1, Math.floor(loadMs / 30_000)) : 1;
      for (let c = 0; c < cycles; c++) steps.push(...cycle(c * 30_000));
      const log = await runSchedule(steps);
      await feeding;
      const feedSeconds = (performance.now() - feedStarted) / 1000;
      say(`feed done: ${expected.snapshots} snapshots in ${feedSeconds.toFixed(1)} s`);

      // --- accounting ----------------------------------------------------------------------
      const counts = async () => ({
        snapshots: await countRows(db.url, "snapshots", ["market_id", "platform", "timestamp"]),
        features: await countRows(db.url, "features", ["market_id", "computed_at"]),
      });
      let lastReport = 0;
      await waitFor(async () => {
        // A failed count (database briefly unreachable) is "not yet", not a failure.
        const c = await counts().catch(() => undefined);
        if (!c) return false;
        if (performance.now() - lastReport > 10_000) {
          lastReport = performance.now();
          say(
            `stored ${c.snapshots.rows}/${expected.snapshots} snapshots, ${c.features.rows}/${expected.features.size} features`,
          );
        }
        return c.snapshots.rows >= expected.snapshots && c.features.rows >= expected.features.size;
      }, {
        timeoutMs: LONG ? 600_000 : 180_000,
        intervalMs: 1000,
        message:
          `store never caught up to ${expected.snapshots} snapshots / ${expected.features.size} features`,
      });
      say("store caught up");
      // Downstream of the store: wait until the durables of store and context are drained.
      await waitFor(async () => {
        let total = 0;
        for (const family of ["snapshots", "features", "signals", "contexts", "ticks"] as const) {
          total += (await bus.pending(subjects.familyPattern(family), "store")) ?? 0;
        }
        total += (await bus.pending(subjects.signals(), "context")) ?? 0;
        return total === 0;
      }, { timeoutMs: 120_000, intervalMs: 500, message: "store/context durables never drained" });

      const final = await counts();
      // Every expected feature vector stored, identical.
      let missing = 0;
      let different = 0;
      let extra = 0;
      const markets = [...new Set([...expected.features.keys()].map((k) => k.split("|")[0]))];
      for (let i = 0; i < markets.length; i += 20) {
        const rows = await store.featuresInRange({
          start: 0,
          end: Number.MAX_SAFE_INTEGER,
          marketIds: markets.slice(i, i + 20),
        });
        const seen = new Set<string>();
        for (const fv of rows) {
          const key = `${fv.market_id}|${fv.computed_at}`;
          seen.add(key);
          const want = expected.features.get(key);
          if (want === undefined) extra++;
          else if (want !== fnv1a64(encodeText(fv, KINDS.features))) different++;
        }
        for (const key of expected.features.keys()) {
          if (markets.slice(i, i + 20).includes(key.split("|")[0]) && !seen.has(key)) missing++;
        }
      }
      // Dead letters: only the injected poison.
      const dlq = await readAll(bus, subjects.opsDlq());
      const foreign = dlq.filter((d) => !poisonSubjects.has(d.headers[HEADER.sourceSubject]));
      const poisonDead = new Set(
        dlq.filter((d) => poisonSubjects.has(d.headers[HEADER.sourceSubject])).map((d) =>
          d.headers[HEADER.sourceSubject]
        ),
      );
      const signals = await countRows(db.url, "signals", ["signal_id"]);
      const contexts = await countRows(db.url, "contexts", ["signal_id"]);

      // Crash loops: every process answers /healthz now; exits on their own are listed.
      await Promise.all(fleets.map((f) => f.waitAllAnswer("/healthz", 30_000)));
      const exits: string[] = [];
      let unexplained = 0;
      for (const f of fleets) {
        for (const m of f.members.values()) {
          for (const e of m.unexpectedExits) {
            // By design (DESIGN §5.4, §5.7): a singleton whose lease may have expired exits so
            // the orchestrator restarts it; a process started while the bus is down fails loud
            // at start ("cannot connect") and is restarted. Both are then running again (the
            // /healthz check above); anything else is a crash.
            const reason = e.stderrTail.includes("lease lost; exiting")
              ? "singleton lease lost"
              : /cannot connect to nats:\/\/|cannot connect to redis/.test(e.stderrTail)
              ? "started while the bus was down"
              : undefined;
            if (!reason) unexplained++;
            exits.push(
              `${m.name} exit ${e.code} at ${(e.atMs / 1000).toFixed(1)}s${
                reason ? ` (${reason}, by design)` : `:\n${e.stderrTail}`
              }`,
            );
          }
        }
      }
      const restarts = [...fleets.flatMap((f) => [...f.members.values()])]
        .map((m) => `${m.name}×${m.starts}`).join(" ");

      console.log([
        "",
        "chaos accounting",
        `  schedule:            ${log.join("; ")}`,
        `  load:                ${expected.snapshots} snapshots in ${feedSeconds.toFixed(1)} s (${
          (expected.snapshots / feedSeconds).toFixed(0)
        }/s target ${RATE}/s), ${PARTITIONS} partitions`,
        `  snapshots stored:    ${final.snapshots.rows} rows, ${final.snapshots.distinct} distinct keys (expected ${expected.snapshots})`,
        `  features stored:     ${final.features.rows} rows, ${final.features.distinct} distinct keys (expected ${expected.features.size}); missing ${missing}, different ${different}, unexpected ${extra}`,
        `  signals / contexts:  ${signals.rows} / ${contexts.rows}`,
        `  dead letters:        ${dlq.length} (${poisonDead.size}/${POISON} injected poison subjects, ${foreign.length} other)`,
        `  process starts:      ${restarts}`,
        `  exits on their own:  ${exits.length ? exits.join("\n    ") : "none"}`,
        `  wall time:           ${((performance.now() - started) / 1000).toFixed(1)} s`,
      ].join("\n"));

      assertEquals(final.snapshots.rows, expected.snapshots, "every snapshot stored");
      assertEquals(final.snapshots.distinct, final.snapshots.rows, "no duplicate snapshot keys");
      assertEquals(final.features.rows, expected.features.size, "every feature vector stored");
      assertEquals(final.features.distinct, final.features.rows, "no duplicate feature keys");
      assertEquals([missing, different, extra], [0, 0, 0], "stored vectors = uninterrupted run");
      assertEquals(
        foreign.map((d) => `${d.headers[HEADER.sourceSubject]} ${d.headers[HEADER.reason]}`),
        [],
        "no dead letters except the injected poison",
      );
      assertEquals(poisonDead.size, POISON, "every poison message dead-lettered");
      assert(signals.rows > 0, "the scripted events produced signals");
      assertEquals(signals.distinct, signals.rows, "no duplicate signal ids");
      assertEquals(contexts.rows, signals.rows, "one context per stored signal");
      assertEquals(unexplained, 0, `processes exited on their own:\n${exits.join("\n")}`);

      const codes = new Map<string, number>();
      for (const f of fleets) for (const [n, c] of await f.stopAll()) codes.set(n, c);
      const bad = [...codes].filter(([, c]) => c !== 0);
      assertEquals(bad, [], "every process drains with exit 0");
      assert(expected.snapshots === MARKETS * TICKS, "the whole feed was published");
    } catch (error) {
      for (const f of fleets) {
        for (const m of f.members.values()) {
          const lines = m.process.stderr().split("\n").filter((l) =>
            /"level":"(warn|error)"/.test(l)
          );
          console.log(`--- ${m.name} (start ${m.starts}) warnings/errors, last 15:`);
          console.log(lines.slice(-15).map((l) => l.slice(0, 400)).join("\n"));
        }
      }
      throw error;
    } finally {
      await Promise.all(fleets.map((f) => f.killAll()));
      await bus.close().catch(() => {});
      await store.close().catch(() => {});
      await proxy.close();
      await nats.stop();
      await db.drop();
      await Deno.remove(configDir, { recursive: true });
    }
  },
});

/** Row count and distinct-key count of a table (psql, so the test's own pool is not needed). */
async function countRows(
  url: string,
  table: string,
  key: string[],
): Promise<{ rows: number; distinct: number }> {
  const out = await new Deno.Command("psql", {
    args: [
      url,
      "-At",
      "-c",
      `SELECT count(*), count(DISTINCT (${key.map((k) => `"${k}"`).join(", ")})) FROM "${table}"`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  const [rows, distinct] = new TextDecoder().decode(out.stdout).trim().split("|").map(Number);
  return { rows, distinct };
}

/** Every message currently on `subject` (an ordered read until the stream's count is reached). */
async function readAll(bus: NatsBus, subject: string) {
  const jsm = await (await import("@nats-io/jetstream")).jetstreamManager(bus.connection);
  const stream = `augur_${subject.split(".")[1]}`;
  let total = 0;
  try {
    const info = await jsm.streams.info(stream, { subjects_filter: subject });
    total = info.state.subjects?.[subject] ?? 0;
  } catch {
    return [];
  }
  const out: { headers: Record<string, string> }[] = [];
  if (total === 0) return out;
  const reader = bus.read(subject, { from: { kind: "first" } });
  const collecting = (async () => {
    for await (const d of reader) {
      out.push({ headers: d.headers });
      if (out.length >= total) break;
    }
  })();
  await waitFor(() => out.length >= total, { timeoutMs: 30_000, message: "dlq read" });
  await reader.stop();
  await collecting.catch(() => {});
  return out;
}
