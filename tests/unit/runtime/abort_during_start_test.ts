/**
 * A drain (SIGTERM, or the engine stopping because a source failed at once) that starts while
 * a runner is still starting — acquiring its lease, loading its checkpoint, opening its stage —
 * must still stop it: its abort event is already past when the runner starts listening.
 * Before the fix each of these runners waited forever (`augur run engine` hung on a bad
 * replay file in about two runs out of three, and ignored SIGTERM).
 */
import { assertEquals } from "../../helpers/assert.ts";
import { MemoryBus } from "../../../adapters/bus/memory_bus.ts";
import { MemoryLock, MemoryLockStore } from "../../../adapters/lock/memory_lock.ts";
import type { DistributedLock } from "../../../adapters/lock/types.ts";
import { MetricsRegistry } from "../../../adapters/observability/metrics.ts";
import { createLogger } from "../../../adapters/observability/logger.ts";
import { MemoryStore } from "../../../adapters/storage/memory_store.ts";
import { type CheckpointStore, runPartitions } from "../../../runtime/partition_runner.ts";
import { runSingleton } from "../../../runtime/singleton.ts";
import { runSingletonStage } from "../../../runtime/singleton_stage.ts";

const quiet = createLogger({ sink: () => {} });
const LEASE = { ttlMs: 2000, renewIntervalMs: 200, marginMs: 100, waitTickMs: 20 };

/** A promise that the test resolves, and one that resolves when `gate` is first awaited. */
function gate() {
  let open!: () => void;
  let reached!: () => void;
  const opened = new Promise<void>((r) => open = r);
  const wasReached = new Promise<void>((r) => reached = r);
  return {
    open,
    reached: wasReached,
    wait: () => {
      reached();
      return opened;
    },
  };
}

/** Resolve with `promise`'s value, or "hung" after `ms`. */
async function within<T>(promise: Promise<T>, ms = 3000): Promise<T | "hung"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<"hung">((r) => timer = setTimeout(() => r("hung"), ms));
  try {
    return await Promise.race([promise, hung]);
  } finally {
    clearTimeout(timer);
  }
}

async function bus() {
  const b = new MemoryBus({ capacity: 100, registry: new MetricsRegistry(), logger: quiet });
  await b.connect();
  return b;
}

Deno.test("partition runner: a drain that starts while the checkpoint loads stops it", async () => {
  const b = await bus();
  const g = gate();
  const checkpoints: CheckpointStore = {
    load: async () => {
      await g.wait();
      return null;
    },
    save: () => Promise.resolve(),
  };
  const abort = new AbortController();
  const running = runPartitions(
    b,
    new MemoryLock({ store: new MemoryLockStore() }),
    checkpoints,
    {
      kind: "k",
      inputSubject: (p) => `augur.in.${p}.>`,
      open: () => Promise.resolve({ process: () => [], checkpoint: () => new Uint8Array() }),
    },
    {
      partitions: [0],
      replicaId: "r",
      signal: abort.signal,
      lease: LEASE,
      registry: new MetricsRegistry(),
      logger: quiet,
    },
  );
  await g.reached;
  abort.abort();
  g.open();
  assertEquals(await within(running), undefined);
  await b.close();
});

Deno.test("singleton stage: a drain that starts while the stage opens stops it", async () => {
  const b = await bus();
  const store = new MemoryStore();
  await store.initialize();
  const g = gate();
  const abort = new AbortController();
  const running = runSingletonStage(
    b,
    new MemoryLock({ store: new MemoryLockStore() }),
    store,
    {
      kind: "s",
      inputs: ["augur.in.a", "augur.in.b"],
      outputs: ["augur.out"],
      open: async () => {
        await g.wait();
        return { process: () => [], checkpoint: () => new Uint8Array() };
      },
    },
    {
      replicaId: "r",
      signal: abort.signal,
      lease: LEASE,
      registry: new MetricsRegistry(),
      logger: quiet,
    },
  );
  await g.reached;
  abort.abort();
  g.open();
  assertEquals(await within(running), "drained");
  await b.close();
  await store.close();
});

Deno.test("singleton: a drain that starts while the lock is being acquired stops the active", async () => {
  const inner = new MemoryLock({ store: new MemoryLockStore() });
  const g = gate();
  const lock = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === "acquire") {
        return async (...args: Parameters<DistributedLock["acquire"]>) => {
          await g.wait();
          return await target.acquire(...args);
        };
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const abort = new AbortController();
  let sawAbort = false;
  const running = runSingleton(lock, async (active) => {
    if (!active.signal.aborted) {
      await new Promise((r) => active.signal.addEventListener("abort", r, { once: true }));
    }
    sawAbort = active.signal.aborted;
  }, {
    kind: "x",
    replicaId: "r",
    signal: abort.signal,
    lease: LEASE,
    registry: new MetricsRegistry(),
    logger: quiet,
  });
  await g.reached;
  abort.abort();
  g.open();
  assertEquals(await within(running), "drained");
  assertEquals(sawAbort, true);
});
