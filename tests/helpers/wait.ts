/**
 * Wait for a condition with a deadline — tests never sleep for a fixed time.
 *
 * @example
 * ```ts
 * import { waitFor, waitForSettled } from "./wait.ts";
 * let n = 0;
 * await waitFor(() => ++n > 3, { timeoutMs: 1000 });
 * await waitForSettled(Promise.resolve(n), { timeoutMs: 1000 });
 * ```
 * @module
 */

/**
 * Options of {@linkcode waitFor} and {@linkcode waitForSettled}.
 *
 * @example
 * ```ts
 * import type { WaitOptions } from "./wait.ts";
 * const options: WaitOptions = { timeoutMs: 5000, message: "worker started" };
 * ```
 */
export interface WaitOptions {
  /** Give up after this many milliseconds (default 10 000). */
  timeoutMs?: number;
  /** Poll interval in milliseconds (default 25; {@linkcode waitFor} only). */
  intervalMs?: number;
  /** Message of the error thrown on timeout. */
  message?: string;
}

/**
 * The deadline of {@linkcode waitFor} or {@linkcode waitForSettled} passed.
 *
 * @example
 * ```ts
 * import { WaitTimeoutError } from "./wait.ts";
 * const error = new WaitTimeoutError("worker started");
 * error.message; // "timed out: worker started"
 * ```
 */
export class WaitTimeoutError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(`timed out: ${message}`, options);
    this.name = "WaitTimeoutError";
  }
}

/**
 * Resolve with the first truthy result of `condition`, or throw {@linkcode WaitTimeoutError}
 * after the deadline.
 *
 * @example
 * ```ts
 * import { waitFor } from "./wait.ts";
 * const started = Date.now();
 * await waitFor(() => Date.now() - started > 50, { timeoutMs: 1000 });
 * ```
 */
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
      throw new WaitTimeoutError(options.message ?? "condition not met");
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

/**
 * Settle as `promise` does — its value, or its rejection — as soon as it settles, or throw
 * {@linkcode WaitTimeoutError} once the deadline passes (a promise that hangs fails the test
 * instead of hanging it). A rejection after the deadline is ignored.
 *
 * @example
 * ```ts
 * import { waitForSettled } from "./wait.ts";
 * const code = await waitForSettled(Promise.resolve(0), {
 *   timeoutMs: 5000,
 *   message: "the process did not exit",
 * });
 * ```
 */
export async function waitForSettled<T>(
  promise: Promise<T>,
  options: Omit<WaitOptions, "intervalMs"> = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new WaitTimeoutError(options.message ?? `not settled within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  promise.catch(() => {}); // settling after the deadline is not an unhandled rejection
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
