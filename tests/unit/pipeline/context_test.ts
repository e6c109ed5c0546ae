import { assert, assertEquals, assertThrows } from "../../helpers/assert.ts";
import {
  assembleContext,
  type ContextDeps,
  gatherContextInputs,
  memorySnapshotLookup,
  MissingMetadataError,
  priorSnapshot,
  type SnapshotLookup,
} from "../../../pipeline/context.ts";
import { canonicalJson, KINDS } from "../../../pipeline/canonical_json.ts";
import { SignalContextSchema } from "../../../pipeline/models.ts";
import { PromptLibrary, PromptLibraryError } from "../../../pipeline/prompts.ts";
import { Taxonomy } from "../../../pipeline/taxonomy.ts";
import {
  REFERENCE_CONTEXT_JSON,
  referenceSignal,
  referenceSnapshots,
  S,
  sig,
  snap,
  T0,
} from "./signal_fixtures.ts";

const DAY = 86_400 * S;

function referenceDeps(): ContextDeps {
  return {
    taxonomy: Taxonomy.fromRelationships([
      { market_a: "kalshi_fed", market_b: "kalshi_fed_holds", type: "inverse", strength: 0.9 },
    ]),
    prompts: PromptLibrary.fromEntries([
      {
        signal_type: "volume_spike",
        market_category: "monetary_policy",
        prompts: ["Check FOMC calendar."],
      },
    ]),
    categories: { kalshi_fed: "monetary_policy", kalshi_fed_holds: "monetary_policy" },
  };
}

Deno.test("context: DOMAIN §14 canonical JSON reference vector, byte for byte", async () => {
  const deps = referenceDeps();
  const signal = referenceSignal();
  const lookup = memorySnapshotLookup(referenceSnapshots());
  const inputs = await gatherContextInputs(signal, { lookup, taxonomy: deps.taxonomy });
  const context = assembleContext(signal, inputs, deps);
  assertEquals(canonicalJson(context, KINDS.context), REFERENCE_CONTEXT_JSON);
  assert(SignalContextSchema.safeParse(context).success);
});

Deno.test("context: same inputs twice ⇒ byte-identical canonical JSON (async lookup too)", async () => {
  const deps = referenceDeps();
  const signal = referenceSignal();
  const sync = memorySnapshotLookup(referenceSnapshots());
  const asyncLookup: SnapshotLookup = {
    latestSnapshot: (m, t) => Promise.resolve(sync.latestSnapshot(m, t)),
    oldestSnapshotIn: (m, a, b) => Promise.resolve(sync.oldestSnapshotIn(m, a, b)),
  };
  const run = async (lookup: SnapshotLookup) =>
    canonicalJson(
      assembleContext(
        signal,
        await gatherContextInputs(signal, { lookup, taxonomy: deps.taxonomy }),
        deps,
      ),
      KINDS.context,
    );
  const a = await run(sync);
  const b = await run(sync);
  const c = await run(asyncLookup);
  assertEquals(a, b);
  assertEquals(a, c);
});

Deno.test("context: related facts on a hand-built store (prior = oldest in 24 h, as of detected_at)", async () => {
  const now = T0;
  const taxonomy = Taxonomy.fromRelationships([
    { market_a: "x", market_b: "main", type: "positive", strength: 0.7 }, // reverse edge
    { market_a: "main", market_b: "y", type: "complex", strength: 0.3 },
    { market_a: "main", market_b: "nodata", type: "causal" },
    { market_a: "other", market_b: "y", type: "positive" }, // not ours
  ]);
  const store = [
    snap({ market_id: "main", timestamp: now - 30 * S }),
    snap({ market_id: "main", timestamp: now + 30 * S, question: "LATER" }), // after detected_at
    snap({ market_id: "x", timestamp: now - 2 * DAY, last_price: 0.1 }), // outside 24 h
    snap({ market_id: "x", timestamp: now - DAY - 61 * S, last_price: 0.15 }), // L − 24 h − 1 s: outside
    snap({ market_id: "x", timestamp: now - DAY + 10 * S, last_price: 0.2 }), // prior
    snap({ market_id: "x", timestamp: now - 60 * S, last_price: 0.3, volume_24h: 1234 }),
    snap({ market_id: "x", timestamp: now + 60 * S, last_price: 0.9 }), // after detected_at
    snap({ market_id: "y", timestamp: now - 5 * S, last_price: 0.6, question: "Y?" }), // only one
  ];
  const deps: ContextDeps = {
    taxonomy,
    prompts: PromptLibrary.fromEntries([]),
    categories: new Map(),
  };
  const signal = sig({ market_id: "main", detected_at: now });
  const inputs = await gatherContextInputs(signal, {
    lookup: memorySnapshotLookup(store),
    taxonomy,
  });
  const ctx = assembleContext(signal, inputs, deps);
  assertEquals(ctx.market_question, "Question?");
  assertEquals(ctx.related_markets.map((r) => r.market_id), ["x", "y"]); // config order, nodata skipped
  const [x, y] = ctx.related_markets;
  assertEquals(x.current_price, 0.3);
  assertEquals(x.volume_24h, 1234);
  assertEquals(Math.round(x.delta_24h * 1e9) / 1e9, 0.1);
  assertEquals(x.relationship_type, "positive");
  assertEquals(x.relationship_strength, 0.7);
  assertEquals(y.delta_24h, 0); // prior = latest
  assertEquals(y.relationship_type, "complex");
  assertEquals(ctx.investigation_prompts, []); // unknown category ⇒ ""
});

