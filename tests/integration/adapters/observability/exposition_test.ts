import { assert, assertEquals, assertStringIncludes } from "../../../helpers/assert.ts";
import { MetricsRegistry } from "../../../../adapters/observability/metrics.ts";
import {
  Readiness,
  startObservabilityServer,
} from "../../../../adapters/observability/http_server.ts";
import { requireServices } from "../../../helpers/servers.ts";

function hasPromtool(): boolean {
  try {
    return new Deno.Command("promtool", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

function awkwardRegistry(): MetricsRegistry {
  const registry = new MetricsRegistry();
  const awkward = ['quo"te', "back\\slash", "new\nline", "ünïcødé ✓ 市场", ""];
  const c = registry.counter("augur_bus_published_total", "Messages published.", ["topic"]);
  const g = registry.gauge("augur_singleton_lock_holder", "1 when this replica holds the lock.", [
    "singleton_kind",
    "replica_id",
  ]);
  const h = registry.histogram("augur_transform_seconds", "Transform duration.", ["kind"]);
  awkward.forEach((value, i) => {
    c.inc({ topic: value }, i + 1);
    g.set({ singleton_kind: value, replica_id: `r${i}` }, i % 2);
    h.observe({ kind: value }, i / 10);
  });
  registry.counter("augur_worker_processed_total", "Processed.").inc();
  return registry;
}

Deno.test({
  name: "exposition: awkward label values pass promtool check metrics",
  ignore: !hasPromtool() && !requireServices,
  fn: async () => {
    const text = awkwardRegistry().expose();
    const child = new Deno.Command("promtool", {
      args: ["check", "metrics"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(text));
    await writer.close();
    const out = await child.output();
    const report = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert(out.success, `promtool rejected the exposition:\n${report}\n---\n${text}`);
    // promtool prints lint findings (not errors) on stdout; there must be none.
    assertEquals(report.trim(), "");
  },
});

Deno.test("observability server: /metrics, /healthz, /readyz with registered checks", async () => {
  const registry = awkwardRegistry();
  const readiness = new Readiness();
  let busUp = false;
  readiness.register("bus", () => busUp);
  const server = startObservabilityServer({ hostname: "127.0.0.1", port: 0, registry, readiness });
  try {
    assert(server.port > 0);
    const base = `http://127.0.0.1:${server.port}`;
    const metrics = await fetch(`${base}/metrics`);
    assertEquals(metrics.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    assertStringIncludes(await metrics.text(), "augur_worker_processed_total 1");
    const health = await fetch(`${base}/healthz`);
    assertEquals(await health.json(), { alive: true });
    let ready = await fetch(`${base}/readyz`);
    assertEquals(ready.status, 503);
    assertEquals(await ready.json(), { ready: false, checks: { bus: false } });
    busUp = true;
    ready = await fetch(`${base}/readyz`);
    assertEquals(ready.status, 200);
    await ready.body?.cancel();
    const missing = await fetch(`${base}/nope`);
    assertEquals(missing.status, 404);
    await missing.body?.cancel();
  } finally {
    await server.close();
  }
});
