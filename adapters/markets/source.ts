/**
 * The market-data source contract shared by the live pollers, the simulator and the replay
 * of a recorded file: an async iterator of ticks. A tick has one platform, a time T (epoch
 * µs, the end of its fetches = every message's `now`) and one {@linkcode SnapshotMessage} per
 * market polled in it. Ticks of one platform never overlap and T increases.
 *
 * Also the raw-response vocabulary the platform clients, the recorder and the replay share.
 *
 * @example
 * ```ts
 * import type { MarketSource } from "./source.ts";
 * async function drain(source: MarketSource) {
 *   for await (const tick of source) console.log(tick.platform, tick.T, tick.messages.length);
 *   await source.close();
 * }
 * ```
 * @module
 */

import type { Platform, SnapshotMessage } from "../../pipeline/models.ts";
import type { PollPriority } from "../../pipeline/scheduler.ts";
import type { RawPoll } from "../../pipeline/normalizer.ts";

/** One poller tick. */
export interface Tick {
  readonly platform: Platform;
  /** Tick time, epoch µs. */
  readonly T: number;
  /** One message per market polled successfully in this tick, sorted by market id. */
  readonly messages: readonly SnapshotMessage[];
}

/** A stream of ticks (live, simulated or replayed). */
export interface MarketSource extends AsyncIterable<Tick> {
  /** Human-readable kind: `live:polymarket`, `simulator:42`, `replay:FILE`. */
  readonly description: string;
  /** Stop producing ticks and release resources; the iterator then ends. Idempotent. */
  close(): Promise<void>;
}

/** A watchlist market as the adapters need it (DOMAIN §3.1). */
export interface WatchedMarket {
  /** Watchlist id (becomes `market_id`). */
  readonly id: string;
  readonly platform: Platform;
  /** Polymarket conditionId / Kalshi ticker. */
  readonly platform_market_id: string;
  readonly poll_priority?: PollPriority;
}

/** Which request of a poll a raw response answers. */
export type ResponseKind = "market" | "book" | "trades";

/** One raw HTTP response as recorded. */
export interface RawResponse {
  readonly kind: ResponseKind;
  readonly url: string;
  /** HTTP status (200, or 404 for "no book"). */
  readonly status: number;
  /** Receive time, epoch µs. */
  readonly received_at: number;
  /** Raw body text. */
  readonly body: string;
}

/** Everything one market's poll fetched. */
export interface PollResult {
  /** Parsed bodies for the normalizer (book/trades null when unavailable). */
  readonly raw: RawPoll;
  /** Receive time of the market payload, epoch µs (the snapshot timestamp). */
  readonly fetchedAt: number;
  /** The raw responses, in request order (for the recorder). */
  readonly responses: readonly RawResponse[];
}

/** A platform API client: one poll of one market. */
export interface PlatformClient {
  readonly platform: Platform;
  /**
   * Fetch market payload, book and trades after `since` (epoch µs). Throws when the market
   * payload cannot be fetched (NotFoundError on 404, RetryExhaustedError, …); a missing book
   * (404) or unavailable trades yield null parts instead.
   */
  fetchPoll(market: WatchedMarket, since: number, signal?: AbortSignal): Promise<PollResult>;
}

/** Rebuild the {@linkcode RawPoll} of recorded responses (404/absent parts → null). */
export function rawPollOf(responses: readonly RawResponse[]): RawPoll {
  const parsed = (kind: ResponseKind): unknown | null => {
    const r = responses.find((x) => x.kind === kind);
    return r && r.status >= 200 && r.status < 300 ? JSON.parse(r.body) : null;
  };
  return { market: parsed("market"), book: parsed("book"), trades: parsed("trades") };
}
