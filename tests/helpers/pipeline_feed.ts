/**
 * Feeding a real bus the way the upstream stages would, for e2e tests of single worker kinds:
 * calibrated signals on `augur.calibrated_signals.<pp>` (what calibration publishes, read by
 * dedup), snapshot messages on `augur.snapshots.<pp>.<platform>.<m>` (what the poller
 * publishes), and the tick markers that close dedup windows / forward through the
 * partition-ordered stages (DESIGN §10). Subjects and headers come from runtime/subjects.ts,
 * runtime/stages/tick_marker.ts and runtime/stages/poller_stage.ts, so the feed is exactly
 * what the real upstream stages publish.
 *
 * Also: the expected dedup output of a signal stream (the same pure `dedupWindow` + storm
 * control the dedup stage calls), and helpers to read an `augur` process's JSON logs and its
 * `/metrics`.
 *
 * @example
 * ```ts
 * import { generateSignals, PipelineFeed } from "./pipeline_feed.ts";
 * import { Subjects } from "../../runtime/subjects.ts";
 * import type { EventBus } from "../../adapters/bus/types.ts";
 * declare const bus: EventBus;
 * const feed = new PipelineFeed(bus, new Subjects({ partitions: 8 }));
 * const signals = generateSignals({ markets: [{ id: "m", platform: "kalshi" }], windows: 3 });
 * await feed.publishSignals(signals);
 * await feed.closeSignalWindows(Number.MAX_SAFE_INTEGER, ["kalshi"]);
 * ```
 * @module
 */
import { type EventBus, HEADER, type OutgoingMessage } from "../../adapters/bus/types.ts";
import { encode, KINDS } from "../../pipeline/canonical_json.ts";
import { dedupWindow, publishable } from "../../pipeline/dedup.ts";
import {
  DETECTOR_ID_BY_SIGNAL_TYPE,
  makeSignal,
  type MarketSignal,
  type Platform,
  SIGNAL_TYPES,
  type SignalType,
  type SnapshotMessage,
} from "../../pipeline/models.ts";
import { signalId } from "../../pipeline/signal_id.ts";
import { StormController } from "../../pipeline/storm.ts";
import type { Taxonomy } from "../../pipeline/taxonomy.ts";
import type { DedupSection } from "../../runtime/stages/dedup_stage.ts";
import { snapshotMessage } from "../../runtime/stages/poller_stage.ts";
import { tickMarker } from "../../runtime/stages/tick_marker.ts";
import type { Subjects } from "../../runtime/subjects.ts";
import type { AugurProcess } from "./augur_process.ts";
import { Prng } from "./prng.ts";
import { waitFor } from "./wait.ts";

const MICROS = 1_000_000;

/** 2026-03-15T12:00:00Z in epoch µs (aligned to 30 s windows). */
export const FEED_T0: number = Date.UTC(2026, 2, 15, 12, 0, 0) * 1000;

/** A market signals are generated for. */
export interface FeedMarket {
  readonly id: string;
  readonly platform: Platform;
}

/** Options of {@linkcode generateSignals}. */
export interface GenerateSignalsOptions {
  readonly markets: readonly FeedMarket[];
  /** Number of consecutive data-time windows. */
  readonly windows: number;
  /** Window length in seconds (dedup's window, 30). */
  readonly windowSeconds?: number;
  /** Epoch µs of the first window start (default {@linkcode FEED_T0}). */
  readonly start?: number;
  /** Signals per market per window: 0..max (default 2). */
  readonly maxPerMarket?: number;
  readonly seed?: number;
}

/**
 * Deterministic calibrated signals over `windows` windows: content-derived ids, several
 * signal types, sometimes two of one type in one fingerprint bucket (so dedup merges).
 */
