import { assert, assertEquals, assertThrows } from "../../../helpers/assert.ts";
import { FakeLockClock } from "../../../helpers/fake_lock_clock.ts";
import { waitFor } from "../../../helpers/wait.ts";
import { MemoryLock, MemoryLockStore } from "../../../../adapters/lock/memory_lock.ts";
import {
  leaseDeadline,
  LeaseKeeper,
  type LeaseLostReason,
} from "../../../../adapters/lock/lease_keeper.ts";
import type { DistributedLock, Lease } from "../../../../adapters/lock/types.ts";
import { MetricsRegistry } from "../../../../adapters/observability/metrics.ts";
import { createLogger } from "../../../../adapters/observability/logger.ts";

const quiet = createLogger({ component: "lock-test", sink: () => {} });

/** A lock whose backend can be made unreachable. */
class FlakyLock implements DistributedLock {
  readonly backend = "flaky";
  down = false;
  constructor(readonly inner: DistributedLock) {}
  #check(): void {
    if (this.down) throw new Error("backend unreachable");
  }
  acquire(...args: Parameters<DistributedLock["acquire"]>) {
    this.#check();
    return this.inner.acquire(...args);
  }
  renew(lease: Lease) {
    this.#check();
    return this.inner.renew(lease);
  }
  release(lease: Lease) {
    this.#check();
    return this.inner.release(lease);
  }
  holder(name: string) {
    return this.inner.holder(name);
  }
  list() {
    return this.inner.list();
  }
  forceRelease(name: string) {
    return this.inner.forceRelease(name);
  }
  close() {
    return this.inner.close();
  }
}

Deno.test("leaseDeadline = last renew send time + ttl − margin", () => {
  assertEquals(leaseDeadline(1_000, 30_000, 2_000), 29_000);
  assertEquals(leaseDeadline(0, 10, 0), 10);
});

Deno.test("lease keeper: renewals move the deadline from their SEND time", async () => {
  const clock = new FakeLockClock();
  const lock = new MemoryLock({ clock });
  const lease = await lock.acquire("dedup", "a", { ttlMs: 3000 });
  assert(lease);
  const keeper = new LeaseKeeper(lock, lease, {
    renewIntervalMs: 1000,
    marginMs: 500,
    clock,
    registry: new MetricsRegistry(),
    logger: quiet,
  });
  assertEquals(keeper.deadline, 2500);
  clock.t = 1000;
  assert(await keeper.renewNow());
  assertEquals(keeper.deadline, 3500);
  assertEquals(keeper.lease.token, lease.token);
  assert(keeper.isValid(3499));
  assert(!keeper.isValid(3500));
  assertEquals(keeper.lostReason, "deadline");
  assert(!(await keeper.renewNow()), "a lost keeper never becomes valid again");
});

Deno.test("lease keeper: unreachable backend → stops at the local deadline, before the TTL", async () => {
  const clock = new FakeLockClock();
  const registry = new MetricsRegistry();
  const store = new MemoryLockStore();
  const flaky = new FlakyLock(new MemoryLock({ store, clock }));
  const lease = await flaky.acquire("dedup", "a", { ttlMs: 3000 });
  assert(lease);
  const lost: LeaseLostReason[] = [];
  const keeper = new LeaseKeeper(flaky, lease, {
    renewIntervalMs: 1000,
    marginMs: 500,
    clock,
    registry,
    logger: quiet,
    onLost: (reason) => lost.push(reason),
  });
  flaky.down = true;
  clock.t = 1000;
  assert(await keeper.renewNow(), "still inside the deadline");
  clock.t = 2000;
  assert(await keeper.renewNow());
  clock.t = 2500;
  assert(!(await keeper.renewNow()), "deadline = 0 + 3000 − 500");
  assertEquals(lost, ["deadline"]);
  assertEquals(
    registry.counter("augur_lock_renew_errors_total", "", ["backend"]).get({ backend: "flaky" }),
    3,
  );
  // The backend still holds the key until the TTL: nobody else can act yet.
  const other = new MemoryLock({ store, clock });
  assertEquals(await other.acquire("dedup", "b", { ttlMs: 3000 }), null);
  clock.t = 3000;
  assert(await other.acquire("dedup", "b", { ttlMs: 3000 }));
});

Deno.test("lease keeper: backend says lost → onLost('lost') once", async () => {
  const clock = new FakeLockClock();
  const lock = new MemoryLock({ clock });
  const lease = await lock.acquire("dedup", "a", { ttlMs: 3000 });
  assert(lease);
  const lost: LeaseLostReason[] = [];
  const keeper = new LeaseKeeper(lock, lease, {
    renewIntervalMs: 1000,
    marginMs: 500,
    clock,
    registry: new MetricsRegistry(),
    logger: quiet,
    onLost: (reason) => lost.push(reason),
  });
  await lock.forceRelease("dedup");
  assert(!(await keeper.renewNow()));
  assert(!keeper.isValid(0));
  assertEquals(lost, ["lost"]);
});

Deno.test("lease keeper: rejects a margin that is not below the ttl", async () => {
  const lock = new MemoryLock();
  const lease = await lock.acquire("x", "a", { ttlMs: 1000 });
  assert(lease);
  assertThrows(
    () => new LeaseKeeper(lock, lease, { renewIntervalMs: 100, marginMs: 1000 }),
    RangeError,
    "marginMs",
  );
});

Deno.test("lease keeper: real timers renew in the background and release at the end", async () => {
  const lock = new MemoryLock();
  const lease = await lock.acquire("dedup", "a", { ttlMs: 300 });
  assert(lease);
  let renewals = 0;
  const keeper = new LeaseKeeper(lock, lease, {
    renewIntervalMs: 50,
    marginMs: 50,
    registry: new MetricsRegistry(),
    logger: quiet,
    onRenewed: () => renewals++,
  });
  keeper.start();
  await waitFor(() => renewals >= 8, { timeoutMs: 5000 });
  assert(keeper.isValid(), "renewed past several TTLs");
  assert(await keeper.release());
  assertEquals(await lock.holder("dedup"), null);
});

Deno.test("lease keeper: real timers fire onLost at the deadline when renewals hang", async () => {
  const lock = new MemoryLock();
  const lease = await lock.acquire("dedup", "a", { ttlMs: 200 });
  assert(lease);
  const hanging: DistributedLock = Object.assign(Object.create(lock), {
    backend: "memory",
    renew: () => new Promise<never>(() => {}),
  });
  let lostReason: string | undefined;
  const keeper = new LeaseKeeper(hanging, lease, {
    renewIntervalMs: 50,
    marginMs: 50,
    registry: new MetricsRegistry(),
    logger: quiet,
    onLost: (reason) => lostReason = reason,
  });
  keeper.start();
  const started = performance.now();
  await waitFor(() => lostReason, { timeoutMs: 3000 });
  assertEquals(lostReason, "deadline");
  assert(performance.now() - started < 1000);
  assert(performance.now() >= keeper.deadline);
  keeper.stop();
});
