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

import { AugurError } from "../../config/errors.ts";
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

/** A record file that is not a valid recording (bad JSON, bad gzip, a malformed line). */
export class ReplayFormatError extends AugurError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ReplayFormatError";
  }
}

/**
 * Read the lines of a plain or gzip NDJSON file.
 * @throws {ReplayFormatError} on invalid JSON or a corrupt gzip stream, naming the line.
 */
export async function* readNdjson(path: string): AsyncGenerator<unknown> {
  let lineNo = 0;
  const parse = (line: string): unknown => {
    try {
      return JSON.parse(line);
    } catch (error) {
      throw new ReplayFormatError(`${path}: line ${lineNo}: invalid JSON`, { cause: error });
    }
  };
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
  const chunks = stream.pipeThrough(new TextDecoderStream())[Symbol.asyncIterator]();
  while (true) {
    let next: IteratorResult<string>;
    try {
      next = await chunks.next();
    } catch (error) {
      throw new ReplayFormatError(`${path}: cannot read (${(error as Error).message})`, {
        cause: error,
      });
    }
    if (next.done) break;
    buffer += next.value;
    let nl: number;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      lineNo++;
      if (line) yield parse(line);
    }
  }
  lineNo++;
  if (buffer.trim()) yield parse(buffer);
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isPlatform = (v: unknown): v is Platform => v === "polymarket" || v === "kalshi";

/** Why a recorded line is malformed, or null. */
function lineProblem(line: Record<string, unknown>): string | null {
  switch (line.type) {
    case "header":
      return isPlatform(line.platform) ? null : "header: expected platform polymarket | kalshi";
    case "tick":
      if (!Number.isSafeInteger(line.T)) return "tick: expected T, integer epoch µs";
      if (line.platform !== undefined && line.platform !== null && !isPlatform(line.platform)) {
        return "tick: expected platform polymarket | kalshi";
      }
      return null;
    case "poll": {
      if (typeof line.market_id !== "string" || typeof line.platform_market_id !== "string") {
        return "poll: expected market_id and platform_market_id strings";
      }
      if (!Number.isSafeInteger(line.since) || !Number.isSafeInteger(line.fetched_at)) {
        return "poll: expected since and fetched_at, integer epoch µs";
      }
      const ok = Array.isArray(line.responses) &&
        line.responses.every((r) =>
          isRecord(r) && typeof r.kind === "string" && typeof r.status === "number" &&
          typeof r.body === "string"
        );
      return ok ? null : "poll: expected responses [{kind, status, body}]";
    }
    default:
      return null; // poll_error and future line types are skipped
  }
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
    let lineNo = 0;
    for await (const value of readNdjson(this.#path)) {
      if (this.#closed) return;
      lineNo++;
      const problem = isRecord(value) ? lineProblem(value) : "expected a JSON object";
      if (problem !== null) {
        throw new ReplayFormatError(`${this.#path}: record ${lineNo}: ${problem}`);
      }
      const line = value as { type: string } & Record<string, unknown>;
      if (line.type === "header") {
        platform = line.platform as Platform;
      } else if (line.type === "poll") {
        pending.push(line as unknown as PollLine);
      } else if (line.type === "tick") {
        const T = line.T as number;
        const tickPlatform = (line.platform as Platform | undefined) ?? platform;
        if (!tickPlatform) throw new ReplayFormatError(`${this.#path}: tick before header`);
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
