/**
 * The store sink over a real redis-server with a slow store (a starved or loaded database):
 * it keeps up with the input (group commit, tick markers acked without waiting for the
 * server's fsync) and leaves nothing pending, dead-lettered or unstored — the Redis e2e
 * equivalence failure under CPU starvation, without needing the load.
 */
import { assert, assertEquals } from "../../../helpers/assert.ts";
import { needs, startRedis } from "../../../helpers/servers.ts";
import { waitFor } from "../../../helpers/wait.ts";
import { SlowStore } from "../../../helpers/slow_store.ts";
import { runStoreSink } from "../../../../runtime/stages/store_sink.ts";
import { tickMessages } from "../../../../runtime/stages/poller_stage.ts";
import { Subjects } from "../../../../runtime/subjects.ts";
import { RedisBus } from "../../../../adapters/bus/redis_bus.ts";
import { SimulatorSource } from "../../../../adapters/markets/simulator.ts";
import { MetricsRegistry } from "../../../../adapters/observability/metrics.ts";
import { createLogger } from "../../../../adapters/observability/logger.ts";

const quiet = createLogger({ sink: () => {} });

Deno.test({
  name: "store sink over redis: a slow store keeps up with the input, nothing left pending",
  ...needs("redis"),
  async fn() {
    const server = await startRedis();
    const registry = new MetricsRegistry();
    const subjects = new Subjects({ partitions: 12 });
    const bus = new RedisBus({
      url: server.url,
      partitions: 12,
      blockMs: 100,
      claimIdleMs: 2000,
      registry,
      logger: quiet,
    });
    // Every write takes 100 ms: a commit takes ~300 ms, 15 × max_delay_ms.
    const store = new SlowStore(100);
    const controller = new AbortController();
    let sink: Promise<void> | undefined;
    try {
      await bus.connect();
      await store.initialize();
      sink = runStoreSink(bus, store, {
        subjects,
        signal: controller.signal,
        batchSize: 200,
        maxDelayMs: 20,
        registry,
        logger: quiet,
      });
      // ~480 snapshots/s (+ 240 tick markers/s) over the 12 partition streams for 3 s.
      const source = new SimulatorSource({
        seed: 7,
        markets: 24,
        ticks: 60,
        intervalMs: 50,
        events: [],
      });
      let published = 0;
      for await (const tick of source) {
        // As a poller does: the tick's snapshots, a marker in each partition, the announcement.
        const { snapshots, markers } = tickMessages(subjects, tick, new Set());
        await bus.publishBatch([...snapshots, ...markers]);
        published += snapshots.length;
      }
      await source.close();
      const endedAt = Date.now();
      await waitFor(() => store.snapshots.size === published, {
        timeoutMs: 30_000,
        message: `stored ${store.snapshots.size} of ${published}`,
      });
      const lagMs = Date.now() - endedAt;
      // One commit per max_delay_ms queued behind each other would need ~18 s for this input.
      assert(
        lagMs < 3000,
        `all ${published} snapshots stored ${lagMs} ms after the last publish, in ${store.commits} commits (largest ${store.largestCommit} rows)`,
      );
      await waitFor(async () => (await bus.pending("augur.snapshots.>", "store")) === 0, {
        timeoutMs: 10_000,
        message: "every stored snapshot and every marker acked",
      });
      const deadLetters = registry.get("augur_bus_dead_letter_total") as {
        samples(): string[];
      };
      assertEquals(deadLetters.samples().filter((l) => !l.startsWith("#")), [], "no dead letter");
    } finally {
      controller.abort();
      await sink;
      await bus.close();
      await server.stop();
    }
  },
});
