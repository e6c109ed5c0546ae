/**
 * WebSocket fan-out, measured in one run (issue 8 "Speed"): R contexts/s published on the
 * memory bus for D seconds, broadcast by the `websocket` worker (bus reader → routing → hub →
 * sockets) to C real WebSocket clients running in Web Workers (separate threads). Latency =
 * client receive time − publish time (carried in `signal.detected_at`); p50/p99 from a 0.1 ms
 * histogram. Baseline, same clients/rate/payload: a bare `Deno.serve` that loops
 * `socket.send(frame)` over every socket (no bus, no routing, no queues, no metrics).
 *
 * Full: C = 1,000 clients, R = 1,000 msgs/s, D = 5 s. `--quick`: 100 clients, 200 msgs/s, 2 s.
 *
 * Run: `deno run -A bench/websocket_bench.ts [--quick] [--clients N] [--rate R]`
 *
 * @example
 * ```ts
 * import { run } from "./websocket_bench.ts";
 * const rows = await run({ quick: true });
 * console.table(rows);
 * ```
 * @module
 */
import { MemoryBus } from "../adapters/bus/memory_bus.ts";
import { MetricsRegistry } from "../adapters/observability/metrics.ts";
import { createLogger } from "../adapters/observability/logger.ts";
import { Readiness } from "../adapters/observability/http_server.ts";
import { canonicalJson, encode, KINDS } from "../pipeline/canonical_json.ts";
import { frameJson } from "../pipeline/format/delivery.ts";
import type { SignalContext } from "../pipeline/models.ts";
import { Subjects } from "../runtime/subjects.ts";
import { type WebSocketEndpoint, websocketWorker } from "../runtime/stages/websocket_stage.ts";

/** One printed benchmark row. */
export interface BenchRow {
  name: string;
  augur: number;
  baseline: number | null;
  unit: string;
  ratio: number | null;
  target: string;
  pass: boolean | null;
}

interface Scenario {
  clients: number;
  rate: number;
  seconds: number;
  threads: number;
}

interface Outcome {
  received: number;
  offered: number;
  p50: number;
  p99: number;
  elapsedS: number;
  dropped: number;
}

const logger = createLogger({ component: "websocket-bench", level: "error" });

function context(i: number, nowUs: number): SignalContext {
  return {
    signal: {
      signal_id: `0190a1b2-c3d4-7e5f-8a6b-${i.toString(16).padStart(12, "0")}`,
      market_id: "fed",
      platform: "kalshi",
      signal_type: "volume_spike",
      magnitude: 0.42,
      direction: 1,
      confidence: 0.71,
      fdr_adjusted: true,
      detected_at: nowUs,
      window_seconds: 3600,
      liquidity_tier: "high",
      manipulation_flags: [],
      related_market_ids: ["fed_2"],
      raw_features: { calibration_provenance: "volume_spike_ewma_z_v1@identity_v0", z: 3.51 },
      schema_version: "1.0.0",
    },
    market_question: "Will the Fed cut rates at the June 2026 meeting?",
    resolution_criteria: "Resolves YES if the FOMC lowers the target range at its June meeting.",
    resolution_source: "https://www.federalreserve.gov",
    closes_at: nowUs + 86_400_000_000,
    related_markets: [{
      market_id: "fed_2",
      question: "Will the Fed cut rates in July 2026?",
      current_price: 0.41,
      delta_24h: 0.03,
      volume_24h: 120000,
      relationship_type: "positive",
      relationship_strength: 0.8,
    }],
    investigation_prompts: ["Check the latest FOMC statement.", "Compare CME FedWatch."],
    interpretation_mode: "deterministic",
    schema_version: "1.0.0",
  };
}

const nowUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class ClientPool {
  readonly workers: Worker[] = [];

  static async open(url: string, scenario: Scenario): Promise<ClientPool> {
    const pool = new ClientPool();
    const per = Math.ceil(scenario.clients / scenario.threads);
    for (let t = 0; t < scenario.threads; t++) {
      const count = Math.min(per, scenario.clients - t * per);
      if (count <= 0) break;
      const w = new Worker(new URL("./websocket_bench_client.ts", import.meta.url), {
        type: "module",
      });
      pool.workers.push(w);
      await pool.#ask(w, { url, count }, "ready");
    }
    return pool;
  }

  #ask<T>(w: Worker, message: unknown, expect?: string): Promise<T> {
    return new Promise((resolve) => {
      w.onmessage = (e) => {
        if (expect === undefined || e.data === expect) resolve(e.data as T);
      };
      w.postMessage(message);
    });
  }

  async reset(): Promise<void> {
    await Promise.all(this.workers.map((w) => this.#ask(w, "reset", "reset")));
  }

  async report(): Promise<{ received: number; histogram: Uint32Array }> {
    const parts = await Promise.all(
      this.workers.map((w) => this.#ask<{ received: number; histogram: Uint32Array }>(w, "report")),
    );
    const histogram = new Uint32Array(parts[0].histogram.length);
    let received = 0;
    for (const p of parts) {
      received += p.received;
      for (let i = 0; i < histogram.length; i++) histogram[i] += p.histogram[i];
    }
    return { received, histogram };
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => this.#ask(w, "close", "closed")));
    for (const w of this.workers) w.terminate();
  }
}

function percentile(histogram: Uint32Array, total: number, q: number): number {
  const target = Math.ceil(total * q);
  let seen = 0;
  for (let i = 0; i < histogram.length; i++) {
    seen += histogram[i];
    if (seen >= target) return (i + 1) / 10;
  }
  return histogram.length / 10;
}

/** Publish at `rate` for `seconds`, then wait for deliveries to settle; measure. */
async function drive(
  pool: ClientPool,
  scenario: Scenario,
  publish: (i: number) => Promise<void> | void,
  dropped: () => number,
): Promise<Outcome> {
  await pool.reset();
  const expected = scenario.rate * scenario.seconds * scenario.clients;
  const start = performance.now();
  let sent = 0;
  const total = scenario.rate * scenario.seconds;
  while (sent < total) {
    const due = Math.min(total, Math.floor((performance.now() - start) / 1000 * scenario.rate));
    while (sent < due) await publish(sent++);
    await sleep(1);
  }
  let report = await pool.report();
  const settle = performance.now() + 10_000;
  while (report.received < expected && performance.now() < settle) {
    await sleep(100);
    report = await pool.report();
  }
  const elapsedS = (performance.now() - start) / 1000;
  return {
    received: report.received,
    offered: expected,
    p50: percentile(report.histogram, report.received, 0.5),
    p99: percentile(report.histogram, report.received, 0.99),
    elapsedS,
    dropped: dropped(),
  };
}

async function runAugur(scenario: Scenario): Promise<Outcome> {
  const registry = new MetricsRegistry();
  const bus = new MemoryBus({ capacity: 4096, registry });
  await bus.connect();
  const subjects = new Subjects();
  const controller = new AbortController();
  let endpoint: WebSocketEndpoint | undefined;
  const worker = websocketWorker({
    config: {
      formatters: {
        json: { float_decimals: 6 },
        websocket: {
          bind: "127.0.0.1",
          port: 0,
          heartbeat_interval_seconds: 30,
          heartbeat_timeout_seconds: 90,
          per_connection_buffer: 64,
          max_connections: scenario.clients + 10,
        },
      },
      consumers: {
        categories: { monetary_policy: { consumers: ["macro_research_agent", "dashboard"] } },
      },
      markets: { markets: [{ id: "fed", category: "monetary_policy" }] },
    },
    subjects,
    bus,
  }, { port: 0, onListening: (e) => endpoint = e });
  const readiness = new Readiness();
  const running = worker.run({
    signal: controller.signal,
    readiness,
    registry,
    logger,
    replicaId: "bench",
  });
  while (!endpoint || !(await readiness.evaluate()).ready) await sleep(5);
  const pool = await ClientPool.open(`${endpoint.server.url}?consumer=dashboard`, scenario);
  try {
    return await drive(
      pool,
      scenario,
      (i) =>
        bus.publish({
          subject: subjects.contexts(),
          payload: encode(context(i, nowUs()), KINDS.context),
        }).then(() => {}),
      () => endpoint!.hub.droppedFor("dashboard"),
    );
  } finally {
    await pool.close();
    controller.abort();
    await running;
    await bus.close();
  }
}

async function runBaseline(scenario: Scenario): Promise<Outcome> {
  const sockets = new Set<WebSocket>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onopen = () => {
      sockets.add(socket);
      socket.send(
        frameJson({ frame_type: "heartbeat", frame_id: crypto.randomUUID(), ts: nowUs() }),
      );
    };
    socket.onclose = () => sockets.delete(socket);
    return response;
  });
  const port = (server.addr as Deno.NetAddr).port;
  const pool = await ClientPool.open(`ws://127.0.0.1:${port}/ws`, scenario);
  try {
    return await drive(pool, scenario, (i) => {
      const now = nowUs();
      const frame = frameJson({
        frame_type: "signal",
        frame_id: crypto.randomUUID(),
        ts: now,
        payload_json: canonicalJson(context(i, now), KINDS.context),
      });
      for (const s of sockets) s.send(frame);
    }, () => 0);
  } finally {
    await pool.close();
    await server.shutdown();
  }
}

