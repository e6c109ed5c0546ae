/**
 * The DistributedLock behaviours every networked backend must show on a real server;
 * nats_kv_lock_test.ts and redis_lock_test.ts run them.
 *
 * @module
 */
import { assert, assertEquals } from "../../../helpers/assert.ts";
import { waitFor } from "../../../helpers/wait.ts";
import type { ManagedServer } from "../../../helpers/servers.ts";
import type { DistributedLock, Lease } from "../../../../adapters/lock/types.ts";
import { LeaseKeeper, type LeaseLostReason } from "../../../../adapters/lock/lease_keeper.ts";
import { MetricsRegistry } from "../../../../adapters/observability/metrics.ts";
import { createLogger } from "../../../../adapters/observability/logger.ts";

/** How a test opens a lock (one connection each, like separate processes). */
export type OpenLock = () => Promise<DistributedLock>;

const quiet = createLogger({ component: "lock-test", sink: () => {} });

async function acquireWhenFree(
  lock: DistributedLock,
  name: string,
  holder: string,
  ttlMs: number,
  timeoutMs = 10_000,
): Promise<Lease> {
  return await waitFor(() => lock.acquire(name, holder, { ttlMs }), {
    timeoutMs,
    intervalMs: 20,
    message: `${holder} never acquired ${name}`,
  });
}

