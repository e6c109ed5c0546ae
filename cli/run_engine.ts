/**
 * `augur run engine`: the whole pipeline in one process (memory bus, DuckDB by default).
 * Prints each emitted signal as one line — a short summary on a TTY, canonical JSON with
 * `--json` or when stdout is not a terminal — and, with `--once` or `--demo`, a summary at the
 * end. `--demo` runs the simulator's scripted scenario ({@linkcode defaultScenario}, 12
 * markets, 300 s ticks, 13 h of market time) at accelerated time into a throwaway store and
 * reports, for every scripted event, whether the detector it is shaped for fired on its market
 * within the stated bound ({@linkcode SCRIPTED_DETECTION}), after how long, and why; it exits 1
 * if any event was missed.
 *
 * @example
 * ```sh
 * augur run engine --source simulator:42 --demo
 * ```
 * @module
 */
import type { AugurConfig } from "../config/loader.ts";
import { AugurError } from "../config/errors.ts";
import type { RunFlags } from "./run.ts";
import { runEngine } from "../runtime/engine.ts";
import { loadCurveSet } from "../adapters/calibration_files.ts";
import type { EngineSummary } from "../runtime/engine.ts";
import { createStore } from "../adapters/storage/factory.ts";
import { createLogger } from "../adapters/observability/logger.ts";
import { defaultRegistry } from "../adapters/observability/metrics.ts";
import {
  type ObservabilityServer,
  startObservabilityServer,
} from "../adapters/observability/http_server.ts";
import {
  DEFAULT_SCENARIO_SECONDS,
  defaultScenario,
  SCRIPTED_DETECTION,
  type SimEvent,
  SIMULATOR_START,
  SIMULATOR_TICK_SECONDS,
} from "../adapters/markets/simulator.ts";
import { parseSourceSpec } from "../adapters/markets/source_factory.ts";
import { checkReachable, PLATFORM_HOSTS } from "../adapters/markets/reachability.ts";
import { canonicalJson, formatIsoMicros, KINDS } from "../pipeline/canonical_json.ts";
import type { MarketSignal, SignalContext } from "../pipeline/models.ts";

/** Seconds between the demo's simulated ticks (the cadence its scenario is shaped for). */
export const DEMO_TICK_SECONDS = SIMULATOR_TICK_SECONDS;
/** Ticks per platform the demo simulates (covers every scripted event and its bound). */
export const DEMO_TICKS = Math.ceil(DEFAULT_SCENARIO_SECONDS / DEMO_TICK_SECONDS);

const encoder = new TextEncoder();

