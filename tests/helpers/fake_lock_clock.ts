/**
 * A lock clock the test moves by hand: wall time is a fixed epoch plus `t`, monotonic time
 * is `t` (milliseconds).
 *
 * @example
 * ```ts
 * import { FakeLockClock } from "./fake_lock_clock.ts";
 * const clock = new FakeLockClock();
 * clock.advance(1500);
 * clock.monotonic(); // 1500
 * ```
 * @module
 */
import type { LockClock } from "../../adapters/lock/types.ts";

/**
 * A {@linkcode LockClock} at `t` ms past 2023-11-14T22:13:20Z; set `t` or call `advance`.
 *
 * @example
 * ```ts
 * import { FakeLockClock } from "./fake_lock_clock.ts";
 * const clock = new FakeLockClock();
 * clock.t = 3000;
 * clock.now(); // 1_700_000_003_000
 * ```
 */
export class FakeLockClock implements LockClock {
  /** Milliseconds since the start. */
  t = 0;
  now(): number {
    return 1_700_000_000_000 + this.t;
  }
  monotonic(): number {
    return this.t;
  }
  /** Move the clock forward by `ms`. */
  advance(ms: number): void {
    this.t += ms;
  }
}