export function generateSignals(options: GenerateSignalsOptions): MarketSignal[] {
  const prng = new Prng(options.seed ?? 11);
  const windowUs = (options.windowSeconds ?? 30) * MICROS;
  const start = options.start ?? FEED_T0;
  const max = options.maxPerMarket ?? 2;
  const out: MarketSignal[] = [];
  const types: readonly SignalType[] = SIGNAL_TYPES.filter((t) => t !== "cross_market_divergence");
  for (let w = 0; w < options.windows; w++) {
    for (const market of options.markets) {
      const n = prng.int(max + 1);
      for (let k = 0; k < n; k++) {
        // Half the time repeat the type of the previous signal: a fingerprint merge.
        const type = k > 0 && prng.next() < 0.5
          ? out[out.length - 1].signal_type
          : types[prng.int(types.length)];
        const detectedAt = start + w * windowUs + prng.int(windowUs / MICROS) * MICROS;
        const windowSeconds = [300, 3600][prng.int(2)];
        const magnitude = Math.round(prng.next() * 100) / 100;
        out.push(makeSignal({
          signal_id: signalId({
            market_id: market.id,
            detector_id: DETECTOR_ID_BY_SIGNAL_TYPE[type],
            detected_at: detectedAt,
            window_seconds: windowSeconds,
          }),
          market_id: market.id,
          platform: market.platform,
          signal_type: type,
          magnitude,
          direction: prng.next() < 0.5 ? -1 : 1,
          confidence: Math.round(prng.next() * 100) / 100,
          fdr_adjusted: false,
          detected_at: detectedAt,
          window_seconds: windowSeconds,
          liquidity_tier: (["high", "mid", "low"] as const)[prng.int(3)],
          manipulation_flags: [],
          related_market_ids: [],
          raw_features: {
            calibration_provenance: `${DETECTOR_ID_BY_SIGNAL_TYPE[type]}@identity_v0`,
            z_score: Math.round(prng.next() * 500) / 100,
          },
          schema_version: "1.0.0",
        }));
      }
    }
  }
  // Repeated (market, detector, time, window) draws give the same id: keep one.
  const seen = new Set<string>();
  return out.filter((s) => !seen.has(s.signal_id) && seen.add(s.signal_id));
}

/** Options of {@linkcode expectedDedupOutput}. */
export interface ExpectedDedupOptions {
  readonly taxonomy: Taxonomy;
  readonly dedup: DedupSection;
  /** engine.toml `dedup_window_seconds` (30). */
  readonly windowSeconds: number;
}

/**
 * What the dedup singleton publishes for `signals` once every window closed: windows in
 * order, each through the same pure `dedupWindow` and storm controller the stage uses.
 */
export function expectedDedupOutput(
  signals: readonly MarketSignal[],
  options: ExpectedDedupOptions,
): MarketSignal[] {
  const windowUs = options.windowSeconds * MICROS;
  const windows = new Map<number, MarketSignal[]>();
  for (const s of signals) {
    const ws = Math.floor(s.detected_at / windowUs) * windowUs;
    if (!windows.has(ws)) windows.set(ws, []);
    windows.get(ws)!.push(s);
  }
  const storm = new StormController(options.dedup.storm, {
    capacity: options.dedup.bus.queue_capacity,
  });
  const out: MarketSignal[] = [];
  for (const ws of [...windows.keys()].sort((a, b) => a - b)) {
    const raw = windows.get(ws)!;
    const merged = dedupWindow(raw, {
      taxonomy: options.taxonomy,
      config: {
        fingerprint_bucket_seconds: options.dedup.fingerprint_bucket_seconds,
        cluster_window_seconds: options.dedup.cluster_window_seconds,
        cluster_relationship_types: options.dedup.cluster_relationship_types as never,
      },
    });
    storm.updateWindow({
      raw_count: raw.length,
      post_merge_count: merged.length,
      window_end: ws + windowUs,
    });
    out.push(...publishable(merged, { inStorm: storm.inStorm }));
  }
  return out;
}

/** Publishes upstream-stage output onto a real bus. */
export class PipelineFeed {
  readonly bus: EventBus;
  readonly subjects: Subjects;
  constructor(bus: EventBus, subjects: Subjects) {
    this.bus = bus;
    this.subjects = subjects;
  }

  /** The calibration stage's message for one signal. */
  signalMessage(signal: MarketSignal): OutgoingMessage {
    return {
      subject: this.subjects.calibrated(this.subjects.partitionOf(signal.market_id)),
      payload: encode(signal, KINDS.signal),
      headers: {
        [HEADER.id]: `calibrated:${signal.signal_id}`,
        [HEADER.key]: signal.market_id,
      },
    };
  }

