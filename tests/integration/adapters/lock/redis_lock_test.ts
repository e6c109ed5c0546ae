import { assert, assertEquals } from "../../../helpers/assert.ts";
import { needs, startRedis } from "../../../helpers/servers.ts";
import { RedisLock } from "../../../../adapters/lock/redis_lock.ts";
import { MetricsRegistry } from "../../../../adapters/observability/metrics.ts";
import { lockContract } from "./lock_contract.ts";

const TTL_MS = 800;

Deno.test({
  name: "redis lock: the DistributedLock contract on a real (durable) redis-server",
  ...needs("redis"),
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const redis = await startRedis({ durable: true });
    try {
      const open = () => RedisLock.open({ url: redis.url, registry: new MetricsRegistry() });
      await lockContract(t, redis, open, TTL_MS);

      await t.step("force release never deletes the token counter", async () => {
        const lock = await open();
        try {
          const lease = await lock.acquire("counter.kept", "a", { ttlMs: TTL_MS });
          assert(lease);
          assertEquals(await lock.lastToken("counter.kept"), lease.token);
          await lock.forceRelease("counter.kept");
          assertEquals(await lock.lastToken("counter.kept"), lease.token);
        } finally {
          await lock.close();
        }
      });
    } finally {
      await redis.stop();
    }
  },
});
