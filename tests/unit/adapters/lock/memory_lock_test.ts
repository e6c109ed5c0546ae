import { assert, assertEquals, assertThrows } from "../../../helpers/assert.ts";
import { FakeLockClock } from "../../../helpers/fake_lock_clock.ts";
import { MemoryLock, MemoryLockStore } from "../../../../adapters/lock/memory_lock.ts";
import { LockError } from "../../../../adapters/lock/types.ts";

function setup() {
  const clock = new FakeLockClock();
  const store = new MemoryLockStore();
  return { clock, store, a: new MemoryLock({ store, clock }), b: new MemoryLock({ store, clock }) };
}

Deno.test("memory lock: two contenders → exactly one holder", async () => {
  const { a, b } = setup();
  const [la, lb] = await Promise.all([
    a.acquire("dedup", "a", { ttlMs: 1000 }),
    b.acquire("dedup", "b", { ttlMs: 1000 }),
  ]);
  assertEquals([la !== null, lb !== null].filter(Boolean).length, 1);
  assertEquals((await a.holder("dedup"))?.holder, "a");
  assertEquals(la?.token, 1);
});

Deno.test("memory lock: holder stops renewing → the other acquires only after the TTL", async () => {
  const { clock, a, b } = setup();
  const la = await a.acquire("dedup", "a", { ttlMs: 1000 });
  assert(la);
  clock.advance(999);
  assertEquals(await b.acquire("dedup", "b", { ttlMs: 1000 }), null);
  clock.advance(1);
  const lb = await b.acquire("dedup", "b", { ttlMs: 1000 });
  assert(lb);
  assert(lb.token > la.token, "token must increase across holders");
});

Deno.test("memory lock: renew extends; stale holder's renew and release are rejected", async () => {
  const { clock, a, b } = setup();
  const la = await a.acquire("dedup", "a", { ttlMs: 1000 });
  assert(la);
  clock.advance(800);
  const renewed = await a.renew(la);
  assert(renewed);
  assertEquals(renewed.token, la.token);
  assertEquals(renewed.expiresAtMs, clock.now() + 1000);
  clock.advance(800); // 1600 ms since acquire, 800 since renew: still held
  assertEquals(await b.acquire("dedup", "b", { ttlMs: 1000 }), null);
  clock.advance(200);
  const lb = await b.acquire("dedup", "b", { ttlMs: 1000 });
  assert(lb);
  assertEquals(await a.renew(renewed), null);
  assertEquals(await a.release(renewed), false);
  assertEquals((await b.holder("dedup"))?.holder, "b");
  assertEquals(await b.release(lb), true);
  assertEquals(await b.holder("dedup"), null);
});

Deno.test("memory lock: a live key with our own holder name is not ours after a restart", async () => {
  const { clock, store } = setup();
  const before = new MemoryLock({ store, clock });
  const old = await before.acquire("dedup", "replica-0", { ttlMs: 1000 });
  assert(old);
  const restarted = new MemoryLock({ store, clock });
  assertEquals(await restarted.acquire("dedup", "replica-0", { ttlMs: 1000 }), null);
  clock.advance(1000);
  const fresh = await restarted.acquire("dedup", "replica-0", { ttlMs: 1000 });
  assert(fresh && fresh.token > old.token);
});

Deno.test("memory lock: force release removes the key and keeps the token counter", async () => {
  const { a, b } = setup();
  const la = await a.acquire("dedup", "a", { ttlMs: 1000 });
  assert(la);
  const removed = await b.forceRelease("dedup");
  assertEquals(removed?.holder, "a");
  assertEquals(removed?.token, la.token);
  assertEquals(await b.forceRelease("dedup"), null);
  assertEquals(await a.renew(la), null);
  const lb = await b.acquire("dedup", "b", { ttlMs: 1000 });
  assertEquals(lb?.token, la.token + 1);
});

Deno.test("memory lock: list shows live locks sorted, with age and expiry", async () => {
  const { clock, a } = setup();
  await a.acquire("z.lock", "a", { ttlMs: 5000 });
  await a.acquire("a.lock", "a", { ttlMs: 1000 });
  clock.advance(500);
  let all = await a.list();
  assertEquals(all.map((h) => h.name), ["a.lock", "z.lock"]);
  assertEquals(all[0].observedAtMs - all[0].acquiredAtMs, 500);
  assertEquals(all[0].expiresAtMs - all[0].observedAtMs, 500);
  clock.advance(500);
  all = await a.list();
  assertEquals(all.map((h) => h.name), ["z.lock"]);
});

Deno.test("memory lock: tokens are per name and strictly increase over many holders", async () => {
  const { clock, a } = setup();
  const tokens: number[] = [];
  for (let i = 0; i < 20; i++) {
    const lease = await a.acquire("part.feature.07", `r${i}`, { ttlMs: 10 });
    assert(lease);
    tokens.push(lease.token);
    if (i % 2 === 0) await a.release(lease);
    else clock.advance(10);
  }
  assert(tokens.every((t, i) => i === 0 || t > tokens[i - 1]));
  assertEquals((await a.acquire("other", "x", { ttlMs: 10 }))?.token, 1);
});

Deno.test("memory lock: bad names and TTLs are rejected with what was received", () => {
  const { a } = setup();
  assertThrows(() => a.acquire("has space", "a", { ttlMs: 10 }), LockError, "has space");
  assertThrows(() => a.acquire("ok", "a", { ttlMs: 0 }), LockError, "got 0");
  assertThrows(() => a.acquire("a..b", "a", { ttlMs: 10 }), LockError);
});