Deno.test("context: missing snapshot or null closes_at fails only that signal (typed error)", () => {
  const deps = referenceDeps();
  const signals = [sig({ market_id: "a" }), sig({ market_id: "b" }), sig({ market_id: "c" })];
  const lookup = memorySnapshotLookup([
    snap({ market_id: "a" }),
    snap({ market_id: "c", closes_at: null }),
  ]);
  const ok: string[] = [];
  const failed: string[] = [];
  for (const s of signals) {
    try {
      const snapshot = lookup.latestSnapshot(s.market_id, s.detected_at) as
        | ReturnType<
          typeof snap
        >
        | null;
      assembleContext(s, { snapshot, related: new Map() }, deps);
      ok.push(s.market_id);
    } catch (error) {
      assert(error instanceof MissingMetadataError);
      failed.push(`${error.market_id}:${error.reason}`);
      assertEquals(error.signal_id, s.signal_id);
    }
  }
  assertEquals(ok, ["a"]);
  assertEquals(failed, ["b:no_snapshot", "c:null_closes_at"]);
  const e = assertThrows(
    () => assembleContext(signals[1], { snapshot: null, related: new Map() }, deps),
    MissingMetadataError,
  );
  assertEquals(e.exitCode, 1);
});

Deno.test("context: criteria/source null ⇒ empty strings; prompts by (type, category)", () => {
  const deps = referenceDeps();
  const s = sig({ market_id: "kalshi_fed", signal_type: "volume_spike" });
  const ctx = assembleContext(s, {
    snapshot: snap({ market_id: "kalshi_fed", resolution_criteria: null, resolution_source: null }),
    related: new Map(),
  }, deps);
  assertEquals([ctx.resolution_criteria, ctx.resolution_source], ["", ""]);
  assertEquals(ctx.investigation_prompts, ["Check FOMC calendar."]);
  const pv = assembleContext(sig({ market_id: "kalshi_fed" }), {
    snapshot: snap(),
    related: new Map(),
  }, deps);
  assertEquals(pv.investigation_prompts, []);
});

Deno.test("priorSnapshot: oldest within [L − 24 h, L], else L", () => {
  const l = snap({ timestamp: T0 });
  assertEquals(priorSnapshot(l, []), l);
  const edge = snap({ timestamp: T0 - DAY });
  assertEquals(priorSnapshot(l, [snap({ timestamp: T0 - DAY - 1 }), edge, l]), edge);
});

Deno.test("taxonomy: both directions, config order, cluster_for excludes complex by default", () => {
  const t = Taxonomy.fromRelationships([
    { market_a: "a", market_b: "b", type: "positive", strength: 0.4, source: "manual" },
    { market_a: "c", market_b: "a", type: "complex" },
    { market_a: "a", market_b: "d", type: "causal" },
  ]);
  assertEquals(t.edgesOf("a").map((e) => [e.market_a, e.market_b, e.relationship_type]), [
    ["a", "b", "positive"],
    ["a", "c", "complex"],
    ["a", "d", "causal"],
  ]);
  assertEquals(t.edgesOf("b")[0], {
    market_a: "b",
    market_b: "a",
    relationship_type: "positive",
    strength: 0.4,
    source: "manual",
  });
  assertEquals(t.clusterFor("a"), ["b", "d"]);
  assertEquals(t.clusterFor("c"), []);
  assertEquals(t.clusterFor("c", ["complex"]), ["a"]);
  assertEquals(t.edgesOf("zzz"), []);
});

Deno.test("prompt library: duplicates rejected, immutable, coverage report", () => {
  const entry = {
    signal_type: "price_velocity" as const,
    market_category: "monetary_policy",
    prompts: ["p"],
  };
  assertThrows(() => PromptLibrary.fromEntries([entry, entry]), PromptLibraryError, "duplicate");
  const lib = PromptLibrary.fromEntries([entry]);
  assertEquals(lib.get("price_velocity", "monetary_policy"), ["p"]);
  assertThrows(
    () => (lib.get("price_velocity", "monetary_policy") as string[]).push("x"),
    TypeError,
  );
  const cov = lib.coverage(["monetary_policy", "inflation", ""]);
  assertEquals(cov.covered, [{
    signal_type: "price_velocity",
    market_category: "monetary_policy",
  }]);
  assertEquals(cov.missing.length, 9);
  assertEquals(cov.missing[0], { signal_type: "price_velocity", market_category: "inflation" });
});
