import { assert, assertEquals } from "../../helpers/assert.ts";
import { WORKER_KINDS, workerCatalog, workerKind } from "../../../runtime/catalog.ts";

Deno.test("the catalog lists every DESIGN §3 kind with a consistent mode", () => {
  const catalog = workerCatalog();
  assertEquals(catalog.map((w) => w.kind), [...WORKER_KINDS]);
  for (const w of catalog) {
    assertEquals(w.replica, w.mode === "partition-ordered", w.kind);
    if (w.mode === "singleton" || w.mode === "partition-ordered") assert(w.lock, w.kind);
    if (w.mode === "partition-ordered") assertEquals(w.lock, `part.${w.kind}.<pp>`);
    if (w.autoscale) assertEquals(w.mode, "competing", w.kind);
  }
  assertEquals(
    catalog.filter((w) => w.mode === "singleton").map((w) => w.kind),
    ["poller", "divergence", "dedup", "llm"],
  );
});

Deno.test("each stage reads what the previous stage writes", () => {
  const out = (kind: string) => workerKind(kind)?.outputs ?? [];
  const inp = (kind: string) => workerKind(kind)?.inputs ?? [];
  assert(out("poller").includes("augur.snapshots.<pp>.<platform>.<m>"));
  assertEquals(inp("feature"), ["augur.snapshots.<pp>.>"]);
  assert(out("feature").includes("augur.features.<pp>.<m>"));
  assertEquals(inp("detector"), ["augur.features.<pp>.>"]);
  assertEquals(inp("calibration"), ["augur.flagged_signals.<pp>"]);
  assertEquals(inp("dedup"), ["augur.calibrated_signals.>", "augur.divergence"]);
  assertEquals(inp("context"), ["augur.signals"]);
  assertEquals(workerKind("feature", { prefix: "x" })?.inputs, ["x.snapshots.<pp>.>"]);
  assertEquals(workerKind("nope"), undefined);
});
