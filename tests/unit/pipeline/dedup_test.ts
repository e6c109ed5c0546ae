import { assert, assertEquals, assertThrows } from "../../helpers/assert.ts";
import {
  CLUSTER_MEMBERS_KEY,
  clusterMerge,
  dedupWindow,
  fingerprintBucket,
  fingerprintMerge,
  isClusterMerged,
  MERGE_PROVENANCE_KEY,
  publishable,
} from "../../../pipeline/dedup.ts";
import { Taxonomy } from "../../../pipeline/taxonomy.ts";
import { canonicalJson, KINDS } from "../../../pipeline/canonical_json.ts";
import { idOf, S, sig, T0 } from "./signal_fixtures.ts";

const empty = Taxonomy.fromRelationships([]);

Deno.test("fingerprintBucket: 12:00:07Z ⇒ 12:00:00Z (DOMAIN §14), multiples since the epoch", () => {
  assertEquals(fingerprintBucket(T0 + 7 * S, 30), T0);
  assertEquals(fingerprintBucket(T0 + 29 * S + 999_999, 30), T0);
  assertEquals(fingerprintBucket(T0 + 30 * S, 30), T0 + 30 * S);
  // Not "within the minute only" (upstream bug 9): 45 s buckets still align to the epoch.
  assertEquals(fingerprintBucket(T0 + 50 * S, 45) % (45 * S), 0);
  assertThrows(() => fingerprintBucket(T0, 0), RangeError);
});

Deno.test("fingerprint merge: strongest member's copy, smallest id, earliest time, unions", () => {
  const a = sig({
    signal_id: idOf(30),
    detected_at: T0 + 10 * S,
    magnitude: 0.4,
    confidence: 0.9,
    manipulation_flags: ["pre_resolution_window"],
    related_market_ids: ["z"],
    raw_features: { posterior_p_change: 0.71 },
  });
  const b = sig({
    signal_id: idOf(10),
    detected_at: T0 + 20 * S,
    magnitude: 0.8,
    confidence: 0.2,
    manipulation_flags: ["size_vs_depth_outlier", "pre_resolution_window"],
    related_market_ids: ["y", "z"],
    raw_features: { posterior_p_change: 0.95 },
    direction: -1,
  });
  const c = sig({ signal_id: idOf(20), detected_at: T0 + 5 * S, magnitude: 0.8, confidence: 0.1 });
  const other = sig({ market_id: "m_b", detected_at: T0 + 6 * S });
  const out = fingerprintMerge([a, b, other, c], 30);
  assertEquals(out.length, 2);
  const m = out[0];
  assertEquals(m.signal_id, idOf(10)); // smallest id
  assertEquals(m.detected_at, T0 + 5 * S); // earliest
  assertEquals(m.magnitude, 0.8);
  assertEquals(m.confidence, 0.9); // max independently
  assertEquals(m.direction, -1); // b is best: (0.8, 0.2) > (0.8, 0.1) > (0.4, 0.9)
  assertEquals(m.raw_features.posterior_p_change, 0.95);
  assertEquals(m.manipulation_flags, ["size_vs_depth_outlier", "pre_resolution_window"]);
  assertEquals(m.related_market_ids, ["y", "z"]);
  assertEquals(m.raw_features[MERGE_PROVENANCE_KEY], [idOf(10), idOf(20), idOf(30)].join(","));
  assertEquals(out[1], other); // singleton unchanged, first-appearance order kept
});

Deno.test("fingerprint merge: ties keep the first member; different buckets/types stay apart", () => {
  const first = sig({ detected_at: T0 + 1 * S, direction: 1, raw_features: { k: 1 } });
  const second = sig({ detected_at: T0 + 2 * S, direction: -1, raw_features: { k: 2 } });
  const [merged] = fingerprintMerge([first, second], 30);
  assertEquals(merged.direction, 1);
  assertEquals(merged.raw_features.k, 1);
  const x = sig({ detected_at: T0 + 29 * S });
  const y = sig({ detected_at: T0 + 31 * S });
  const z = sig({ detected_at: T0 + 29 * S, signal_type: "volume_spike" });
  assertEquals(fingerprintMerge([x, y, z], 30).length, 3);
});

