import { assertEquals, assertRejects } from "../../../helpers/assert.ts";
import { needs, startNats } from "../../../helpers/servers.ts";
import { NatsKvLock } from "../../../../adapters/lock/nats_kv_lock.ts";
import { LockError } from "../../../../adapters/lock/types.ts";
import { MetricsRegistry } from "../../../../adapters/observability/metrics.ts";
import { lockContract } from "./lock_contract.ts";

// 2 s: the lease keeper renews every TTL/4 with a TTL/4 margin, which a starved event loop
// (a loaded 2-core CI machine) missed now and then at 1 s.
const TTL_MS = 2000;

Deno.test({
  name: "nats kv lock: the DistributedLock contract on a real nats-server",
  ...needs("nats"),
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const nats = await startNats();
    try {
      const open = () =>
        NatsKvLock.open({
          servers: nats.url,
          bucket: "augur_locks",
          ttlMs: TTL_MS,
          registry: new MetricsRegistry(),
        });
      await lockContract(t, nats, open, TTL_MS);

      await t.step("bucket TTL is the lock TTL; other TTLs are refused", async () => {
        const lock = await open();
        try {
          await assertRejects(
            () => lock.acquire("x", "a", { ttlMs: 5000 }),
            LockError,
            `TTL of ${TTL_MS} ms`,
          );
        } finally {
          await lock.close();
        }
        // Reopening with another TTL reconfigures the bucket (config is the source of truth).
        const longer = await NatsKvLock.open({
          servers: nats.url,
          bucket: "augur_locks",
          ttlMs: 3000,
          registry: new MetricsRegistry(),
        });
        try {
          const lease = await longer.acquire("y", "a", { ttlMs: 3000 });
          assertEquals(lease?.ttlMs, 3000);
          const held = await longer.holder("y");
          assertEquals(held!.expiresAtMs - held!.observedAtMs > 2000, true);
        } finally {
          await longer.close();
        }
      });

      await t.step("inspect-only open of a missing bucket lists nothing", async () => {
        const lock = await NatsKvLock.open({
          servers: nats.url,
          bucket: "never_created",
          ttlMs: TTL_MS,
          create: false,
          registry: new MetricsRegistry(),
        });
        try {
          assertEquals(await lock.list(), []);
          assertEquals(await lock.holder("dedup"), null);
        } finally {
          await lock.close();
        }
      });
    } finally {
      await nats.stop();
    }
  },
});
