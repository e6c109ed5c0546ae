/**
 * A drain (SIGTERM, or the engine stopping because a source failed at once) that starts while
 * a runner is still starting — acquiring its lease, loading its checkpoint, opening its stage —
 * must still stop it: its abort event is already past when the runner starts listening.
 * Before the fix each of these runners waited forever (`augur run engine` hung on a bad
 * replay file in about two runs out of three, and ignored SIGTERM).
 */
import { assertEquals } from "../../helpers/assert.ts";
import { waitForSettled } from "../../helpers/wait.ts";
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

/**
 * A gate the runner awaits while it starts, and the drain: `drain(running)` waits until the
 * runner reached the gate, aborts (the drain starts), opens the gate, and resolves with what
 * the runner returned — failing the test when the runner does not stop within 3 s.
 */
function gate() {
  let open!: () => void;
  let reached!: () => void;
  const opened = new Promise<void>((r) => open = r);
  const wasReached = new Promise<void>((r) => reached = r);
  const abort = new AbortController();
  return {
    signal: abort.signal,
    wait: () => {
      reached();
      return opened;
    },
    drain: async <T>(running: Promise<T>): Promise<T> => {
      await wasReached;
      abort.abort();
      open();
      return await waitForSettled(running, {
        timeoutMs: 3000,
        message: "the runner did not stop within 3 s of the drain (hung)",
      });
    },
  };
}

/** The runner options every case shares, drained through `signal`. */
function runnerOptions(signal: AbortSignal) {
  return { replicaId: "r", signal, lease: LEASE, registry: new MetricsRegistry(), logger: quiet };
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
  const running = runPartitions(
    b,
    new MemoryLock({ store: new MemoryLockStore() }),
    checkpoints,
    {
      kind: "k",
      inputSubject: (p) => `augur.in.${p}.>`,
      open: () => Promise.resolve({ process: () => [], checkpoint: () => new Uint8Array() }),
    },
    { partitions: [0], ...runnerOptions(g.signal) },
  );
  assertEquals(await g.drain(running), undefined);
  await b.close();
});

Deno.test("singleton stage: a drain that starts while the stage opens stops it", async () => {
  const b = await bus();
  const store = new MemoryStore();
  await store.initialize();
  const g = gate();
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
    runnerOptions(g.signal),
  );
  assertEquals(await g.drain(running), "drained");
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
  let sawAbort = false;
  const running = runSingleton(lock, async (active) => {
    if (!active.signal.aborted) {
      await new Promise((r) => active.signal.addEventListener("abort", r, { once: true }));
    }
    sawAbort = active.signal.aborted;
  }, { kind: "x", ...runnerOptions(g.signal) });
  assertEquals(await g.drain(running), "drained");
  assertEquals(sawAbort, true);
});
