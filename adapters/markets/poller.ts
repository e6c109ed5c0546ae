/**
 * Live poller source: drives one platform's {@linkcode PlatformClient} with the adaptive
 * {@linkcode PollingScheduler} and yields one tick per polling round. T (epoch µs) is the
 * clock time at the end of the round's fetches and is every message's `now`. A poll that fails
 * after retries, or whose payload does not normalize, is counted, logged and skipped (a gap
 * for the feature stage); the scheduler sees the failure (demotion, removal, delisting).
 * Optional {@linkcode Recorder} gets every raw poll and tick boundary. Scheduler events go to
 * `onEvent` (publish them on `augur.ops.events`); feed back features and signals with
 * {@linkcode LivePollerSource.observeFeatures} / {@linkcode LivePollerSource.recordSignal}.
 *
 * @example
 * ```ts
 * import { LivePollerSource } from "./poller.ts";
 * import { PolymarketClient } from "./polymarket_client.ts";
 * const source = new LivePollerSource({
 *   client: new PolymarketClient(),
 *   markets: [{ id: "m1", platform: "polymarket", platform_market_id: "0xabc" }],
 *   once: true,
 * });
 * for await (const tick of source) console.log(tick.T, tick.messages.length);
 * ```
 * @module
 */

import type { SnapshotMessage } from "../../pipeline/models.ts";
import { MarketNotFoundError, normalizePoll } from "../../pipeline/normalizer.ts";
import {
  PollingScheduler,
  type SchedulerConfig,
  type SchedulerEvent,
} from "../../pipeline/scheduler.ts";
import { defaultRegistry, type MetricsRegistry } from "../observability/metrics.ts";
import { createLogger, type Logger } from "../observability/logger.ts";
import { type Clock, systemClock } from "./clock.ts";
import { NotFoundError, RetryExhaustedError } from "./http.ts";
import type { Recorder } from "./recorder.ts";
import {
  type MarketSource,
  type PlatformClient,
  type PollResult,
  rawPollOf,
  type Tick,
  type WatchedMarket,
} from "./source.ts";

/** Options of {@linkcode LivePollerSource}. */
export interface LivePollerOptions {
  client: PlatformClient;
  /** Active watchlist markets of this platform. */
  markets: readonly WatchedMarket[];
  /** Scheduler settings (intervals, hysteresis, caps, failure limits). */
  scheduler?: Partial<SchedulerConfig>;
  /** Initial trade look-back, seconds (default 300). */
  tradeLookbackS?: number;
  /** Markets fetched concurrently within a round (default 4; the budget paces them). */
  concurrency?: number;
  /** Stop after one round (`--once`). */
  once?: boolean;
  /** Record raw polls and ticks. */
  recorder?: Recorder;
  /** Receives scheduler events (ops events). */
  onEvent?: (event: SchedulerEvent) => void;
  clock?: Clock;
  registry?: MetricsRegistry;
  logger?: Logger;
}

/**
 * The live {@linkcode MarketSource} of one platform.
 *
 * @example
 * ```ts
 * import { LivePollerSource } from "./poller.ts";
 * import { KalshiClient } from "./kalshi_client.ts";
 * const src = new LivePollerSource({ client: new KalshiClient(), markets: [] });
 * await src.close();
 * ```
 */
export class LivePollerSource implements MarketSource {
  readonly description: string;
  readonly scheduler: PollingScheduler;
  readonly #o: LivePollerOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #markets = new Map<string, WatchedMarket>();
  readonly #since = new Map<string, number>();
  readonly #abort = new AbortController();
  readonly #metrics;

