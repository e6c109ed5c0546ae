/**
 * Keeping a lease alive, and knowing locally when to stop acting on it (DESIGN §5.4, §10).
 *
 * The active holder may act only until its LOCAL deadline = send time (monotonic clock) of
 * the last successful renew + ttl − margin. The deadline holds even when the lock backend is
 * unreachable: a renew that errors or hangs never extends it, so a partitioned active stops
 * before the backend lets another holder in.
 *
 * @example
 * ```ts
 * import { LeaseKeeper } from "./lease_keeper.ts";
 * import { MemoryLock } from "./memory_lock.ts";
 * const lock = new MemoryLock();
 * const lease = await lock.acquire("dedup", "a", { ttlMs: 3000 });
 * const keeper = new LeaseKeeper(lock, lease!, {
 *   renewIntervalMs: 1000,
 *   marginMs: 500,
 *   onLost: (reason) => console.log("stop acting:", reason),
 * });
 * keeper.start();
 * if (keeper.isValid()) console.log("act with token", keeper.lease.token);
 * await keeper.release();
 * ```
 * @module
 */
import { defaultRegistry, type MetricsRegistry } from "../observability/metrics.ts";
import { createLogger, type Logger } from "../observability/logger.ts";
import { type DistributedLock, type Lease, type LockClock, systemClock } from "./types.ts";

/**
 * The local deadline of a lease: last successful renew SEND time (monotonic ms) + ttl − margin.
 *
 * @example
 * ```ts
 * import { leaseDeadline } from "./lease_keeper.ts";
 * leaseDeadline(1_000, 30_000, 2_000); // 29_000
 * ```
 */
export function leaseDeadline(
  lastRenewSentAtMonotonicMs: number,
  ttlMs: number,
  marginMs: number,
): number {
  return lastRenewSentAtMonotonicMs + ttlMs - marginMs;
}

/** Why a lease stopped being valid. */
export type LeaseLostReason =
  /** The backend said we no longer hold it (expired, taken over, force-released). */
  | "lost"
  /** The local deadline passed without a successful renew (backend slow or unreachable). */
  | "deadline"
  /** `stop()` / `release()` was called. */
  | "stopped";

/** Options of {@linkcode LeaseKeeper}. */
export interface LeaseKeeperOptions {
  /** Renew every this many milliseconds (bus.lock.renew_interval_seconds). */
  renewIntervalMs: number;
  /** Safety margin subtracted from the ttl (bus.lock.margin_seconds). */
  marginMs: number;
  /** Called once when the lease becomes invalid ("lost" or "deadline"). */
  onLost?: (reason: LeaseLostReason, lease: Lease) => void;
  /** Called after every successful renew. */
  onRenewed?: (lease: Lease) => void;
  /** Monotonic clock for deadlines (default: the system clock). */
  clock?: LockClock;
  /** Metrics registry (default: the process registry). */
  registry?: MetricsRegistry;
  /** Logger (default: component "lock"). */
  logger?: Logger;
}

/**
 * Keeps a lease: renews it every `renewIntervalMs`, tracks the local deadline, and calls `onLost` the
 * moment the lease can no longer be trusted. Once lost, a keeper never becomes valid again:
 * the owner must acquire a new lease (with a new token).
 *
 * @example
 * ```ts
 * import { LeaseKeeper } from "./lease_keeper.ts";
 * import { MemoryLock } from "./memory_lock.ts";
 * const lock = new MemoryLock();
 * const lease = (await lock.acquire("llm", "a", { ttlMs: 30_000 }))!;
 * const keeper = new LeaseKeeper(lock, lease, { renewIntervalMs: 10_000, marginMs: 2_000 });
 * keeper.start();
 * await keeper.release();
 * ```
 */
export class LeaseKeeper {
  readonly #lock: DistributedLock;
  readonly #options: LeaseKeeperOptions;
  readonly #clock: LockClock;
  readonly #log: Logger;
  readonly #renewErrors;
  readonly #lostTotal;
  #lease: Lease;
  #deadline: number;
  #lostReason: LeaseLostReason | undefined;
  #renewTimer: ReturnType<typeof setInterval> | undefined;
  #deadlineTimer: ReturnType<typeof setTimeout> | undefined;
  #inFlight: Promise<boolean> | undefined;