/** Run the engine with the parsed flags; resolves to the exit code. */
export async function runEngineCommand(flags: RunFlags, config: AugurConfig): Promise<number> {
  const demo = flags.demo;
  const source = flags.source ?? (demo ? "simulator:42" : "live");
  const spec = parseSourceSpec(source);
  if (demo && spec.kind !== "simulator") {
    throw new AugurError(`--demo runs the simulator; received --source ${source}`);
  }
  const once = flags.once || demo;
  if (spec.kind === "live") {
    const platforms = new Set(
      config.markets.markets.filter((m) => m.active).map((m) => m.platform),
    );
    await checkReachable([...platforms].flatMap((p) => PLATFORM_HOSTS[p]));
  }
  const logger = createLogger({ component: "engine" });
  const tty = Deno.stdout.isTerminal();
  const json = flags.json || !tty;

  let demoDir: string | undefined;
  let storage = config.storage;
  if (demo && storage.backend.kind === "duckdb") {
    // Under data/ (the only place `deno task demo` may write), removed at the end.
    await Deno.mkdir("data", { recursive: true });
    demoDir = await Deno.makeTempDir({ dir: "data", prefix: "augur-demo-" });
    storage = {
      ...storage,
      backend: { ...storage.backend, duckdb_path: `${demoDir}/demo.duckdb` },
    };
  }
  const store = await createStore(storage, { registry: defaultRegistry, logger });
  const controller = new AbortController();
  const stop = () => controller.abort();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const sig of signals) Deno.addSignalListener(sig, stop);
  if (Deno.env.get("AUGUR_DRAIN") === "true") {
    logger.info("AUGUR_DRAIN=true: finishing in-flight work and exiting");
    controller.abort();
  }
  let server: ObservabilityServer | undefined;
  const emitted: MarketSignal[] = [];
  const demoContexts: SignalContext[] = [];
  let summary: EngineSummary;
  try {
    await store.initialize();
    const metrics = config.observability.metrics;
    if (flags.metricsPort !== undefined || (!once && metrics.kind !== "disabled")) {
      server = startObservabilityServer({
        hostname: metrics.bind,
        port: flags.metricsPort ?? metrics.port,
        registry: defaultRegistry,
        logger,
      });
    }
    const progress = demo ? progressPrinter(2 * DEMO_TICKS) : undefined;
    summary = await runEngine(config, {
      source,
      once,
      simulator: demo ? { ticks: DEMO_TICKS, tickSeconds: DEMO_TICK_SECONDS } : undefined,
      signal: controller.signal,
      store,
      curves: await loadCurveSet(),
      registry: defaultRegistry,
      logger,
      readiness: server?.readiness,
      onSignal: (signal) => emitted.push(signal),
      onContext: (context) => {
        emitted.push(context.signal);
        if (demo) {
          if (json) demoContexts.push(context);
          return;
        }
        const line = json ? canonicalJson(context, KINDS.context) : summaryLine(context);
        Deno.stdout.writeSync(encoder.encode(line + "\n"));
      },
      onTick: (tick) => progress?.(tick.snapshots),
    });
    progress?.(0, true);
    // The demo prints its contexts at the end in (detected_at, signal_id) order: contexts are
    // assembled concurrently, so their arrival order differs from run to run.
    demoContexts.sort((a, b) =>
      a.signal.detected_at - b.signal.detected_at ||
      (a.signal.signal_id < b.signal.signal_id
        ? -1
        : a.signal.signal_id > b.signal.signal_id
        ? 1
        : 0)
    );
    for (const context of demoContexts) {
      Deno.stdout.writeSync(encoder.encode(canonicalJson(context, KINDS.context) + "\n"));
    }
  } finally {
    for (const sig of signals) Deno.removeSignalListener(sig, stop);
    await server?.close();
    await store.close();
    if (demoDir) await Deno.remove(demoDir, { recursive: true }).catch(() => {});
  }
  const out = (line: string) => Deno.stderr.writeSync(encoder.encode(line + "\n"));
  if (once || controller.signal.aborted) printSummary(summary, out);
  if (demo) {
    const missed = printDemoReport(emitted, out, source);
    if (missed > 0) return 1;
  }
  if (once && summary.snapshots === 0 && !controller.signal.aborted) {
    out("augur: nothing could be polled (no snapshot from any market); see the log above");
    return 1;
  }
  return 0;
}

function summaryLine(context: SignalContext): string {
  const s = context.signal;
  const dir = s.direction > 0 ? "↑" : s.direction < 0 ? "↓" : "·";
  const flags = s.manipulation_flags.length ? ` [${s.manipulation_flags.join(", ")}]` : "";
  return `${formatIsoMicros(s.detected_at)}  ${s.signal_type.padEnd(23)} ${
    s.market_id.padEnd(14)
  } ${dir} magnitude ${s.magnitude.toFixed(2)} confidence ${
    s.confidence.toFixed(2)
  } (${s.liquidity_tier})${flags} — ${context.market_question}`;
}

