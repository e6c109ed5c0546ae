/**
 * The poller stage: ticks from a MarketSource (live APIs, simulator, replay) onto the bus
 * (DESIGN §10). Per tick T of its platform:
 * 1. publish every snapshot message to `augur.snapshots.<pp>.<platform>.<m>` and wait for the
 *    acknowledgements;
 * 2. append a tick marker {platform, T} to every partition;
 * 3. publish `augur.ticks.<platform>` {platform, t, announced, snapshots of related markets}
 *    (read by divergence, and by the store for context's "tick fully stored" wait).
 *
 * Message ids are deterministic (`snapshot:<market>:<timestamp>`), so a restarted poller that
 * republishes a tick is absorbed downstream.
 *
 * @example
 * ```ts
 * import { pollIntoBus } from "./poller_stage.ts";
 * // await pollIntoBus(bus, source, { platform: "kalshi", subjects, signal, related: new Set() });
 * ```
 * @module
 */
import { HEADER, type OutgoingMessage } from "../../adapters/bus/types.ts";
import type { EventBus } from "../../adapters/bus/types.ts";
import type { MarketSource, Tick } from "../../adapters/markets/source.ts";
import { decode, encodeText, KINDS } from "../../pipeline/canonical_json.ts";
import { codecMessage, type PayloadDecoder } from "../message_codec.ts";
import type { MarketSnapshot, Platform, SnapshotMessage } from "../../pipeline/models.ts";
import type { Subjects } from "../subjects.ts";
import { PoisonError } from "../partition_runner.ts";
import { tickMarker } from "./tick_marker.ts";

/** The `augur.ticks.<platform>` payload. */
export interface TickMessage {
  readonly platform: Platform;
  /** Tick time T, epoch µs. */
  readonly t: number;
  /** Snapshots published for this tick. */
  readonly announced: number;
  /** This tick's snapshots of markets that take part in a relationship (for divergence). */
  readonly snapshots: readonly MarketSnapshot[];
}

/** Encode a tick message (byte-stable). */
export function encodeTickMessage(tick: TickMessage): Uint8Array {
  const snapshots = tick.snapshots.map((s) => encodeText(s, KINDS.snapshot)).join(",");
  return new TextEncoder().encode(
    `{"platform":${
      JSON.stringify(tick.platform)
    },"t":${tick.t},"announced":${tick.announced},"snapshots":[${snapshots}]}`,
  );
}

/**
 * The `augur.ticks.<platform>` payload decoder: `decodeDelivery(delivery, TICK_MESSAGES)`
 * takes the value an in-process poller carried, else decodes the bytes.
 *
 * @example
 * ```ts
 * import { encodeTickMessage, TICK_MESSAGES } from "./poller_stage.ts";
 * import { decodeDelivery } from "../message_codec.ts";
 * const payload = encodeTickMessage({ platform: "kalshi", t: 1, announced: 0, snapshots: [] });
 * decodeDelivery({ payload }, TICK_MESSAGES).t; // 1
 * ```
 */
export const TICK_MESSAGES: PayloadDecoder<TickMessage> = Object.freeze({
  name: "tick message",
  decode: (payload: Uint8Array) => decodeTickMessage(payload),
});

/** Decode a tick message; malformed input is poison. */
export function decodeTickMessage(payload: Uint8Array): TickMessage {
  try {
    const raw = JSON.parse(new TextDecoder().decode(payload));
    if (
      (raw.platform !== "polymarket" && raw.platform !== "kalshi") ||
      !Number.isSafeInteger(raw.t) || !Number.isSafeInteger(raw.announced) ||
      !Array.isArray(raw.snapshots)
    ) {
      throw new Error("expected {platform, t, announced, snapshots[]}");
    }
    return {
      platform: raw.platform,
      t: raw.t,
      announced: raw.announced,
      snapshots: raw.snapshots.map((s: unknown) => decode(JSON.stringify(s), KINDS.snapshot)),
    };
  } catch (error) {
    throw new PoisonError(`tick message: ${(error as Error).message}`, { cause: error });
  }
}

