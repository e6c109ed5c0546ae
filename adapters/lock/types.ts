/**
 * The DistributedLock contract: named leases with a fencing token that strictly increases
 * across holders and survives restarts of the lock backend (DESIGN §5.4, §10).
 *
 * Backends: memory (tests, embedded engine), NATS KV, Redis. Every backend follows the same
 * rules:
 * - `acquire` succeeds only when no live key exists for the name — even when the live key
 *   carries the caller's own holder name (a restarted process never inherits a lease; it
 *   waits until the old key expires).
 * - `renew` and `release` act only when the backend still holds exactly this lease (same
 *   holder AND token / revision); a stale holder gets `null` / `false`.
 * - `forceRelease` removes the key but never resets the token counter.
 *
 * @example
 * ```ts
 * import type { DistributedLock } from "./types.ts";
 * async function once(lock: DistributedLock): Promise<void> {
 *   const lease = await lock.acquire("dedup", "replica-a", { ttlMs: 30_000 });
 *   if (lease) await lock.release(lease);
 * }
 * ```
 * @module
 */
import { AugurError } from "../../config/errors.ts";

/** A fencing token: strictly increasing across successive holders of one lock name. */
export type FencingToken = number;

/** A lease held by one holder; pass it back to `renew` / `release`. */
export interface Lease {
  /** Lock name, e.g. `dedup` or `part.feature.07`. */
  readonly name: string;
  /** Holder identity (replica id). */
  readonly holder: string;
  /** Fencing token of this tenure (unchanged by renewals). */
  readonly token: FencingToken;
  /** Epoch milliseconds (backend clock where it has one) of the winning acquire. */
  readonly acquiredAtMs: number;
  /** Epoch milliseconds at which the backend lets the key expire unless renewed. */
  readonly expiresAtMs: number;
  /** Time to live requested, in milliseconds. */
  readonly ttlMs: number;
  /**
   * Monotonic-clock milliseconds at which the acquire / renew that produced this lease was
   * SENT. The lease is safe to act on until `sentAtMonotonicMs + ttlMs − margin`
   * (see {@linkcode leaseDeadline} in lease_keeper.ts).
   */
  readonly sentAtMonotonicMs: number;
  /** Backend revision (NATS KV revision, used by renew/release; memory: write counter; redis: renew count). */
  readonly revision: number;
}

/** What `holder(name)` and `list()` report about a held lock. */
export interface LockHolder {
  readonly name: string;
  readonly holder: string;
  readonly token: FencingToken;
  /** Epoch milliseconds of the winning acquire. */
  readonly acquiredAtMs: number;
  /** Epoch milliseconds at which the key expires unless renewed. */
  readonly expiresAtMs: number;
  /** Epoch milliseconds of the backend's "now" when this was read (for age / ttl left). */
  readonly observedAtMs: number;
}

/** Options of `acquire`. */
export interface AcquireOptions {
  /** Lease time to live in milliseconds. */
  ttlMs: number;
}

/** A clock: wall time for timestamps, monotonic time for deadlines. Injectable in tests. */
export interface LockClock {
  /** Epoch milliseconds. */
  now(): number;
  /** Monotonic milliseconds (never jumps backwards). */
  monotonic(): number;
}

/**
 * The real clock: `Date.now()` and `performance.now()`.
 *
 * @example
 * ```ts
 * import { systemClock } from "./types.ts";
 * const deadline = systemClock.monotonic() + 30_000;
 * ```
 */
export const systemClock: LockClock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
};

/** A distributed lock backend. */
export interface DistributedLock {
  /** Backend name: `memory`, `nats` or `redis`. */
  readonly backend: string;
  /** Take the lock when free; `null` when someone (including a previous "us") holds it. */
  acquire(name: string, holder: string, options: AcquireOptions): Promise<Lease | null>;
  /** Extend the lease; `null` when it was lost (expired, taken over, force-released). */
  renew(lease: Lease): Promise<Lease | null>;
  /** Release a lease we hold; `false` (and nothing removed) when we no longer hold it. */
  release(lease: Lease): Promise<boolean>;
  /** The current holder of `name`, or `null` when free. */
  holder(name: string): Promise<LockHolder | null>;
  /** Every held lock, sorted by name. */
  list(): Promise<LockHolder[]>;
  /** Remove the lock whoever holds it (operator recovery); returns what was removed. */
  forceRelease(name: string): Promise<LockHolder | null>;
  /** Close connections owned by this lock. */
  close(): Promise<void>;
}

/**
 * A lock operation was misused (bad name, bad TTL, TTL other than the NATS bucket's).
 * Unreachable backends raise `ConnectionError` instead.
 *
 * @example
 * ```ts
 * import { LockError } from "./types.ts";
 * try { throw new LockError("bad lock name"); } catch (e) { console.log((e as Error).name); }
 * ```
 */
export class LockError extends AugurError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "LockError";
  }
}

const NAME_PATTERN = /^[A-Za-z0-9_\-=]+(\.[A-Za-z0-9_\-=]+)*$/;

/**
 * Check a lock name (dot-separated tokens of `[A-Za-z0-9_-=]`, valid as a NATS KV key and a
 * Redis key part) and a positive TTL; throws {@linkcode LockError} otherwise.
 *
 * @example
 * ```ts
 * import { validateLockArgs } from "./types.ts";
 * validateLockArgs("part.feature.07", 30_000);
 * ```
 */
export function validateLockArgs(name: string, ttlMs?: number): void {
  if (!NAME_PATTERN.test(name)) {
    throw new LockError(
      `lock name must be dot-separated tokens of [A-Za-z0-9_-=], got ${JSON.stringify(name)}`,
    );
  }
  if (ttlMs !== undefined && (!Number.isFinite(ttlMs) || ttlMs < 1)) {
    throw new LockError(`lock ttlMs must be a positive number of milliseconds, got ${ttlMs}`);
  }
}