function progressPrinter(totalTicks: number) {
  let ticks = 0;
  let snapshots = 0;
  let lastShown = -1;
  const tty = Deno.stderr.isTerminal();
  return (count: number, done = false) => {
    if (!done) {
      ticks++;
      snapshots += count;
    }
    const pct = Math.min(100, Math.floor((ticks / totalTicks) * 100));
    if (pct === lastShown && (!done || !tty)) return;
    if (!tty && !done && pct % 10 !== 0) return;
    lastShown = pct;
    const line = `demo: ${pct}% · ticks ${ticks}/${totalTicks} · snapshots ${snapshots}`;
    Deno.stderr.writeSync(encoder.encode(tty ? `\r${line}${done ? "\n" : ""}` : `${line}\n`));
  };
}

function printSummary(summary: EngineSummary, out: (line: string) => void): void {
  out("");
  out("augur engine summary");
  out(`  sources          ${summary.sources.join(", ")}`);
  out(`  markets polled   ${summary.markets}`);
  out(`  ticks            ${summary.ticks}`);
  out(`  snapshots        ${summary.snapshots}`);
  out(`  feature vectors  ${summary.features}`);
  out(`  signals          ${summary.signals}`);
  for (const [type, n] of Object.entries(summary.signalsByType).sort()) {
    out(`    ${type.padEnd(24)} ${n}`);
  }
  out(`  contexts         ${summary.contexts}`);
  out(`  dead letters     ${summary.deadLetters}`);
}

/** One scripted event and the signal that detected it (if any). */
export interface DemoDetection {
  readonly event: SimEvent;
  /** The first signal of the expected type on the event's market within the bound. */
  readonly signal: MarketSignal | null;
  /** Seconds from the event start to `signal.detected_at`. */
  readonly delay_s: number | null;
}

/**
 * Match every scripted event to the first signal of its expected type on its market
 * (divergence: market_a or a related id is one of the pair's legs) whose `detected_at` lies in
 * [event start, event start + bound].
 *
 * @param events the scripted events
 * @param signals every emitted signal (duplicates by id are ignored)
 * @param start simulation start (epoch µs)
 *
 * @example
 * ```ts
 * import { matchScriptedEvents } from "./run_engine.ts";
 * matchScriptedEvents([], [], 0); // []
 * ```
 */
export function matchScriptedEvents(
  events: readonly SimEvent[],
  signals: readonly MarketSignal[],
  start: number,
): DemoDetection[] {
  const unique = [...new Map(signals.map((s) => [s.signal_id, s])).values()]
    .sort((a, b) => a.detected_at - b.detected_at || (a.signal_id < b.signal_id ? -1 : 1));
  return events.map((event) => {
    const expected = SCRIPTED_DETECTION[event.kind];
    const at = start + event.at_s * 1_000_000;
    const until = at + expected.bound_s * 1_000_000;
    const legs = event.kind === "divergence" ? [event.market, event.other] : [event.market];
    const signal = unique.find((s) =>
      s.signal_type === expected.signal_type && s.detected_at >= at && s.detected_at <= until &&
      (legs.includes(s.market_id) ||
        (event.kind === "divergence" && s.related_market_ids.some((m) =>
          legs.includes(m)
        )))
    ) ?? null;
    return { event, signal, delay_s: signal ? (signal.detected_at - at) / 1_000_000 : null };
  });
}

const SHAPE: Record<SimEvent["kind"], string> = {
  news_jump: "flat price jumps",
  volume_spike: "volume burst",
  book_imbalance: "bid-heavy book",
  volatility_regime: "quiet market turns volatile",
  divergence: "cross-listed pair decouples",
};

const num = (v: unknown, digits: number) => typeof v === "number" ? v.toFixed(digits) : "?";

