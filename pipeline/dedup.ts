/**
 * Deduplication (DOMAIN §8): fingerprint merge, then cluster merge, with unions emitted in
 * canonical order (flags in enum order, ids sorted — the DEVIATION from the reference's hash
 * sets). Pure: time is data (`detected_at`), nothing reads a clock.
 *
 * {@linkcode dedupWindow} is the ONE function both the engine and the distributed `dedup`
 * singleton call for a closed data-time window (DESIGN §10): it sorts its input by
 * (detected_at, market_id, signal_type, signal_id), drops repeated signal ids (redeliveries),
 * then merges.
 *
 * @example
 * ```ts
 * import { dedupWindow } from "./dedup.ts";
 * import { Taxonomy } from "./taxonomy.ts";
 * import type { MarketSignal } from "./models.ts";
 * declare const signals: MarketSignal[];
 * const out = dedupWindow(signals, { taxonomy: Taxonomy.fromRelationships([]) });
 * ```
 * @module
 */
import {
  copySignal,
  LIQUIDITY_TIERS,
  MANIPULATION_FLAGS,
  type ManipulationFlag,
  type MarketSignal,
  type RelationshipType,
} from "./models.ts";
import { DEFAULT_CLUSTER_TYPES, type Taxonomy } from "./taxonomy.ts";

/** raw_features key listing the member ids of a fingerprint merge. */
export const MERGE_PROVENANCE_KEY = "merge_provenance";
/** raw_features key listing the member ids of a cluster merge. */
export const CLUSTER_MEMBERS_KEY = "cluster_member_signal_ids";

/** The dedup keys of `dedup.toml` this module uses (a subset of `config.dedup`). */
export interface DedupSettings {
  /** Fingerprint bucket width (default 30). */
  fingerprint_bucket_seconds?: number;
  /** Max |Δt| between a cluster anchor and a member (default 90). */
  cluster_window_seconds?: number;
  /** Edge types that merge clusters (default positive, inverse, causal). */
  cluster_relationship_types?: readonly RelationshipType[];
}

/** Options of {@linkcode dedupWindow}. */
export interface DedupOptions {
  /** Relationship index (both directions). */
  taxonomy: Taxonomy;
  /** `config.dedup` (or a subset); omitted keys take the DOMAIN §12 defaults. */
  config?: DedupSettings;
}

const MICROS = 1_000_000;
const FLAG_RANK = new Map<string, number>(MANIPULATION_FLAGS.map((f, i) => [f, i]));
const TIER_RANK = new Map<string, number>(LIQUIDITY_TIERS.map((t, i) => [t, i]));

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The order DESIGN §10 feeds signals to dedup: (detected_at, market_id, signal_type,
 * signal_id), ascending, by code unit.
 *
 * @example
 * ```ts
 * import { compareSignals } from "./dedup.ts";
 * import type { MarketSignal } from "./models.ts";
 * declare const signals: MarketSignal[];
 * [...signals].sort(compareSignals);
 * ```
 */
export function compareSignals(a: MarketSignal, b: MarketSignal): number {
  return a.detected_at - b.detected_at || cmp(a.market_id, b.market_id) ||
    cmp(a.signal_type, b.signal_type) || cmp(a.signal_id, b.signal_id);
}

/**
 * `detectedAt` (epoch µs) floored to a multiple of `bucketSeconds` since the epoch.
 *
 * @example
 * ```ts
 * import { fingerprintBucket } from "./dedup.ts";
 * fingerprintBucket(Date.UTC(2026, 2, 15, 12, 0, 7) * 1000, 30) ===
 *   Date.UTC(2026, 2, 15, 12, 0, 0) * 1000; // true
 * ```
 */
export function fingerprintBucket(detectedAt: number, bucketSeconds = 30): number {
  if (!Number.isInteger(bucketSeconds) || bucketSeconds <= 0) {
    throw new RangeError(`bucketSeconds: expected a positive integer, received ${bucketSeconds}`);
  }
  const width = bucketSeconds * MICROS;
  return Math.floor(detectedAt / width) * width;
}

/**
 * Flags of all members, unique, in canonical enum order.
 *
 * @example
 * ```ts
 * import { unionFlags } from "./dedup.ts";
 * unionFlags([["pre_resolution_window"], ["size_vs_depth_outlier", "pre_resolution_window"]]);
 * // ["size_vs_depth_outlier", "pre_resolution_window"]
 * ```
 */
export function unionFlags(lists: readonly (readonly ManipulationFlag[])[]): ManipulationFlag[] {
  const seen = new Set<ManipulationFlag>();
  for (const list of lists) for (const f of list) seen.add(f);
  return [...seen].sort((a, b) => (FLAG_RANK.get(a) ?? 99) - (FLAG_RANK.get(b) ?? 99));
}

/**
 * Strings of all lists, unique, sorted by code unit.
 *
 * @example
 * ```ts
 * import { unionSorted } from "./dedup.ts";
 * unionSorted([["b", "a"], ["a", "c"]]); // ["a", "b", "c"]
 * ```
 */