  constructor(lock: DistributedLock, lease: Lease, options: LeaseKeeperOptions) {
    if (!(options.renewIntervalMs > 0)) {
      throw new RangeError(`renewIntervalMs must be > 0, got ${options.renewIntervalMs}`);
    }
    if (!(options.marginMs >= 0) || options.marginMs >= lease.ttlMs) {
      throw new RangeError(
        `marginMs must be in [0, ttl ${lease.ttlMs}), got ${options.marginMs}`,
      );
    }
    this.#lock = lock;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.logger ?? createLogger({ component: "lock" });
    const registry = options.registry ?? defaultRegistry;
    this.#renewErrors = registry.counter(
      "augur_lock_renew_errors_total",
      "Lease renewals that failed with an error (backend unreachable or slow); retried.",
      ["backend"],
    );
    this.#lostTotal = registry.counter(
      "augur_lock_lost_total",
      "Leases that stopped being valid, by reason (lost, deadline).",
      ["backend", "reason"],
    );
    this.#lease = lease;
    this.#deadline = leaseDeadline(lease.sentAtMonotonicMs, lease.ttlMs, options.marginMs);
  }

  /** The current lease (updated by each successful renew; the token never changes). */
  get lease(): Lease {
    return this.#lease;
  }

  /** Monotonic-clock deadline after which the holder must not act. */
  get deadline(): number {
    return this.#deadline;
  }

  /** Why the lease is no longer valid, or undefined while valid. */
  get lostReason(): LeaseLostReason | undefined {
    return this.#lostReason;
  }

  /** True while the lease may be acted on at monotonic time `nowMonotonic`. */
  isValid(nowMonotonic: number = this.#clock.monotonic()): boolean {
    if (this.#lostReason !== undefined) return false;
    if (nowMonotonic >= this.#deadline) {
      this.#lose("deadline");
      return false;
    }
    return true;
  }

  /** Start the renew loop and the deadline timer. */
  start(): void {
    if (this.#lostReason !== undefined || this.#renewTimer !== undefined) return;
    this.#renewTimer = setInterval(() => {
      this.renewNow().catch(() => {});
    }, this.#options.renewIntervalMs);
    this.#armDeadline();
  }

  /**
   * Renew once now (the loop calls this; tests on a fake clock call it directly). Resolves
   * true when the lease is still valid afterwards. Concurrent calls share one request.
   */
  renewNow(): Promise<boolean> {
    if (this.#lostReason !== undefined) return Promise.resolve(false);
    if (this.#inFlight) return this.#inFlight;
    this.#inFlight = this.#renew().finally(() => this.#inFlight = undefined);
    return this.#inFlight;
  }

  async #renew(): Promise<boolean> {
    const before = this.#lease;
    let renewed: Lease | null;
    try {
      renewed = await this.#lock.renew(before);
    } catch (error) {
      this.#renewErrors.inc({ backend: this.#lock.backend });
      this.#log.warn("lease renew failed; will retry until the local deadline", {
        lock: before.name,
        token: before.token,
        error: error instanceof Error ? error.message : String(error),
        ms_to_deadline: Math.round(this.#deadline - this.#clock.monotonic()),
      });
      return this.isValid();
    }
    if (this.#lostReason !== undefined) return false;
    if (renewed === null) {
      this.#lose("lost");
      return false;
    }
    this.#lease = renewed;
    // A renew only extends the deadline from the moment it was SENT.
    this.#deadline = Math.max(
      this.#deadline,
      leaseDeadline(renewed.sentAtMonotonicMs, renewed.ttlMs, this.#options.marginMs),
    );
    if (!this.isValid()) return false;
    this.#armDeadline();
    this.#options.onRenewed?.(renewed);
    return true;
  }

  /** Stop renewing (the lease stays in the backend until it expires or is released). */
  stop(): void {
    this.#clearTimers();
    if (this.#lostReason === undefined) this.#lostReason = "stopped";
  }

  /** Stop renewing and release the lease; true when the backend removed our key. */
  async release(): Promise<boolean> {
    this.stop();
    await this.#inFlight?.catch(() => {});
    return await this.#lock.release(this.#lease);
  }

  #armDeadline(): void {
    if (this.#renewTimer === undefined) return; // not started: checked lazily by isValid()
    if (this.#deadlineTimer !== undefined) clearTimeout(this.#deadlineTimer);
    const wait = Math.max(0, this.#deadline - this.#clock.monotonic());
    this.#deadlineTimer = setTimeout(() => {
      this.#deadlineTimer = undefined;
      this.isValid();
    }, Math.ceil(wait) + 1);
  }

  #clearTimers(): void {
    if (this.#renewTimer !== undefined) clearInterval(this.#renewTimer);
    if (this.#deadlineTimer !== undefined) clearTimeout(this.#deadlineTimer);
    this.#renewTimer = undefined;
    this.#deadlineTimer = undefined;
  }

  #lose(reason: "lost" | "deadline"): void {
    if (this.#lostReason !== undefined) return;
    this.#lostReason = reason;
    this.#clearTimers();
    this.#lostTotal.inc({ backend: this.#lock.backend, reason });
    this.#log.warn("lease no longer valid; stop acting", {
      lock: this.#lease.name,
      holder: this.#lease.holder,
      token: this.#lease.token,
      reason,
    });
    this.#options.onLost?.(reason, this.#lease);
  }
}