/** Why `signal` fired, from its raw features (DOMAIN §5 rules). */
function why(signal: MarketSignal): string {
  const f = signal.raw_features as Record<string, unknown>;
  switch (signal.signal_type) {
    case "price_velocity":
      return `BOCPD P(change in last 5 ticks) ${num(f.posterior_p_change, 3)} ≥ 0.7 ` +
        `(expected run length ${num(f.expected_run_length, 1)})`;
    case "volume_spike":
      return `volume_ratio_1h ${num(f.volume_ratio_1h, 3)} vs EWMA ${num(f.ewma_mean, 3)}: ` +
        `z ${num(f.z_score, 2)} ≥ 1.65`;
    case "book_imbalance":
      return `bid depth share ${num(f.bid_ask_ratio, 3)} ≥ 0.72 for 3 snapshots in a row`;
    case "regime_shift":
      return `CUSUM of volatility_1h ${num(f.positive_cusum, 4)} > h ${num(f.threshold, 4)} ` +
        `after 6 h without a breach`;
    case "cross_market_divergence":
      return `Spearman ρ ${num(f.spearman_rho, 4)} vs historical ` +
        `${num(typeof f.historical_z === "number" ? Math.tanh(f.historical_z) : null, 3)}: ` +
        `p ${pValue(f.p_value)} (BH at q 0.05)`;
  }
}

const pValue = (p: unknown) =>
  typeof p !== "number" ? "?" : p < 1e-12 ? "< 1e-12" : p.toExponential(1);
const clock = (us: number) => formatIsoMicros(us).slice(11, 16);
const minutes = (s: number) => `${Math.round(s / 60)} min`;

/** The demo's "what fired and why"; returns the number of scripted events not detected. */
function printDemoReport(
  signals: MarketSignal[],
  out: (line: string) => void,
  source: string,
): number {
  const detections = matchScriptedEvents(defaultScenario(), signals, SIMULATOR_START);
  out("");
  out(
    `scripted events (${source} · ${DEMO_TICKS} ticks of ${DEMO_TICK_SECONDS} s from ${
      formatIsoMicros(SIMULATOR_START)
    }; detected = expected signal on the event's market within the bound)`,
  );
  out(
    `  ${"at".padEnd(6)} ${"event".padEnd(18)} ${"market".padEnd(14)} ${
      "expected signal".padEnd(24)
    } ${"bound".padEnd(7)} result`,
  );
  for (const d of detections) {
    const e = d.event;
    const market = e.kind === "divergence" ? `${e.other}/${e.market}` : e.market;
    const expected = SCRIPTED_DETECTION[e.kind];
    out(
      `  ${clock(SIMULATOR_START + e.at_s * 1_000_000).padEnd(6)} ${e.kind.padEnd(18)} ${
        market.padEnd(14)
      } ${expected.signal_type.padEnd(24)} ${minutes(expected.bound_s).padEnd(7)} ${
        d.signal ? `✓ after ${minutes(d.delay_s!)}` : "✗ MISSED"
      }`,
    );
  }
  out("");
  out("what fired and why");
  for (const d of detections) {
    if (!d.signal) continue;
    const s = d.signal;
    const where = s.related_market_ids.length
      ? `${s.market_id}↔${s.related_market_ids.join(",")}`
      : s.market_id;
    out(
      `  ${clock(s.detected_at)} ${s.signal_type.padEnd(23)} ${where.padEnd(13)} ${
        SHAPE[d.event.kind]
      } → ${why(s)}`,
    );
  }
  const matched = new Set(detections.flatMap((d) => d.signal ? [d.signal.signal_id] : []));
  const others = new Map<string, number>();
  for (const s of new Map(signals.map((x) => [x.signal_id, x])).values()) {
    if (!matched.has(s.signal_id)) others.set(s.signal_type, (others.get(s.signal_type) ?? 0) + 1);
  }
  const otherCount = [...others.values()].reduce((a, b) => a + b, 0);
  out(
    `  ${otherCount} other signals${
      otherCount
        ? ` (${
          [...others].sort().map(([t, n]) => `${t} ${n}`).join(", ")
        }): repeats while an event lasts, and background noise`
        : ""
    }`,
  );
  const missed = detections.filter((d) => !d.signal).length;
  out("");
  out(
    missed === 0
      ? `every scripted event was detected (${detections.length}/${detections.length})`
      : `${missed} of ${detections.length} scripted event(s) missed`,
  );
  return missed;
}