export function unionSorted(lists: readonly (readonly string[])[]): string[] {
  const seen = new Set<string>();
  for (const list of lists) for (const s of list) seen.add(s);
  return [...seen].sort(cmp);
}

/**
 * Fingerprint merge: group by (market_id, signal_type, 30 s bucket) in first-appearance order;
 * singletons pass unchanged; a group becomes a copy of its strongest member (largest
 * (magnitude, confidence), first on ties) with the smallest id, the earliest detected_at, max
 * magnitude and confidence, unioned flags and related ids, and
 * `raw_features.merge_provenance` = sorted member ids joined by `,`.
 *
 * @example
 * ```ts
 * import { fingerprintMerge } from "./dedup.ts";
 * import type { MarketSignal } from "./models.ts";
 * declare const signals: MarketSignal[];
 * fingerprintMerge(signals, 30);
 * ```
 */
export function fingerprintMerge(
  signals: readonly MarketSignal[],
  bucketSeconds = 30,
): MarketSignal[] {
  const groups = new Map<string, MarketSignal[]>();
  for (const s of signals) {
    const key = `${s.market_id}\u0000${s.signal_type}\u0000${
      fingerprintBucket(s.detected_at, bucketSeconds)
    }`;
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [s]);
    else group.push(s);
  }
  const out: MarketSignal[] = [];
  for (const group of groups.values()) {
    out.push(group.length === 1 ? group[0] : mergeFingerprintGroup(group));
  }
  return out;
}

function mergeFingerprintGroup(group: readonly MarketSignal[]): MarketSignal {
  let best = group[0];
  let smallestId = group[0].signal_id;
  let earliest = group[0].detected_at;
  let magnitude = group[0].magnitude;
  let confidence = group[0].confidence;
  for (const s of group.slice(1)) {
    if (
      s.magnitude > best.magnitude ||
      (s.magnitude === best.magnitude && s.confidence > best.confidence)
    ) best = s;
    if (s.signal_id < smallestId) smallestId = s.signal_id;
    if (s.detected_at < earliest) earliest = s.detected_at;
    if (s.magnitude > magnitude) magnitude = s.magnitude;
    if (s.confidence > confidence) confidence = s.confidence;
  }
  const ids = group.map((s) => s.signal_id).sort(cmp);
  return copySignal(best, {
    signal_id: smallestId,
    detected_at: earliest,
    magnitude,
    confidence,
    manipulation_flags: unionFlags(group.map((s) => s.manipulation_flags)),
    related_market_ids: unionSorted(group.map((s) => s.related_market_ids)),
    raw_features: { ...best.raw_features, [MERGE_PROVENANCE_KEY]: ids.join(",") },
  });
}

/** Options of {@linkcode clusterMerge}. */
export interface ClusterOptions {
  /** Relationship index. */
  taxonomy: Taxonomy;
  /** Max |Δt| in seconds between anchor and member (default 90). */
  windowSeconds?: number;
  /** Edge types that cluster (default positive, inverse, causal). */
  relationshipTypes?: readonly RelationshipType[];
}

/**
 * Cluster merge: stable-sort by detected_at; each unconsumed anchor gathers the unconsumed
 * signals of its type on a direct taxonomy neighbour (edge type in `relationshipTypes`) with
 * |Δt| ≤ window. Singletons pass. Otherwise the representative (highest tier, then smallest
 * market_id, then earliest) keeps its id, market, platform, direction, time, window and tier;
 * magnitude and confidence are maxima; flags unioned; related = sorted union of members'
 * related ids and the other members' markets; `raw_features.cluster_member_signal_ids` =
 * sorted member ids joined by `,`. Output in anchor order.
 *
 * @example
 * ```ts
 * import { clusterMerge } from "./dedup.ts";
 * import { Taxonomy } from "./taxonomy.ts";
 * import type { MarketSignal } from "./models.ts";
 * declare const signals: MarketSignal[];
 * clusterMerge(signals, { taxonomy: Taxonomy.fromRelationships([]) });
 * ```
 */
export function clusterMerge(
  signals: readonly MarketSignal[],
  options: ClusterOptions,
): MarketSignal[] {
  const windowUs = (options.windowSeconds ?? 90) * MICROS;
  const types = options.relationshipTypes ?? DEFAULT_CLUSTER_TYPES;
  const sorted = signals.map((s, i) => ({ s, i })).sort((a, b) =>
    a.s.detected_at - b.s.detected_at || a.i - b.i
  ).map((x) => x.s);
  // (signal_type, market_id) → indexes into `sorted`, ascending.
  const index = new Map<string, number[]>();
  for (const [i, s] of sorted.entries()) {
    const key = `${s.signal_type}\u0000${s.market_id}`;
    const list = index.get(key);
    if (list === undefined) index.set(key, [i]);
    else list.push(i);
  }
  const consumed = new Uint8Array(sorted.length);
  const neighbourCache = new Map<string, string[]>();
  const out: MarketSignal[] = [];
  for (let a = 0; a < sorted.length; a++) {
    if (consumed[a]) continue;
    const anchor = sorted[a];
    consumed[a] = 1;
    let neighbours = neighbourCache.get(anchor.market_id);
    if (neighbours === undefined) {
      neighbours = options.taxonomy.clusterFor(anchor.market_id, types);
      neighbourCache.set(anchor.market_id, neighbours);
    }
    const memberIdx: number[] = [];
    for (const market of neighbours) {
      const list = index.get(`${anchor.signal_type}\u0000${market}`);
      if (list === undefined) continue;
      for (const j of list) {
        if (consumed[j]) continue;
        if (Math.abs(sorted[j].detected_at - anchor.detected_at) <= windowUs) memberIdx.push(j);
      }
    }
    if (memberIdx.length === 0) {
      out.push(anchor);
      continue;
    }
    memberIdx.sort((x, y) => x - y);
    for (const j of memberIdx) consumed[j] = 1;
    out.push(mergeCluster([anchor, ...memberIdx.map((j) => sorted[j])]));
  }
  return out;
}

