/**
 * Injectable time for the market adapters: the HTTP retry loop, the request budget, the live
 * poller and the replay pacing all read time and sleep through a {@linkcode Clock}, so tests
 * run them on a {@linkcode VirtualClock} where sleeping advances time instantly.
 *
 * @example
 * ```ts
 * import { VirtualClock } from "./clock.ts";
 * const clock = new VirtualClock(1_700_000_000_000);
 * await clock.sleep(1500);
 * console.log(clock.now()); // 1700000001500
 * ```
 * @module
 */

/** A source of wall-clock time (epoch milliseconds) and of sleeping. */
export interface Clock {
  /** Current time in epoch milliseconds (may be fractional). */
  now(): number;
  /** Resolve after `ms` milliseconds of this clock's time (rejects when `signal` aborts). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/**
 * The real clock: `Date.now()` and `setTimeout`.
 *
 * @example
 * ```ts
 * import { systemClock } from "./clock.ts";
 * await systemClock.sleep(1);
 * ```
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, Math.max(0, ms));
      signal?.addEventListener("abort", onAbort, { once: true });
    }),
};

/**
 * A clock whose time moves only when someone sleeps on it or calls {@linkcode advance}.
 * Sleeping advances the time by the requested amount and resolves immediately, so retry
 * back-offs and budget waits of minutes take no real time. Every sleep is recorded.
 *
 * @example
 * ```ts
 * import { VirtualClock } from "./clock.ts";
 * const clock = new VirtualClock(0);
 * await clock.sleep(2000);
 * console.log(clock.sleeps); // [2000]
 * ```
 */
export class VirtualClock implements Clock {
  #now: number;
  /** Every sleep duration requested, in order (milliseconds). */
  readonly sleeps: number[] = [];

  /** Start at `startMs` epoch milliseconds (default 0). */
  constructor(startMs = 0) {
    this.#now = startMs;
  }

  /** Current virtual time in epoch milliseconds. */
  now(): number {
    return this.#now;
  }

  /** Advance the time by `ms` and resolve on the next microtask. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const step = Math.max(0, ms);
    this.sleeps.push(step);
    this.#now += step;
    return Promise.resolve();
  }

  /** Move the time forward by `ms` without recording a sleep. */
  advance(ms: number): void {
    this.#now += Math.max(0, ms);
  }
}
