import { assertEquals } from "../../helpers/assert.ts";
import { runWorker, type Worker } from "../../../runtime/harness.ts";
import { MetricsRegistry } from "../../../adapters/observability/metrics.ts";
import { createLogger } from "../../../adapters/observability/logger.ts";
import { AugurError, ConfigError } from "../../../config/errors.ts";

const quiet = createLogger({ sink: () => {} });

function waitingWorker(onDrain: () => Promise<void> = () => Promise.resolve()): Worker {
  return {
    kind: "test",
    run: async ({ signal }) => {
      await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
      await onDrain();
    },
  };
}

Deno.test("harness: abort drains the worker, closes resources in order, exits 0", async () => {
  const registry = new MetricsRegistry();
  const closed: string[] = [];
  const abort = new AbortController();
  let drained = false;
  const running = runWorker(waitingWorker(() => Promise.resolve(void (drained = true))), {
    replicaId: "r0",
    metrics: { enabled: false },
    drainTimeoutMs: 1000,
    registry,
    logger: quiet,
    abort: abort.signal,
    signals: [],
    closeables: [
      { name: "bus", close: () => Promise.resolve(void closed.push("bus")) },
      { name: "store", close: () => Promise.resolve(void closed.push("store")) },
    ],
  });
  assertEquals(
    registry.gauge("augur_worker_alive", "", ["kind", "replica_id"]).get({
      kind: "test",
      replica_id: "r0",
    }),
    1,
  );
  abort.abort();
  assertEquals(await running, 0);
  assertEquals(drained, true);
  assertEquals(closed, ["bus", "store"]);
  assertEquals(
    registry.gauge("augur_worker_alive", "", ["kind", "replica_id"]).get({
      kind: "test",
      replica_id: "r0",
    }),
    0,
  );
});

Deno.test("harness: a drain that overruns its timeout exits 1", async () => {
  const abort = new AbortController();
  let release!: () => void;
  const stuck = new Promise<void>((resolve) => release = resolve);
  const running = runWorker(waitingWorker(() => stuck), {
    replicaId: "r0",
    metrics: { enabled: false },
    drainTimeoutMs: 50,
    registry: new MetricsRegistry(),
    logger: quiet,
    abort: abort.signal,
    signals: [],
  });
  abort.abort();
  assertEquals(await running, 1);
  release();
});

Deno.test("harness: fatal errors map to their exit code; heartbeat false stops the worker", async () => {
  const failing: Worker = { kind: "t", run: () => Promise.reject(new ConfigError("bad")) };
  const options = {
    replicaId: "r0",
    metrics: { enabled: false } as const,
    drainTimeoutMs: 100,
    logger: quiet,
    signals: [],
  };
  assertEquals(await runWorker(failing, { ...options, registry: new MetricsRegistry() }), 2);
  const crashing: Worker = { kind: "t", run: () => Promise.reject(new AugurError("x")) };
  assertEquals(await runWorker(crashing, { ...options, registry: new MetricsRegistry() }), 1);
  let beats = 0;
  const code = await runWorker(waitingWorker(), {
    ...options,
    registry: new MetricsRegistry(),
    heartbeat: { intervalMs: 5, beat: () => Promise.resolve(++beats < 3) },
  });
  assertEquals([code, beats >= 3], [0, true]);
});

Deno.test("harness: serves /metrics and /readyz on a free port while running", async () => {
  const abort = new AbortController();
  let port = 0;
  const running = runWorker(waitingWorker(), {
    replicaId: "r0",
    metrics: { enabled: true, hostname: "127.0.0.1", port: 0 },
    drainTimeoutMs: 1000,
    registry: new MetricsRegistry(),
    logger: quiet,
    abort: abort.signal,
    signals: [],
    onListening: (server) => port = server.port,
  });
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  assertEquals(text.includes('augur_worker_alive{kind="test",replica_id="r0"} 1'), true);
  const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
  assertEquals(ready.status, 200);
  await ready.body?.cancel();
  abort.abort();
  assertEquals(await running, 0);
});