/** Run the whole contract; `ttlMs` must match the backend's configured TTL. */
export async function lockContract(
  t: Deno.TestContext,
  server: ManagedServer,
  open: OpenLock,
  ttlMs: number,
): Promise<void> {
  const opened: DistributedLock[] = [];
  const fresh = async () => {
    const lock = await open();
    opened.push(lock);
    return lock;
  };
  try {
    const [a, b, c] = [await fresh(), await fresh(), await fresh()];

    await t.step("contenders → exactly one holder, every round", async () => {
      for (let round = 0; round < 5; round++) {
        const name = `race.r${round}`;
        const leases = await Promise.all(
          [a, b, c, a, b, c].map((lock, i) => lock.acquire(name, `h${i}`, { ttlMs })),
        );
        const winners = leases.filter((l) => l !== null);
        assertEquals(winners.length, 1, `round ${round}: ${winners.length} winners`);
        const held = await c.holder(name);
        assertEquals(held?.holder, winners[0]!.holder);
        assertEquals(held?.token, winners[0]!.token);
        assert(await a.release(winners[0]!) || await b.release(winners[0]!));
      }
    });

    let first: Lease | null = null;
    let second: Lease | null = null;
    await t.step("holder stops renewing → the other acquires after the TTL", async () => {
      first = await a.acquire("dedup", "replica-a", { ttlMs });
      assert(first);
      const started = performance.now();
      second = await acquireWhenFree(b, "dedup", "replica-b", ttlMs);
      const waited = performance.now() - started;
      assert(waited >= ttlMs * 0.8, `took over after ${waited} ms, before the ttl ${ttlMs}`);
      assert(waited < ttlMs + 2000, `took over only after ${waited} ms`);
      assert(second.token > first.token, `${second.token} > ${first.token}`);
    });

    await t.step("stale holder's renew and release are rejected", async () => {
      assert(first && second);
      {
        assertEquals(await a.renew(first), null);
        assertEquals(await a.release(first), false);
        const held = await c.holder("dedup");
        assertEquals(held?.holder, "replica-b");
        assertEquals(held?.token, second.token);
        const renewed = await b.renew(second);
        assert(renewed, "the live holder still renews");
        assertEquals(renewed.token, second.token, "renewal keeps the token");
        assertEquals((await c.holder("dedup"))?.token, second.token);
        assert(await b.release(renewed));
        assertEquals(await c.holder("dedup"), null);
      }
    });

    await t.step("a restarted process never inherits its own live key", async () => {
      const old = await a.acquire("llm", "replica-0", { ttlMs });
      assert(old);
      const restarted = await fresh();
      assertEquals(await restarted.acquire("llm", "replica-0", { ttlMs }), null);
      const again = await acquireWhenFree(restarted, "llm", "replica-0", ttlMs);
      assert(again.token > old.token);
      assertEquals(await a.renew(old), null, "the old incarnation's lease is dead");
      assert(await restarted.release(again));
    });

    await t.step("force release removes the key and keeps the token counter", async () => {
      const held = await a.acquire("poller.kalshi", "replica-a", { ttlMs });
      assert(held);
      const removed = await c.forceRelease("poller.kalshi");
      assertEquals(removed?.holder, "replica-a");
      assertEquals(removed?.token, held.token);
      assertEquals(await c.forceRelease("poller.kalshi"), null);
      assertEquals(await a.renew(held), null, "force-released holder loses the lease");
      assertEquals(await a.release(held), false);
      const next = await b.acquire("poller.kalshi", "replica-b", { ttlMs });
      assert(next && next.token > held.token, `${next?.token} > ${held.token}`);
      assertEquals((await c.list()).map((h) => [h.name, h.holder]), [
        ["poller.kalshi", "replica-b"],
      ]);
      assert(await b.release(next));
    });

    await t.step("lease keeper holds the lease for several TTLs; contender waits", async () => {
      const lease = await a.acquire("divergence", "replica-a", { ttlMs });
      assert(lease);
      const keeper = new LeaseKeeper(a, lease, {
        renewIntervalMs: Math.floor(ttlMs / 4),
        marginMs: Math.floor(ttlMs / 4),
        registry: new MetricsRegistry(),
        logger: quiet,
      });
      keeper.start();
      try {
        const until = performance.now() + ttlMs * 2.5;
        await waitFor(async () => {
          assertEquals(await b.acquire("divergence", "replica-b", { ttlMs }), null);
          return performance.now() > until;
        }, { timeoutMs: ttlMs * 5, intervalMs: 50 });
        assert(keeper.isValid());
        assertEquals(keeper.lease.token, lease.token);
      } finally {
        assert(await keeper.release());
      }
      assert(await b.acquire("divergence", "replica-b", { ttlMs }), "released → free at once");
    });

    const before: number[] = [];
    await t.step(
      "tokens strictly increase across holders and survive a server restart",
      async () => {
        for (const [i, lock] of [a, b, c].entries()) {
          const lease = await acquireWhenFree(lock, "tokens", `r${i}`, ttlMs);
          before.push(lease.token);
          assert(await lock.release(lease));
        }
        assert(before[0] < before[1] && before[1] < before[2], before.join(" < "));
        await server.kill();
        await server.restart();
        const after = await waitFor(async () => {
          try {
            return await b.acquire("tokens", "after-restart", { ttlMs });
          } catch {
            return null; // reconnecting
          }
        }, { timeoutMs: 15_000, intervalMs: 50 });
        assert(after.token > before[2], `after restart ${after.token} > ${before[2]}`);
        assert(await b.release(after));
      },
    );

    await t.step("backend unreachable → keeper stops at its local deadline", async () => {
      const lease = await waitFor(async () => {
        try {
          return await a.acquire("deadline", "replica-a", { ttlMs });
        } catch {
          return null;
        }
      }, { timeoutMs: 15_000 });
      let lost: LeaseLostReason | undefined;
      let lostAt = 0;
      const keeper = new LeaseKeeper(a, lease, {
        renewIntervalMs: Math.floor(ttlMs / 4),
        marginMs: Math.floor(ttlMs / 4),
        registry: new MetricsRegistry(),
        logger: quiet,
        onLost: (reason) => {
          lost = reason;
          lostAt = performance.now();
        },
      });
      keeper.start();
      await server.kill();
      const killedAt = performance.now();
      await waitFor(() => lost, { timeoutMs: ttlMs * 3 });
      assertEquals(lost, "deadline");
      assert(lostAt - killedAt <= ttlMs, `stopped ${lostAt - killedAt} ms after the kill`);
      keeper.stop();
      await server.restart();
    });
  } finally {
    for (const lock of opened) await lock.close().catch(() => {});
  }
}