/** Run the benchmark; `quick` uses a smaller scenario. */
export async function run(
  options: { quick: boolean; clients?: number; rate?: number },
): Promise<BenchRow[]> {
  const scenario: Scenario = options.quick
    ? { clients: 100, rate: 200, seconds: 2, threads: 2 }
    : { clients: 1000, rate: 1000, seconds: 5, threads: 2 };
  if (options.clients !== undefined) scenario.clients = options.clients;
  if (options.rate !== undefined) scenario.rate = options.rate;
  const baseline = await runBaseline(scenario);
  const augur = await runAugur(scenario);
  const label = `${scenario.clients} clients × ${scenario.rate} msgs/s`;
  const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
  const deliveredShare = augur.received / augur.offered;
  return [
    {
      name: `websocket fan-out p99 delivery latency (${label})`,
      augur: augur.p99,
      baseline: baseline.p99,
      unit: "ms",
      ratio: baseline.p99 > 0 ? round(augur.p99 / baseline.p99, 2) : null,
      target: "p99 ≤ 1000 ms",
      pass: augur.p99 <= 1000,
    },
    {
      name: `websocket fan-out p50 delivery latency (${label})`,
      augur: augur.p50,
      baseline: baseline.p50,
      unit: "ms",
      ratio: baseline.p50 > 0 ? round(augur.p50 / baseline.p50, 2) : null,
      target: "reported",
      pass: null,
    },
    {
      name: `websocket fan-out frames delivered (${label}, ${augur.dropped} dropped)`,
      augur: round(deliveredShare * 100, 2),
      baseline: round(baseline.received / baseline.offered * 100, 2),
      unit: "% of offered",
      ratio: baseline.received > 0 ? round(augur.received / baseline.received, 3) : null,
      target: "≥ 99% delivered",
      pass: deliveredShare >= 0.99,
    },
  ];
}

if (import.meta.main) {
  const flag = (name: string) => {
    const i = Deno.args.indexOf(name);
    return i >= 0 ? Number(Deno.args[i + 1]) : undefined;
  };
  const rows = await run({
    quick: Deno.args.includes("--quick"),
    clients: flag("--clients"),
    rate: flag("--rate"),
  });
  for (const r of rows) {
    console.log(
      `${r.name}: augur ${r.augur} ${r.unit}` +
        (r.baseline === null ? "" : `, baseline ${r.baseline} ${r.unit}, ratio ${r.ratio}`) +
        `, target ${r.target} → ${r.pass === null ? "n/a" : r.pass ? "PASS" : "FAIL"}`,
    );
  }
}