/** The bus messages of one snapshot. */
export function snapshotMessage(subjects: Subjects, message: SnapshotMessage): OutgoingMessage {
  const { market_id: market, platform, timestamp } = message.snapshot;
  return codecMessage(KINDS.snapshotMessage, {
    subject: subjects.snapshots(subjects.partitionOf(market), platform, market),
    value: message,
    headers: { [HEADER.id]: `snapshot:${market}:${timestamp}`, [HEADER.key]: market },
  });
}

/** Every message of one tick, in publish order (snapshots, markers, tick announcement). */
export function tickMessages(
  subjects: Subjects,
  tick: Tick,
  related: ReadonlySet<string>,
): { snapshots: OutgoingMessage[]; markers: OutgoingMessage[] } {
  const snapshots = tick.messages.map((m) => snapshotMessage(subjects, m));
  const markers: OutgoingMessage[] = [];
  for (let p = 0; p < subjects.partitions; p++) {
    markers.push(
      tickMarker(subjects.marker("snapshots", p), { platform: tick.platform, t: tick.T }),
    );
  }
  const announcement: TickMessage = {
    platform: tick.platform,
    t: tick.T,
    announced: tick.messages.length,
    snapshots: tick.messages.map((m) => m.snapshot).filter((s) => related.has(s.market_id)),
  };
  let payload: Uint8Array | undefined;
  markers.push({
    subject: subjects.ticks(tick.platform),
    // Encoded on first read (never, when every reader is in this process).
    get payload(): Uint8Array {
      return payload ??= encodeTickMessage(announcement);
    },
    headers: { [HEADER.id]: `ticks:${tick.platform}:${tick.T}` },
    decoded: { codec: TICK_MESSAGES, value: announcement },
  });
  return { snapshots, markers };
}

/** Options of {@linkcode pollIntoBus}. */
export interface PollOptions {
  readonly platform: Platform;
  readonly subjects: Subjects;
  readonly signal: AbortSignal;
  /** Markets that take part in a relationship (their snapshots ride on the tick message). */
  readonly related: ReadonlySet<string>;
  /** False once the poller's singleton lease may have expired: stop before publishing. */
  readonly isValid?: () => boolean;
  /** Called after each tick is fully published. */
  readonly onTick?: (tick: Tick) => void;
  /**
   * When the source ends by itself (a replay drained, a finite simulation, `--once`), publish a
   * final tick (t = FINAL_TICK) so every downstream window closes. Default true.
   */
  readonly finalTick?: boolean;
}

/** The tick time of the final tick of a finished source: closes every window downstream. */
export const FINAL_TICK = Number.MAX_SAFE_INTEGER;

/** Publish the source's ticks of `platform` until it ends or the signal aborts. */
export async function pollIntoBus(
  bus: EventBus,
  source: MarketSource,
  options: PollOptions,
): Promise<{ ticks: number; snapshots: number }> {
  const stop = () => void source.close();
  options.signal.addEventListener("abort", stop, { once: true });
  let ticks = 0;
  let snapshots = 0;
  try {
    for await (const tick of source) {
      if (options.signal.aborted || (options.isValid && !options.isValid())) break;
      if (tick.platform !== options.platform) continue;
      const messages = tickMessages(options.subjects, tick, options.related);
      for (let i = 0; i < messages.snapshots.length; i += 500) {
        await bus.publishBatch(messages.snapshots.slice(i, i + 500));
      }
      if (options.isValid && !options.isValid()) break;
      await bus.publishBatch(messages.markers);
      ticks++;
      snapshots += tick.messages.length;
      options.onTick?.(tick);
    }
    const ended = !options.signal.aborted && (!options.isValid || options.isValid());
    if (ended && (options.finalTick ?? true)) {
      const final = tickMessages(options.subjects, {
        platform: options.platform,
        T: FINAL_TICK,
        messages: [],
      }, options.related);
      await bus.publishBatch(final.markers);
    }
  } finally {
    options.signal.removeEventListener("abort", stop);
    await source.close();
  }
  return { ticks, snapshots };
}
