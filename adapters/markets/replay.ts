/**
 * Replay source: reads a {@linkcode ./recorder.ts} file (plain or gzip, detected by magic
 * bytes) and yields the recorded ticks, re-normalizing every recorded raw poll with the same
 * pure {@linkcode normalizePoll} the live poller uses. Pace: `"fast"` (default, no waiting)
 * or `"recorded"` (sleeps the recorded gap between ticks on the injected clock). A poll that
 * no longer normalizes is skipped, counted and logged, as live.
 *
 * @example
 * ```ts
 * import { ReplaySource } from "./replay.ts";
 * const source = new ReplaySource("/tmp/poly.ndjson.gz");
 * for await (const tick of source) console.log(tick.T, tick.messages.length);
 * ```
 * @module
 */

import { type Platform, type SnapshotMessage } from "../../pipeline/models.ts";
import { normalizePoll } from "../../pipeline/normalizer.ts";
import { defaultRegistry, type MetricsRegistry } from "../observability/metrics.ts";
import { createLogger, type Logger } from "../observability/logger.ts";
import { type Clock, systemClock } from "./clock.ts";
import { type MarketSource, rawPollOf, type RawResponse, type Tick } from "./source.ts";

/** Options of {@linkcode ReplaySource}. */
export interface ReplayOptions {
  /** `"fast"` (as fast as possible, default) or `"recorded"` (recorded pace). */
  pace?: "fast" | "recorded";
  /** Clock used for the recorded pace (default system clock). */
  clock?: Clock;
  registry?: MetricsRegistry;
  logger?: Logger;
}

interface PollLine {
  type: "poll";
  market_id: string;
  platform_market_id: string;
  since: number;
  fetched_at: number;
  responses: RawResponse[];
}

/** Read the lines of a plain or gzip NDJSON file. */
export async function* readNdjson(path: string): AsyncGenerator<unknown> {
  const file = await Deno.open(path, { read: true });
  const head = new Uint8Array(2);
  const n = await file.read(head);
  await file.seek(0, Deno.SeekMode.Start);
  let stream: ReadableStream<Uint8Array> = file.readable;
  if (n === 2 && head[0] === 0x1f && head[1] === 0x8b) {
    stream = stream.pipeThrough(
      new DecompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>,
    );
  }
  let buffer = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (line) yield JSON.parse(line);
    }
  }
  if (buffer.trim()) yield JSON.parse(buffer);
}

/**
 * A {@linkcode MarketSource} over a recorded file.
 *
 * @example
 * ```ts
 * import { ReplaySource } from "./replay.ts";
 * const ticks = [];
 * for await (const t of new ReplaySource("/tmp/k.ndjson")) ticks.push(t);
 * ```
 */
export class ReplaySource implements MarketSource {
  readonly description: string;
  readonly #path: string;
  readonly #pace: "fast" | "recorded";
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #errors;
  #closed = false;

  constructor(path: string, options: ReplayOptions = {}) {
    this.#path = path;
    this.description = `replay:${path}`;
    this.#pace = options.pace ?? "fast";
    this.#clock = options.clock ?? systemClock;
    this.#log = options.logger ?? createLogger({ component: "markets.replay" });
    this.#errors = (options.registry ?? defaultRegistry).counter(
      "augur_market_normalize_errors_total",
      "Polls whose payload did not normalize, by platform and field.",
      ["platform", "field"],
    );
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Tick> {
    let platform: Platform | null = null;
    let pending: PollLine[] = [];
    let lastT: number | null = null;
    for await (const value of readNdjson(this.#path)) {
      if (this.#closed) return;
      const line = value as { type: string } & Record<string, unknown>;
      if (line.type === "header") {
        platform = line.platform as Platform;
      } else if (line.type === "poll") {
        pending.push(line as unknown as PollLine);
      } else if (line.type === "tick") {
        const T = line.T as number;
        const tickPlatform = (line.platform as Platform | undefined) ?? platform;
        if (!tickPlatform) throw new Error(`${this.#path}: tick before header`);
        if (this.#pace === "recorded" && lastT !== null && T > lastT) {
          await this.#clock.sleep((T - lastT) / 1000);
        }
        lastT = T;
        yield { platform: tickPlatform, T, messages: this.#messages(tickPlatform, T, pending) };
        pending = [];
      }
    }
  }

  #messages(platform: Platform, T: number, polls: PollLine[]): SnapshotMessage[] {
    const out: SnapshotMessage[] = [];
    for (const p of polls) {
      try {
        out.push(normalizePoll(rawPollOf(p.responses), {
          platform,
          marketId: p.market_id,
          platformMarketId: p.platform_market_id,
          // The snapshot time is the tick time T (DESIGN §10: T = every snapshot's `now`), so a
          // tick's snapshots are countable in the store (context waits for complete ticks).
          fetchedAt: T,
          now: T,
          since: p.since,
        }));
      } catch (error) {
        const field = (error as { field?: string }).field ?? "unknown";
        this.#errors.inc({ platform, field });
        this.#log.warn("recorded poll does not normalize; skipped", {
          market_id: p.market_id,
          error,
        });
      }
    }
    return out.sort((a, b) => cmp(a.snapshot.market_id, b.snapshot.market_id));
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