  /**
   * Tick markers {platform, t} on every calibrated partition for each platform, plus the
   * divergence singleton's marker: dedup closes every window ending at or before `t`.
   */
  signalMarkers(t: number, platforms: readonly string[]): OutgoingMessage[] {
    const out: OutgoingMessage[] = [];
    for (const platform of platforms) {
      for (let p = 0; p < this.subjects.partitions; p++) {
        out.push(tickMarker(this.subjects.marker("calibrated_signals", p), { platform, t }));
      }
    }
    out.push(tickMarker(this.subjects.divergence(), { platform: "divergence", t }));
    return out;
  }

  /** Publish calibrated signals (in batches, in order). */
  async publishSignals(signals: readonly MarketSignal[]): Promise<void> {
    for (let i = 0; i < signals.length; i += 500) {
      await this.bus.publishBatch(signals.slice(i, i + 500).map((s) => this.signalMessage(s)));
    }
  }

  /** Publish the markers that close every window ending at or before `t`. */
  async closeSignalWindows(t: number, platforms: readonly string[]): Promise<void> {
    await this.bus.publishBatch(this.signalMarkers(t, platforms));
  }

  /**
   * Publish each window's signals followed by its closing markers, for windows
   * `[from, to)` of `signals` (window w starts at `start + w · windowSeconds`).
   */
  async publishWindows(
    signals: readonly MarketSignal[],
    options: {
      from: number;
      to: number;
      platforms: readonly string[];
      windowSeconds?: number;
      start?: number;
    },
  ): Promise<void> {
    const windowUs = (options.windowSeconds ?? 30) * MICROS;
    const start = options.start ?? FEED_T0;
    for (let w = options.from; w < options.to; w++) {
      const lo = start + w * windowUs;
      await this.publishSignals(
        signals.filter((s) => s.detected_at >= lo && s.detected_at < lo + windowUs),
      );
      await this.closeSignalWindows(lo + windowUs, options.platforms);
    }
  }

  /** The poller's message for one snapshot. */
  snapshotMessage(message: SnapshotMessage): OutgoingMessage {
    return snapshotMessage(this.subjects, message);
  }

  /** Publish snapshot messages (in batches, in order). */
  async publishSnapshots(messages: readonly SnapshotMessage[]): Promise<void> {
    for (let i = 0; i < messages.length; i += 500) {
      await this.bus.publishBatch(
        messages.slice(i, i + 500).map((m) => this.snapshotMessage(m)),
      );
    }
  }

  /** A snapshot tick marker {platform, t} on every snapshot partition. */
  async snapshotMarkers(t: number, platform: string): Promise<void> {
    const out: OutgoingMessage[] = [];
    for (let p = 0; p < this.subjects.partitions; p++) {
      out.push(tickMarker(this.subjects.marker("snapshots", p), { platform, t }));
    }
    await this.bus.publishBatch(out);
  }
}

/** The JSON log records an `augur` process wrote to stderr (non-JSON lines skipped). */
export function logRecords(stderr: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of stderr.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      out.push(JSON.parse(line));
    } catch { /* a partial line */ }
  }
  return out;
}

/** The first log record with message `msg`, or undefined. */
export function findLog(process: AugurProcess, msg: string): Record<string, unknown> | undefined {
  return logRecords(process.stderr()).find((r) => r.msg === msg);
}

/** The port a process started with `--metrics-port 0` bound (from its log). */
export async function metricsPortOf(process: AugurProcess, timeoutMs = 30_000): Promise<number> {
  const record = await waitFor(() => findLog(process, "observability endpoint listening"), {
    timeoutMs,
    message: `no "observability endpoint listening" log; stderr:\n${process.stderr().slice(-2000)}`,
  });
  return Number(record.port);
}

/**
 * Sum of the samples of metric `name` on a process's `/metrics` whose labels include
 * `labels` (undefined when no sample matches).
 */
export async function scrapeMetric(
  port: number,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let sum: number | undefined;
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const body = match[2] ?? "";
    const ok = Object.entries(labels).every(([k, v]) => body.includes(`${k}="${v}"`));
    if (ok) sum = (sum ?? 0) + Number(match[3]);
  }
  return sum;
}
