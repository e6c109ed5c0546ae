/**
 * A sleep that ends early when a signal aborts (drain must never wait out a backoff).
 *
 * @example
 * ```ts
 * import { abortableSleep } from "./sleep.ts";
 * await abortableSleep(10, new AbortController().signal);
 * ```
 * @module
 */

/** Resolve after `ms`, or as soon as `signal` aborts. Never rejects. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