function mergeCluster(members: readonly MarketSignal[]): MarketSignal {
  let rep = members[0];
  let magnitude = rep.magnitude;
  let confidence = rep.confidence;
  for (const s of members.slice(1)) {
    const dt = (TIER_RANK.get(s.liquidity_tier) ?? 9) - (TIER_RANK.get(rep.liquidity_tier) ?? 9);
    if (dt < 0 || (dt === 0 && s.market_id < rep.market_id)) rep = s;
    if (s.magnitude > magnitude) magnitude = s.magnitude;
    if (s.confidence > confidence) confidence = s.confidence;
  }
  const otherMarkets = members.map((s) => s.market_id).filter((m) => m !== rep.market_id);
  const ids = members.map((s) => s.signal_id).sort(cmp);
  return copySignal(rep, {
    magnitude,
    confidence,
    manipulation_flags: unionFlags(members.map((s) => s.manipulation_flags)),
    related_market_ids: unionSorted([...members.map((s) => s.related_market_ids), otherMarkets]),
    raw_features: { ...rep.raw_features, [CLUSTER_MEMBERS_KEY]: ids.join(",") },
  });
}

/**
 * Sort by (detected_at, market_id, signal_type, signal_id) and keep the first of each
 * repeated signal id (redeliveries are absorbed: dedup keys on signal id).
 *
 * @example
 * ```ts
 * import { sortAndDropRepeats } from "./dedup.ts";
 * import type { MarketSignal } from "./models.ts";
 * declare const signals: MarketSignal[];
 * sortAndDropRepeats([...signals, ...signals]).length <= signals.length; // true
 * ```
 */
export function sortAndDropRepeats(signals: readonly MarketSignal[]): MarketSignal[] {
  const sorted = [...signals].sort(compareSignals);
  const seen = new Set<string>();
  const out: MarketSignal[] = [];
  for (const s of sorted) {
    if (seen.has(s.signal_id)) continue;
    seen.add(s.signal_id);
    out.push(s);
  }
  return out;
}

/**
 * Dedup one closed window: sort (DESIGN §10), drop repeated ids, fingerprint merge, cluster
 * merge. Same input multiset ⇒ same output, whatever the arrival order.
 *
 * @param signals the window's calibrated signals (any order)
 * @param options taxonomy and `config.dedup`
 * @returns surviving signals in anchor (detected_at) order
 *
 * @example
 * ```ts
 * import { dedupWindow } from "./dedup.ts";
 * import { Taxonomy } from "./taxonomy.ts";
 * dedupWindow([], { taxonomy: Taxonomy.fromRelationships([]) }); // []
 * ```
 */
export function dedupWindow(
  signals: readonly MarketSignal[],
  options: DedupOptions,
): MarketSignal[] {
  const config = options.config ?? {};
  const unique = sortAndDropRepeats(signals);
  const fingerprinted = fingerprintMerge(unique, config.fingerprint_bucket_seconds ?? 30);
  return clusterMerge(fingerprinted, {
    taxonomy: options.taxonomy,
    windowSeconds: config.cluster_window_seconds ?? 90,
    relationshipTypes: config.cluster_relationship_types ?? DEFAULT_CLUSTER_TYPES,
  });
}

/**
 * Whether a signal is the product of a cluster merge (carries `cluster_member_signal_ids`).
 *
 * @example
 * ```ts
 * import { isClusterMerged } from "./dedup.ts";
 * import type { MarketSignal } from "./models.ts";
 * declare const s: MarketSignal;
 * isClusterMerged(s);
 * ```
 */
export function isClusterMerged(signal: MarketSignal): boolean {
  return typeof signal.raw_features[CLUSTER_MEMBERS_KEY] === "string";
}

/**
 * The signals to publish: all of them outside a storm; in a storm only cluster-merged ones
 * (DOMAIN §8 "In storm: publish only cluster-merged signals (persist everything)").
 *
 * @example
 * ```ts
 * import { publishable } from "./dedup.ts";
 * publishable([], { inStorm: true }); // []
 * ```
 */
export function publishable(
  signals: readonly MarketSignal[],
  options: { inStorm: boolean },
): MarketSignal[] {
  return options.inStorm ? signals.filter(isClusterMerged) : [...signals];
}