  constructor(options: LivePollerOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.description = `live:${options.client.platform}`;
    this.#log = options.logger ??
      createLogger({ component: `markets.poller.${options.client.platform}` });
    const now = this.#micros();
    for (const m of options.markets) this.#markets.set(m.id, m);
    this.scheduler = new PollingScheduler(
      options.client.platform,
      options.markets.map((m) => ({ id: m.id, pollPriority: m.poll_priority })),
      { now, config: options.scheduler },
    );
    const registry = options.registry ?? defaultRegistry;
    this.#metrics = {
      polls: registry.counter("augur_market_polls_total", "Market polls by outcome.", [
        "platform",
        "outcome",
      ]),
      normalizeErrors: registry.counter(
        "augur_market_normalize_errors_total",
        "Polls whose payload did not normalize, by platform and field.",
        ["platform", "field"],
      ),
      events: registry.counter("augur_market_scheduler_events_total", "Scheduler events.", [
        "platform",
        "type",
      ]),
      utilization: registry.gauge(
        "augur_market_budget_utilization",
        "Planned request rate / platform cap.",
        ["platform"],
      ),
    };
  }

  /** Feed back a market's latest volume_ratio_1h. */
  observeFeatures(marketId: string, volumeRatio1h: number): void {
    this.scheduler.observeFeatures(marketId, volumeRatio1h);
  }

  /** Feed back a signal on a market (keeps it hot for 4 h). */
  recordSignal(marketId: string, at: number): void {
    this.scheduler.recordSignal(marketId, at);
  }

  close(): Promise<void> {
    if (!this.#abort.signal.aborted) this.#abort.abort(new Error("poller closed"));
    return Promise.resolve();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Tick> {
    const platform = this.#o.client.platform;
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      const now = this.#micros();
      this.#emit(this.scheduler.applyBudget(now));
      this.#metrics.utilization.set({ platform }, this.scheduler.utilization());
      const due = this.scheduler.due(now);
      if (due.length === 0) {
        const next = this.scheduler.nextDueAt();
        if (next === null) return;
        try {
          await this.#clock.sleep(Math.max(1, (next - now) / 1000), signal);
        } catch {
          return;
        }
        continue;
      }
      const results = await this.#fetchAll(due, now, signal);
      if (signal.aborted) return;
      const T = Math.max(this.#micros(), now);
      const messages: SnapshotMessage[] = [];
      let networkFailures = 0;
      for (const [id, since, outcome] of results) {
        const market = this.#markets.get(id)!;
        if ("error" in outcome) {
          const error = outcome.error;
          if (error instanceof RetryExhaustedError) networkFailures++;
          this.#metrics.polls.inc({ platform, outcome: "failed" });
          this.#log.warn("poll failed; tick skipped for market", { market_id: id, error });
          await this.#o.recorder?.pollError(id, T, error);
          this.#emit(
            this.scheduler.recordFailure(id, T, {
              notFound: error instanceof NotFoundError || error instanceof MarketNotFoundError,
            }),
          );
          continue;
        }
        await this.#o.recorder?.poll(market, since, outcome.result);
        try {
          const message = normalizePoll(rawPollOf(outcome.result.responses), {
            platform,
            marketId: id,
            platformMarketId: market.platform_market_id,
            // The snapshot time is the tick time T (DESIGN §10: T = every snapshot's `now`), so a
            // tick's snapshots are countable in the store (context waits for complete ticks).
            fetchedAt: T,
            now: T,
            since,
          });
          messages.push(message);
          let newest = since;
          for (const t of message.trades) newest = Math.max(newest, t.timestamp);
          this.#since.set(id, newest);
          this.#metrics.polls.inc({ platform, outcome: "ok" });
          this.#emit(
            this.scheduler.recordSuccess(id, T, { closesAt: message.snapshot.closes_at }),
          );
        } catch (error) {
          const field = (error as { field?: string }).field ?? "unknown";
          this.#metrics.normalizeErrors.inc({ platform, field });
          this.#metrics.polls.inc({ platform, outcome: "malformed" });
          this.#log.warn("payload does not normalize; market skipped this tick", {
            market_id: id,
            error,
          });
          this.#emit(
            this.scheduler.recordFailure(id, T, {
              notFound: error instanceof MarketNotFoundError,
            }),
          );
        }
      }
      if (networkFailures >= 2 && networkFailures === results.length) {
        this.#emit(this.scheduler.recordOutage(T));
      }
      await this.#o.recorder?.tick(T, messages.map((m) => m.snapshot.market_id), platform);
      yield { platform, T, messages };
      if (this.#o.once) return;
    }
  }

  async #fetchAll(
    ids: string[],
    now: number,
    signal: AbortSignal,
  ): Promise<[string, number, { result: PollResult } | { error: unknown }][]> {
    const lookback = (this.#o.tradeLookbackS ?? 300) * 1_000_000;
    const out: [string, number, { result: PollResult } | { error: unknown }][] = ids.map((id) => [
      id,
      this.#since.get(id) ?? now - lookback,
      { error: null },
    ]);
    let next = 0;
    const worker = async () => {
      while (next < out.length && !signal.aborted) {
        const slot = out[next++];
        const market = this.#markets.get(slot[0])!;
        try {
          slot[2] = { result: await this.#o.client.fetchPoll(market, slot[1], signal) };
        } catch (error) {
          slot[2] = { error };
        }
      }
    };
    const n = Math.max(1, Math.min(this.#o.concurrency ?? 4, ids.length));
    await Promise.all(Array.from({ length: n }, worker));
    return out;
  }

  #emit(events: SchedulerEvent[]): void {
    for (const event of events) {
      this.#metrics.events.inc({ platform: this.#o.client.platform, type: event.type });
      if (event.type !== "tier_changed") this.#log.warn("scheduler event", { event });
      this.#o.onEvent?.(event);
    }
  }

  #micros(): number {
    return Math.round(this.#clock.now() * 1000);
  }
}
