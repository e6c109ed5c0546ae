/**
 * Recorder: raw platform responses with timestamps and tick boundaries as NDJSON, optionally
 * gzip-compressed (`.gz` path or `gzip: true`, via CompressionStream). The replay source
 * ({@linkcode ./replay.ts}) feeds the same bodies through the same pure normalizer, so a
 * replay reproduces the recorded snapshots exactly.
 *
 * Lines (all times integer epoch µs):
 * - `{"type":"header","format":"augur-record","version":1,"platform":P,"markets":[WatchedMarket…]}`
 * - `{"type":"poll","market_id","platform_market_id","since","fetched_at","responses":[RawResponse…]}`
 * - `{"type":"poll_error","market_id","at","error"}`
 * - `{"type":"tick","platform":P,"T":µs,"market_ids":[…]}` — closes the polls above it.
 *
 * @example
 * ```ts
 * import { Recorder } from "./recorder.ts";
 * const rec = await Recorder.open("/tmp/poly.ndjson.gz", {
 *   platform: "polymarket",
 *   markets: [{ id: "m1", platform: "polymarket", platform_market_id: "0xabc" }],
 * });
 * await rec.tick(1_700_000_000_000_000, []);
 * await rec.close();
 * ```
 * @module
 */

import type { Platform } from "../../pipeline/models.ts";
import type { PollResult, WatchedMarket } from "./source.ts";

/** Record format version. */
export const RECORD_VERSION = 1;

/** Header of a record file. */
export interface RecordHeader {
  platform: Platform;
  markets: readonly WatchedMarket[];
}

/** Options of {@linkcode Recorder.open}. */
export interface RecorderOptions extends RecordHeader {
  /** Gzip the file (default: path ends in `.gz`). */
  gzip?: boolean;
}

const encoder = new TextEncoder();

/**
 * NDJSON writer of raw polls and tick markers.
 *
 * @example
 * ```ts
 * import { Recorder } from "./recorder.ts";
 * const rec = await Recorder.open("/tmp/k.ndjson", { platform: "kalshi", markets: [] });
 * await rec.close();
 * ```
 */
export class Recorder {
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #done: Promise<void>;
  #closed = false;
  /** Lines written. */
  lines = 0;

  private constructor(writer: WritableStreamDefaultWriter<Uint8Array>, done: Promise<void>) {
    this.#writer = writer;
    this.#done = done;
  }

  /** Create (truncate) `path` and write the header. */
  static async open(path: string, options: RecorderOptions): Promise<Recorder> {
    const file = await Deno.open(path, { write: true, create: true, truncate: true });
    const gzip = options.gzip ?? path.endsWith(".gz");
    let writer: WritableStreamDefaultWriter<Uint8Array>;
    let done: Promise<void>;
    if (gzip) {
      const cs = new CompressionStream("gzip");
      done = cs.readable.pipeTo(file.writable);
      writer = cs.writable.getWriter() as WritableStreamDefaultWriter<Uint8Array>;
    } else {
      writer = file.writable.getWriter();
      done = Promise.resolve();
    }
    const rec = new Recorder(writer, done);
    await rec.#line({
      type: "header",
      format: "augur-record",
      version: RECORD_VERSION,
      platform: options.platform,
      markets: options.markets,
    });
    return rec;
  }

  /** Record one market's successful poll. */
  async poll(market: WatchedMarket, since: number, result: PollResult): Promise<void> {
    await this.#line({
      type: "poll",
      market_id: market.id,
      platform_market_id: market.platform_market_id,
      since,
      fetched_at: result.fetchedAt,
      responses: result.responses,
    });
  }

  /** Record a failed poll (skipped by replay). */
  async pollError(marketId: string, at: number, error: unknown): Promise<void> {
    await this.#line({
      type: "poll_error",
      market_id: marketId,
      at,
      error: String((error as Error)?.message ?? error),
    });
  }

  /** Close the current tick at time T. */
  async tick(T: number, marketIds: readonly string[], platform?: Platform): Promise<void> {
    await this.#line({ type: "tick", platform, T, market_ids: marketIds });
  }

  /** Flush and close the file. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#writer.close();
    await this.#done;
  }

  async #line(value: unknown): Promise<void> {
    if (this.#closed) throw new Error("recorder: closed");
    await this.#writer.write(encoder.encode(JSON.stringify(value) + "\n"));
    this.lines++;
  }
}
