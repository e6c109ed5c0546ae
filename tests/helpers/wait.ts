/**
 * Poll for a condition with a deadline — tests never sleep for a fixed time.
 *
 * @example
 * ```ts
 * import { waitFor } from "./wait.ts";
 * let n = 0;
 * await waitFor(() => ++n > 3, { timeoutMs: 1000 });
 * ```
 * @module
 */

/** Options of {@linkcode waitFor}. */
export interface WaitOptions {
  /** Give up after this many milliseconds (default 10 000). */
  timeoutMs?: number;
  /** Poll interval in milliseconds (default 25). */
  intervalMs?: number;
  /** Message of the error thrown on timeout. */
  message?: string;
}

/** Resolve with the first truthy result of `condition`, or throw after the deadline. */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  options: WaitOptions = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  const interval = options.intervalMs ?? 25;
  while (true) {
    const value = await condition();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) {
      throw new Error(`timed out: ${options.message ?? "condition not met"}`);
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}
