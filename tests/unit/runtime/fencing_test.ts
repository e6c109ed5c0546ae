import { assertEquals } from "../../helpers/assert.ts";
import { MetricsRegistry } from "../../../adapters/observability/metrics.ts";
import { comparePositions, FenceGate, MemoryFenceRegistry } from "../../../runtime/fencing.ts";

Deno.test("fencing: positions compare numerically for JetStream sequences and Redis ids", () => {
  assertEquals(comparePositions("9", "10"), -1);
  assertEquals(comparePositions("1700000000000-2", "1700000000000-10"), -1);
  assertEquals(comparePositions("1700000000001-0", "1700000000000-10"), 1);
  assertEquals(comparePositions("5", "5"), 0);
});

Deno.test("fencing: older tokens after a newer fence are rejected and counted; earlier backlog kept", async () => {
  const registry = new MemoryFenceRegistry();
  const metrics = new MetricsRegistry();
  const gate = new FenceGate(registry, { metrics });
  await registry.record("S", 1, "1");
  assertEquals(await gate.accepts("S", "5", 1), true);
  await registry.record("S", 2, "10"); // takeover: fence of token 2 at position 10
  assertEquals(await gate.accepts("S", "8", 1), true, "pre-failover backlog is not lost");
  assertEquals(await gate.accepts("S", "12", 1), false, "zombie output after the fence");
  assertEquals(await gate.accepts("S", "13", 2), true);
  // A fresh gate (restart / competing consumer) answers the same.
  const other = new FenceGate(registry, { metrics });
  assertEquals(await other.accepts("S", "12", 1), false);
  assertEquals(await other.accepts("S", "8", 1), true);
  assertEquals(
    metrics.counter("augur_fence_rejected_total", "", ["stream"]).get({ stream: "S" }),
    2,
  );
});
