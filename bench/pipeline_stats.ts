/**
 * Arithmetic of the distributed benchmark: nearest-rank percentiles; when the data behind a
 * stored row had been published, from the bus's own timestamps of each poller tick; the
 * pollers' publish rate and the pipeline's throughput.
 *
 * @example
 * ```ts
 * import { summarize, TickTimes } from "./pipeline_stats.ts";
 * const ticks = new TickTimes([
 *   { platform: "polymarket", t: 300, announced: 5, publishedAtMs: 1_000 },
 *   { platform: "kalshi", t: 300, announced: 5, publishedAtMs: 1_040 },
 * ]);
 * ticks.publishedAt("kalshi", 300); // 1040
 * ticks.dataPublishedAt(300); // 1040: both platforms had published tick 300
 * summarize([5, 1, 3]); // { n: 3, p50: 3, p99: 5, max: 5 }
 * ```
 * @module
 */

/**
 * The nearest-rank percentile (`q` in [0, 1]) of `values`: the smallest value with at least
 * q × n values at or below it. NaN for no values.
 *
 * @example
 * ```ts
 * import { percentile } from "./pipeline_stats.ts";
 * percentile([40, 10, 30, 20], 0.5); // 20
 * percentile([40, 10, 30, 20], 0.99); // 40
 * ```
 */
export function percentile(values: readonly number[], q: number): number {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`q: expected a value in [0, 1], received ${q}`);
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1];
}

/** Count, median, 99th percentile and maximum of a sample. */
export interface LatencySummary {
  readonly n: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/**
 * {@linkcode LatencySummary} of `values` (NaN figures when empty).
 *
 * @example
 * ```ts
 * import { summarize } from "./pipeline_stats.ts";
 * summarize(Array.from({ length: 100 }, (_, i) => i + 1)); // { n: 100, p50: 50, p99: 99, max: 100 }
 * ```
 */
export function summarize(values: readonly number[]): LatencySummary {
  return {
    n: values.length,
    p50: percentile(values, 0.5),
    p99: percentile(values, 0.99),
    max: values.length ? values.reduce((a, b) => Math.max(a, b), -Infinity) : NaN,
  };
}

/** One poller tick as the bus stored it: platform, data time T (µs) and the server's time. */
export interface TickPublication {
  readonly platform: string;
  /** Tick time T, epoch µs (data time). */
  readonly t: number;
  /** Snapshots the tick announced. */
  readonly announced: number;
  /** When the bus server stored the tick announcement, epoch ms (wall time). */
  readonly publishedAtMs: number;
}

/**
 * When each poller tick was published (a poller announces tick T after every snapshot of it
 * is acknowledged), and from that when the data behind a stored row was.
 *
 * @example
 * ```ts
 * import { TickTimes } from "./pipeline_stats.ts";
 * const ticks = new TickTimes([{ platform: "kalshi", t: 600, announced: 1, publishedAtMs: 9 }]);
 * ticks.dataPublishedAt(450); // 9: a divergence grid point between ticks waits for the next one
 * ```
 */
export class TickTimes {
  readonly #byPlatform = new Map<string, TickPublication[]>();

  constructor(ticks: Iterable<TickPublication>) {
    for (const tick of ticks) {
      const list = this.#byPlatform.get(tick.platform) ?? [];
      list.push(tick);
      this.#byPlatform.set(tick.platform, list);
    }
    for (const list of this.#byPlatform.values()) list.sort((a, b) => a.t - b.t);
  }

  /** Platforms seen. */
  get platforms(): string[] {
    return [...this.#byPlatform.keys()].sort();
  }

  /** Every tick of `platform`, by T. */
  ticksOf(platform: string): readonly TickPublication[] {
    return this.#byPlatform.get(platform) ?? [];
  }

  /** Publish time (ms) of `platform`'s tick T, or undefined. */
  publishedAt(platform: string, t: number): number | undefined {
    const list = this.#byPlatform.get(platform);
    const i = list ? firstAtOrAfter(list, t) : -1;
    return i >= 0 && list![i].t === t ? list![i].publishedAtMs : undefined;
  }

  /**
   * When every platform had published the data a signal detected at `detectedAt` (µs) rests
   * on: per platform its first tick with T ≥ detectedAt, the latest of those (dedup closes a
   * data-time window only once every platform has passed it). Undefined when no platform has
   * such a tick.
   */
  dataPublishedAt(detectedAt: number): number | undefined {
    let latest: number | undefined;
    for (const list of this.#byPlatform.values()) {
      const i = firstAtOrAfter(list, detectedAt);
      if (i >= 0) latest = Math.max(latest ?? -Infinity, list[i].publishedAtMs);
    }
    return latest;
  }

  /**
   * When every platform had published its tick number `index` (0 = first): the latest of
   * those publish times; undefined when a platform has fewer ticks.
   */
  allPublishedAt(index: number): number | undefined {
    let latest: number | undefined;
    for (const list of this.#byPlatform.values()) {
      if (index < 0 || index >= list.length) return undefined;
      latest = Math.max(latest ?? -Infinity, list[index].publishedAtMs);
    }
    return latest;
  }

  /**
   * Snapshots per second the pollers published: per platform, what its ticks after the first
   * announced over the time from its first to its last tick, summed (NaN without two ticks).
   */
  publishRate(): number {
    let rate = 0;
    for (const list of this.#byPlatform.values()) {
      const seconds = (list[list.length - 1].publishedAtMs - list[0].publishedAtMs) / 1000;
      if (list.length < 2 || !(seconds > 0)) return NaN;
      rate += list.slice(1).reduce((sum, t) => sum + t.announced, 0) / seconds;
    }
    return this.#byPlatform.size ? rate : NaN;
  }
}

/**
 * Rows per second a pipeline delivered: `storedMs.length` rows from `fromMs` (when their
 * input began to be published) to the last of them stored. Insensitive to a constant
 * latency; when the pipeline falls behind, it is the pace at which it worked the backlog
 * off. NaN when nothing was stored after `fromMs`.
 *
 * @example
 * ```ts
 * import { throughputSince } from "./pipeline_stats.ts";
 * throughputSince(1_000, [1_500, 2_000, 3_000]); // 1.5 (3 rows in 2 s)
 * ```
 */
export function throughputSince(fromMs: number, storedMs: readonly number[]): number {
  const last = storedMs.reduce((a, b) => Math.max(a, b), -Infinity);
  return last > fromMs ? storedMs.length / ((last - fromMs) / 1000) : NaN;
}

/** Index of the first tick with T ≥ t in a T-sorted list, or −1. */
function firstAtOrAfter(list: readonly TickPublication[], t: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid].t < t) lo = mid + 1;
    else hi = mid;
  }
  return lo < list.length ? lo : -1;
}
