/**
 * In-process DistributedLock with an injectable clock. Several {@linkcode MemoryLock}
 * instances sharing one {@linkcode MemoryLockStore} behave like several processes sharing one
 * lock server (the store keeps the token counters, so they "survive" a lock instance's
 * restart).
 *
 * @example
 * ```ts
 * import { MemoryLock, MemoryLockStore } from "./memory_lock.ts";
 * const store = new MemoryLockStore();
 * const a = new MemoryLock({ store });
 * const b = new MemoryLock({ store });
 * const lease = await a.acquire("dedup", "a", { ttlMs: 1000 });
 * console.log(lease?.token, await b.acquire("dedup", "b", { ttlMs: 1000 })); // 1 null
 * ```
 * @module
 */
import {
  type AcquireOptions,
  type DistributedLock,
  type Lease,
  type LockClock,
  type LockHolder,
  systemClock,
  validateLockArgs,
} from "./types.ts";

interface Entry {
  holder: string;
  token: number;
  acquiredAtMs: number;
  expiresAtMs: number;
  revision: number;
}

/**
 * The shared state of memory locks: live keys and per-name token counters.
 *
 * @example
 * ```ts
 * import { MemoryLock, MemoryLockStore } from "./memory_lock.ts";
 * const store = new MemoryLockStore();
 * const [a, b] = [new MemoryLock({ store }), new MemoryLock({ store })];
 * ```
 */
export class MemoryLockStore {
  /** Live (possibly expired, checked lazily) keys by name. */
  readonly entries: Map<string, Entry> = new Map();
  /** Last token handed out per name; never reset. */
  readonly counters: Map<string, number> = new Map();
  /** Global write counter (plays the role of a KV revision). */
  revision = 0;
}

/** Options of {@linkcode MemoryLock}. */
export interface MemoryLockOptions {
  /** Shared state; a fresh one when omitted. */
  store?: MemoryLockStore;
  /** Clock for expiry and timestamps (default: the system clock). */
  clock?: LockClock;
}

/**
 * A DistributedLock kept in memory.
 *
 * @example
 * ```ts
 * import { MemoryLock } from "./memory_lock.ts";
 * const lock = new MemoryLock({ clock: { now: () => 0, monotonic: () => 0 } });
 * const lease = await lock.acquire("dedup", "a", { ttlMs: 1000 });
 * ```
 */
export class MemoryLock implements DistributedLock {
  readonly backend = "memory";
  readonly #store: MemoryLockStore;
  readonly #clock: LockClock;

  constructor(options: MemoryLockOptions = {}) {
    this.#store = options.store ?? new MemoryLockStore();
    this.#clock = options.clock ?? systemClock;
  }

  #live(name: string): Entry | undefined {
    const entry = this.#store.entries.get(name);
    if (entry && entry.expiresAtMs <= this.#clock.now()) {
      this.#store.entries.delete(name);
      return undefined;
    }
    return entry;
  }

  #lease(name: string, entry: Entry, ttlMs: number, sentAt: number): Lease {
    return {
      name,
      holder: entry.holder,
      token: entry.token,
      acquiredAtMs: entry.acquiredAtMs,
      expiresAtMs: entry.expiresAtMs,
      ttlMs,
      sentAtMonotonicMs: sentAt,
      revision: entry.revision,
    };
  }

  acquire(name: string, holder: string, options: AcquireOptions): Promise<Lease | null> {
    validateLockArgs(name, options.ttlMs);
    const sentAt = this.#clock.monotonic();
    if (this.#live(name)) return Promise.resolve(null);
    const token = (this.#store.counters.get(name) ?? 0) + 1;
    this.#store.counters.set(name, token);
    const now = this.#clock.now();
    const entry: Entry = {
      holder,
      token,
      acquiredAtMs: now,
      expiresAtMs: now + options.ttlMs,
      revision: ++this.#store.revision,
    };
    this.#store.entries.set(name, entry);
    return Promise.resolve(this.#lease(name, entry, options.ttlMs, sentAt));
  }

  renew(lease: Lease): Promise<Lease | null> {
    const sentAt = this.#clock.monotonic();
    const entry = this.#live(lease.name);
    if (!entry || entry.holder !== lease.holder || entry.token !== lease.token) {
      return Promise.resolve(null);
    }
    entry.expiresAtMs = this.#clock.now() + lease.ttlMs;
    entry.revision = ++this.#store.revision;
    return Promise.resolve(this.#lease(lease.name, entry, lease.ttlMs, sentAt));
  }

  release(lease: Lease): Promise<boolean> {
    const entry = this.#live(lease.name);
    if (!entry || entry.holder !== lease.holder || entry.token !== lease.token) {
      return Promise.resolve(false);
    }
    this.#store.entries.delete(lease.name);
    return Promise.resolve(true);
  }

  holder(name: string): Promise<LockHolder | null> {
    validateLockArgs(name);
    const entry = this.#live(name);
    return Promise.resolve(entry ? this.#describe(name, entry) : null);
  }

  list(): Promise<LockHolder[]> {
    const names = [...this.#store.entries.keys()].sort();
    const out: LockHolder[] = [];
    for (const name of names) {
      const entry = this.#live(name);
      if (entry) out.push(this.#describe(name, entry));
    }
    return Promise.resolve(out);
  }

  forceRelease(name: string): Promise<LockHolder | null> {
    validateLockArgs(name);
    const entry = this.#live(name);
    if (!entry) return Promise.resolve(null);
    this.#store.entries.delete(name);
    return Promise.resolve(this.#describe(name, entry));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  #describe(name: string, entry: Entry): LockHolder {
    return {
      name,
      holder: entry.holder,
      token: entry.token,
      acquiredAtMs: entry.acquiredAtMs,
      expiresAtMs: entry.expiresAtMs,
      observedAtMs: this.#clock.now(),
    };
  }
}