Deno.test("cluster merge: representative by tier then market id; related and member ids", () => {
  const taxonomy = Taxonomy.fromRelationships([
    { market_a: "m_low", market_b: "m_high", type: "positive" },
    { market_a: "m_high", market_b: "m_mid", type: "causal" },
  ]);
  const low = sig({
    market_id: "m_low",
    liquidity_tier: "low",
    detected_at: T0,
    magnitude: 0.9,
    related_market_ids: ["q"],
    manipulation_flags: ["pre_resolution_window"],
  });
  const high = sig({
    market_id: "m_high",
    liquidity_tier: "high",
    detected_at: T0 + 60 * S,
    confidence: 0.8,
    direction: -1,
    manipulation_flags: ["single_counterparty_concentration"],
  });
  const out = clusterMerge([high, low], { taxonomy });
  assertEquals(out.length, 1);
  const m = out[0];
  assertEquals(m.signal_id, high.signal_id);
  assertEquals(m.market_id, "m_high");
  assertEquals(m.direction, -1);
  assertEquals(m.detected_at, high.detected_at);
  assertEquals(m.liquidity_tier, "high");
  assertEquals(m.magnitude, 0.9);
  assertEquals(m.confidence, 0.8);
  assertEquals(m.manipulation_flags, [
    "single_counterparty_concentration",
    "pre_resolution_window",
  ]);
  assertEquals(m.related_market_ids, ["m_low", "q"]);
  assertEquals(
    m.raw_features[CLUSTER_MEMBERS_KEY],
    [high.signal_id, low.signal_id].sort().join(","),
  );
  assert(isClusterMerged(m));
  // Same tier: smallest market id wins.
  const t2 = Taxonomy.fromRelationships([{ market_a: "b", market_b: "a", type: "inverse" }]);
  const [r] = clusterMerge(
    [sig({ market_id: "b" }), sig({ market_id: "a", detected_at: T0 + S })],
    {
      taxonomy: t2,
    },
  );
  assertEquals(r.market_id, "a");
});

Deno.test("cluster merge: complex edges, other types, |Δt| > 90 s and non-neighbours never merge", () => {
  const taxonomy = Taxonomy.fromRelationships([
    { market_a: "a", market_b: "b", type: "complex" },
    { market_a: "a", market_b: "c", type: "positive" },
    { market_a: "c", market_b: "d", type: "positive" },
  ]);
  assertEquals(
    clusterMerge([sig({ market_id: "a" }), sig({ market_id: "b" })], { taxonomy }).length,
    2,
  );
  assertEquals(
    clusterMerge([sig({ market_id: "a" }), sig({ market_id: "c", signal_type: "regime_shift" })], {
      taxonomy,
    }).length,
    2,
  );
  assertEquals(
    clusterMerge([sig({ market_id: "a" }), sig({ market_id: "c", detected_at: T0 + 91 * S })], {
      taxonomy,
    }).length,
    2,
  );
  assertEquals(
    clusterMerge([sig({ market_id: "a" }), sig({ market_id: "c", detected_at: T0 + 90 * S })], {
      taxonomy,
    }).length,
    1,
  );
  // Not transitive: anchor a takes c; d (neighbour of c only) stays on its own.
  const out = clusterMerge([
    sig({ market_id: "a" }),
    sig({ market_id: "c", detected_at: T0 + S }),
    sig({ market_id: "d", detected_at: T0 + 2 * S }),
  ], { taxonomy });
  assertEquals(out.map((s) => s.market_id), ["a", "d"]);
  // a and d are not neighbours.
  assertEquals(
    clusterMerge([sig({ market_id: "a" }), sig({ market_id: "d" })], { taxonomy }).length,
    2,
  );
  // Configured types: only positive ⇒ causal edges ignored.
  const t3 = Taxonomy.fromRelationships([{ market_a: "a", market_b: "b", type: "causal" }]);
  assertEquals(
    clusterMerge([sig({ market_id: "a" }), sig({ market_id: "b" })], {
      taxonomy: t3,
      relationshipTypes: ["positive"],
    }).length,
    2,
  );
});

