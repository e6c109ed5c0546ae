import { assertEquals } from "../../helpers/assert.ts";
import { waitFor } from "../../helpers/wait.ts";
import { MemoryLock, MemoryLockStore } from "../../../adapters/lock/memory_lock.ts";
import { MetricsRegistry } from "../../../adapters/observability/metrics.ts";
import { createLogger } from "../../../adapters/observability/logger.ts";
import { type ActiveContext, runSingleton } from "../../../runtime/singleton.ts";

const quiet = createLogger({ sink: () => {} });
const LEASE = { ttlMs: 400, renewIntervalMs: 50, marginMs: 50, waitTickMs: 10 };

function untilStopped(record: (ctx: ActiveContext) => void) {
  return async (ctx: ActiveContext) => {
    record(ctx);
    await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
  };
}

Deno.test("singleton: one active; the passive takes over after the active drains, with a newer token", async () => {
  const store = new MemoryLockStore();
  const registry = new MetricsRegistry();
  const tokens: Record<string, number> = {};
  const aborts = { a: new AbortController(), b: new AbortController() };
  const run = (id: "a" | "b") =>
    runSingleton(new MemoryLock({ store }), untilStopped((ctx) => tokens[id] = ctx.token), {
      kind: "dedup",
      replicaId: id,
      signal: aborts[id].signal,
      lease: LEASE,
      registry,
      logger: quiet,
    });
  const a = run("a");
  await waitFor(() => tokens.a !== undefined);
  const b = run("b");
  const holder = registry.gauge("augur_singleton_lock_holder", "", [
    "singleton_kind",
    "replica_id",
  ]);
  await waitFor(() => holder.get({ singleton_kind: "dedup", replica_id: "b" }) === 0);
  assertEquals(tokens.b, undefined);
  aborts.a.abort();
  assertEquals(await a, "drained");
  await waitFor(() => tokens.b !== undefined);
  assertEquals(tokens.b > tokens.a, true);
  assertEquals(holder.get({ singleton_kind: "dedup", replica_id: "b" }), 1);
  assertEquals(
    registry.counter("augur_failover_total", "", ["singleton_kind"]).get({
      singleton_kind: "dedup",
    }),
    1,
  );
  aborts.b.abort();
  assertEquals(await b, "drained");
});

Deno.test("singleton: an active whose lease is taken away stops at once and reports lost", async () => {
  const store = new MemoryLockStore();
  const abort = new AbortController();
  let active: ActiveContext | undefined;
  const run = runSingleton(new MemoryLock({ store }), untilStopped((ctx) => active = ctx), {
    kind: "llm",
    replicaId: "a",
    signal: abort.signal,
    lease: LEASE,
    registry: new MetricsRegistry(),
    logger: quiet,
  });
  await waitFor(() => active !== undefined);
  const operator = new MemoryLock({ store });
  await operator.forceRelease("llm");
  const thief = await operator.acquire("llm", "b", { ttlMs: 10_000 });
  assertEquals(thief !== null, true);
  assertEquals(await run, "lost");
  assertEquals(active!.isValid(), false);
});
