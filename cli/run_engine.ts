/**
 * `augur run engine`: the whole pipeline in one process (memory bus, DuckDB by default).
 * Prints each emitted signal as one line — a short summary on a TTY, canonical JSON with
 * `--json` or when stdout is not a terminal — and, with `--once` or `--demo`, a summary at the
 * end. `--demo` runs the simulator's scripted scenario at accelerated time into a throwaway
 * store and reports which scripted event each detector caught and how fast.
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
import { defaultScenario, type SimEvent } from "../adapters/markets/simulator.ts";
import { parseSourceSpec } from "../adapters/markets/source_factory.ts";
import { checkReachable, PLATFORM_HOSTS } from "../adapters/markets/reachability.ts";
import { canonicalJson, formatIsoMicros, KINDS } from "../pipeline/canonical_json.ts";
import type { MarketSignal, SignalContext } from "../pipeline/models.ts";

/** Ticks per platform the demo simulates (16 h of 60 s ticks covers every scripted event). */
export const DEMO_TICKS = 16 * 60;

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
    demoDir = await Deno.makeTempDir({ prefix: "augur-demo-" });
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
      simulator: demo ? { ticks: DEMO_TICKS, tickSeconds: 60 } : undefined,
      signal: controller.signal,
      store,
      curves: await loadCurveSet(),
      registry: defaultRegistry,
      logger,
      readiness: server?.readiness,
      onSignal: (signal) => emitted.push(signal),
      onContext: (context) => {
        emitted.push(context.signal);
        const line = json ? canonicalJson(context, KINDS.context) : summaryLine(context);
        if (!demo || json) Deno.stdout.writeSync(encoder.encode(line + "\n"));
      },
      onTick: (tick) => progress?.(tick.snapshots),
    });
    progress?.(0, true);
  } finally {
    for (const sig of signals) Deno.removeSignalListener(sig, stop);
    await server?.close();
    await store.close();
    if (demoDir) await Deno.remove(demoDir, { recursive: true }).catch(() => {});
  }
  const out = (line: string) => Deno.stderr.writeSync(encoder.encode(line + "\n"));
  if (once || controller.signal.aborted) printSummary(summary, out);
  if (demo) {
    const missed = printDemoReport(emitted, out);
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
    if (!done && pct === lastShown) return;
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

const EXPECTED: Record<SimEvent["kind"], string> = {
  news_jump: "price_velocity",
  volume_spike: "volume_spike",
  book_imbalance: "book_imbalance",
  volatility_regime: "regime_shift",
  divergence: "cross_market_divergence",
};

const WHY: Record<SimEvent["kind"], string> = {
  news_jump: "a sudden price jump: BOCPD's run-length posterior collapsed",
  volume_spike: "volume far above its EWMA baseline (z-score)",
  book_imbalance: "bid depth dominated the book for several snapshots",
  volatility_regime: "1 h volatility broke out of its CUSUM band",
  divergence: "related markets' rank correlation broke from history (BH-controlled)",
};

/** The demo's "what fired and why"; returns the number of scripted events not detected. */
function printDemoReport(signals: MarketSignal[], out: (line: string) => void): number {
  const start = Date.UTC(2026, 0, 5) * 1000;
  const unique = new Map(signals.map((s) => [s.signal_id, s]));
  out("");
  out("scripted events (simulator seed scenario)");
  let missed = 0;
  for (const event of defaultScenario()) {
    const at = start + event.at_s * 1_000_000;
    const markets = event.kind === "divergence" ? [event.market, event.other] : [event.market];
    const hit = [...unique.values()]
      .filter((s) =>
        s.signal_type === EXPECTED[event.kind] && s.detected_at >= at &&
        (markets.includes(s.market_id) || s.related_market_ids.some((m) => markets.includes(m)))
      )
      .sort((a, b) => a.detected_at - b.detected_at)[0];
    const label = `${event.kind} on ${markets.join("/")} at +${event.at_s / 3600}h`;
    if (hit) {
      const delay = Math.round((hit.detected_at - at) / 60_000_000);
      out(
        `  ✓ ${label.padEnd(40)} ${hit.signal_type} after ${delay} min — ${WHY[event.kind]}`,
      );
    } else {
      missed++;
      out(`  ✗ ${label.padEnd(40)} not detected (expected ${EXPECTED[event.kind]})`);
    }
  }
  out(missed === 0 ? "every scripted event was detected" : `${missed} scripted event(s) missed`);
  return missed;
}