Deno.test("dedupWindow: order-independent, redeliveries absorbed, byte-identical output", () => {
  const taxonomy = Taxonomy.fromRelationships([
    { market_a: "a", market_b: "b", type: "inverse" },
  ]);
  const signals = [
    sig({ market_id: "a", detected_at: T0 + 3 * S, magnitude: 0.3 }),
    sig({ market_id: "a", detected_at: T0 + 4 * S, magnitude: 0.6 }),
    sig({ market_id: "b", detected_at: T0 + 5 * S, liquidity_tier: "high" }),
    sig({ market_id: "c", detected_at: T0 + 1 * S }),
    sig({ market_id: "c", detected_at: T0 + 1 * S, signal_type: "volume_spike" }),
  ];
  const reference = dedupWindow(signals, { taxonomy });
  const print = (xs: typeof reference) => xs.map((s) => canonicalJson(s, KINDS.signal)).join("\n");
  // a's two signals fingerprint-merge, then cluster with b (b is high tier ⇒ representative).
  assertEquals(reference.length, 3);
  assertEquals(reference.map((s) => s.market_id), ["c", "c", "b"]);
  const b = reference[2];
  assertEquals(b.related_market_ids, ["a"]);
  assertEquals(b.magnitude, 0.6);
  assertEquals(
    (b.raw_features[CLUSTER_MEMBERS_KEY] as string).split(",").length,
    2,
  );
  let seed = 7;
  for (let round = 0; round < 20; round++) {
    const shuffled = [...signals, ...signals.slice(0, 2)]; // include redeliveries
    for (let i = shuffled.length - 1; i > 0; i--) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      const j = seed % (i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
    }
    assertEquals(print(dedupWindow(shuffled, { taxonomy })), print(reference));
  }
  assertEquals(dedupWindow([], { taxonomy: empty }), []);
});

Deno.test("dedupWindow honours config (bucket width, cluster window, types)", () => {
  const taxonomy = Taxonomy.fromRelationships([{ market_a: "a", market_b: "b", type: "positive" }]);
  const xs = [sig({ market_id: "a" }), sig({ market_id: "a", detected_at: T0 + 40 * S })];
  assertEquals(dedupWindow(xs, { taxonomy }).length, 2);
  assertEquals(dedupWindow(xs, { taxonomy, config: { fingerprint_bucket_seconds: 60 } }).length, 1);
  const ys = [sig({ market_id: "a" }), sig({ market_id: "b", detected_at: T0 + 20 * S })];
  assertEquals(dedupWindow(ys, { taxonomy, config: { cluster_window_seconds: 10 } }).length, 2);
  assertEquals(dedupWindow(ys, { taxonomy, config: { cluster_relationship_types: [] } }).length, 2);
  assertEquals(dedupWindow(ys, { taxonomy }).length, 1);
});

Deno.test("publishable: everything outside a storm, only cluster-merged in a storm", () => {
  const taxonomy = Taxonomy.fromRelationships([{ market_a: "a", market_b: "b", type: "positive" }]);
  const out = dedupWindow(
    [sig({ market_id: "a" }), sig({ market_id: "b" }), sig({ market_id: "c" })],
    { taxonomy },
  );
  assertEquals(publishable(out, { inStorm: false }).length, 2);
  const storm = publishable(out, { inStorm: true });
  assertEquals(storm.length, 1);
  assert(isClusterMerged(storm[0]));
});
