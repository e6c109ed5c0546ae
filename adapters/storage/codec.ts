/**
 * Record ↔ row conversion shared by every backend, batch preparation (dedupe on the natural
 * key, last wins; sort by key so concurrent writers lock rows in the same order), the
 * stable JSON used for JSON TEXT columns, and the order-independent group digest used by
 * `augur verify` (computed in augur over decoded records, never in SQL).
 *
 * @example
 * ```ts
 * import { stableJson } from "./codec.ts";
 * stableJson({ b: 1, a: [true, null] }); // '{"a":[true,null],"b":1}'
 * ```
 * @module
 */

import { createHash } from "node:crypto";
import { MANIPULATION_FLAGS } from "../../pipeline/models.ts";
import type { DigestTable, GroupDigest, TickRecord, TradeRecord } from "./types.ts";
import type {
  FeatureVector,
  MarketSignal,
  MarketSnapshot,
  SignalContext,
} from "../../pipeline/models.ts";
import { type TableName, TABLES } from "./schema.ts";

/** A value bound to SQL (text arrays travel as JSON text). */
export type WireValue = string | number | boolean | null | Uint8Array;

/**
 * JSON with object keys sorted by code point at every level, no whitespace, numbers as
 * JavaScript prints them (shortest round trip, so lossless). Used for JSON TEXT columns.
 *
 * @example
 * ```ts
 * import { stableJson } from "./codec.ts";
 * stableJson({ z: 0.1, a: "x" }); // '{"a":"x","z":0.1}'
 * ```
 */
export function stableJson(value: unknown): string {
  // Most values (platform payloads, feature payloads) already have their keys in order:
  // then the native serializer produces exactly these bytes several times faster.
  if (value !== null && typeof value === "object" && inOrder(value, 0)) {
    return JSON.stringify(value);
  }
  return sortedJson(value);
}

/**
 * Whether `JSON.stringify(value)` equals {@linkcode sortedJson}`(value)`: plain objects and
 * arrays only (no `toJSON`, functions or symbols, no class instances such as Date or Map), each
 * object's keys already in code-point order as `Object.keys` (= `JSON.stringify`) lists
 * them — integer-like keys, which both list first in numeric order, fail that check
 * unless it coincides — and nesting shallow enough not to exhaust the stack.
 */
function inOrder(value: object, depth: number): boolean {
  if (depth > 64 || (value as { toJSON?: unknown }).toJSON !== undefined) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      if (typeof item === "function" || typeof item === "symbol") return false;
      if (item !== null && typeof item === "object" && !inOrder(item, depth + 1)) return false;
    }
    return true;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  const record = value as Record<string, unknown>;
  let previous: string | undefined;
  for (const key in record) {
    // for-in lists own enumerable keys in Object.keys order (plain objects have no
    // enumerable inherited keys; a null-prototype object has none at all).
    if (previous !== undefined && !(previous < key)) return false;
    previous = key;
    const item = record[key];
    if (typeof item === "function" || typeof item === "symbol") return false;
    if (item !== null && typeof item === "object" && !inOrder(item, depth + 1)) return false;
  }
  return true;
}

function sortedJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    const out = JSON.stringify(value);
    return out === undefined ? "null" : out;
  }
  // Loops and string concatenation (no map/filter/join arrays): this runs once per stored row.
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ",";
      out += sortedJson(value[i]);
    }
    return out + "]";
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  for (let i = 1; i < keys.length; i++) {
    if (byCodePoint(keys[i - 1], keys[i]) > 0) {
      keys.sort(byCodePoint);
      break;
    }
  }
  let out = "{";
  let first = true;
  for (let i = 0; i < keys.length; i++) {
    const item = record[keys[i]];
    if (item === undefined) continue;
    if (!first) out += ",";
    first = false;
    out += JSON.stringify(keys[i]) + ":" + sortedJson(item);
  }
  return out + "}";
}

function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Convert a driver value (bigint, numeric string, number) to a JS number. */
export function num(value: unknown): number {
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "string") return Number(value);
  throw new TypeError(`expected a number, received ${typeof value}`);
}

function numOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : num(value);
}

function strOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}

function textArray(value: unknown): string[] {
  if (value === null || value === undefined) return [];
  if (Array.isArray(value)) return value.map(String);
  if (typeof value === "string") return JSON.parse(value) as string[];
  // DuckDB list value objects expose `items`.
  const items = (value as { items?: unknown[] }).items;
  if (Array.isArray(items)) return items.map(String);
  throw new TypeError("expected a text array");
}

/** Per-table conversion between a domain record and the table's columns. */
export interface TableCodec<R> {
  readonly table: TableName;
  /** Column values in `TABLES[table].columns` order. */
  encode(record: R): WireValue[];
  /** The record of a row object keyed by column name. */
  decode(row: Record<string, unknown>): R;
}

/** Feature vector fields stored in `features.payload`. */
const FEATURE_FIELDS = [
  "price_momentum_5m",
  "price_momentum_15m",
  "price_momentum_1h",
  "price_momentum_4h",
  "volatility_5m",
  "volatility_15m",
  "volatility_1h",
  "volatility_4h",
  "volume_ratio_5m",
  "volume_ratio_1h",
  "bid_ask_ratio",
  "spread_pct",
] as const;

/** snapshots ↔ MarketSnapshot. */
export const SNAPSHOT_CODEC: TableCodec<MarketSnapshot> = {
  table: "snapshots",
  encode: (r) => [
    r.market_id,
    r.platform,
    r.timestamp,
    r.last_price,
    r.bid,
    r.ask,
    r.spread,
    r.volume_24h,
    r.liquidity,
    r.question,
    r.resolution_source,
    r.resolution_criteria,
    r.closes_at,
    stableJson(r.raw_json),
    r.schema_version,
  ],
  decode: (row) => ({
    market_id: String(row.market_id),
    platform: row.platform as MarketSnapshot["platform"],
    timestamp: num(row.timestamp),
    last_price: num(row.last_price),
    bid: numOrNull(row.bid),
    ask: numOrNull(row.ask),
    spread: numOrNull(row.spread),
    volume_24h: num(row.volume_24h),
    liquidity: num(row.liquidity),
    question: String(row.question),
    resolution_source: strOrNull(row.resolution_source),
    resolution_criteria: strOrNull(row.resolution_criteria),
    closes_at: numOrNull(row.closes_at),
    raw_json: JSON.parse(String(row.raw_json)),
    schema_version: String(row.schema_version) as MarketSnapshot["schema_version"],
  }),
};

/** The stored key of a trade: its platform id, or `sha256:` + hash of its content. */
export function tradeKey(trade: TradeRecord): string {
  if (trade.trade_id !== null && trade.trade_id !== undefined) return `id:${trade.trade_id}`;
  // Keys listed in code-point order: stableJson takes its native fast path.
  const content = stableJson({
    counterparty: trade.counterparty,
    market_id: trade.market_id,
    platform: trade.platform,
    price: trade.price,
    side: trade.side,
    size: trade.size,
    timestamp: trade.timestamp,
  });
  return "sha256:" + createHash("sha256").update(content).digest("hex").slice(0, 32);
}

/** trades ↔ TradeRecord. */
export const TRADE_CODEC: TableCodec<TradeRecord> = {
  table: "trades",
  encode: (r) => [
    r.market_id,
    r.platform,
    tradeKey(r),
    r.timestamp,
    r.price,
    r.size,
    r.side,
    r.counterparty,
    r.trade_id ?? null,
  ],
  decode: (row) => ({
    market_id: String(row.market_id),
    platform: row.platform as TradeRecord["platform"],
    timestamp: num(row.timestamp),
    price: num(row.price),
    size: num(row.size),
    side: String(row.side),
    counterparty: strOrNull(row.counterparty),
    trade_id: strOrNull(row.trade_id),
  }),
};

/** features ↔ FeatureVector (non-key fields in a JSON payload). */
export const FEATURE_CODEC: TableCodec<FeatureVector> = {
  table: "features",
  encode: (r) => {
    const payload: Record<string, number | null> = {};
    for (const field of FEATURE_FIELDS) payload[field] = r[field];
    return [r.market_id, r.computed_at, stableJson(payload), r.schema_version];
  },
  decode: (row) => {
    const payload = JSON.parse(String(row.payload)) as Record<string, number | null>;
    const out: Record<string, unknown> = {
      market_id: String(row.market_id),
      computed_at: num(row.computed_at),
    };
    for (const field of FEATURE_FIELDS) out[field] = payload[field] ?? null;
    out.schema_version = String(row.schema_version);
    return out as unknown as FeatureVector;
  },
};

/** signals ↔ MarketSignal (flags live in `manipulation_flags`; see {@linkcode flagRows}). */
export const SIGNAL_CODEC: TableCodec<MarketSignal> = {
  table: "signals",
  encode: (r) => [
    r.signal_id,
    r.market_id,
    r.platform,
    r.signal_type,
    r.magnitude,
    r.direction,
    r.confidence,
    r.fdr_adjusted,
    r.detected_at,
    r.window_seconds,
    r.liquidity_tier,
    JSON.stringify(r.related_market_ids ?? []),
    stableJson(r.raw_features),
    r.schema_version,
  ],
  decode: (row) => ({
    signal_id: String(row.signal_id),
    market_id: String(row.market_id),
    platform: row.platform as MarketSignal["platform"],
    signal_type: row.signal_type as MarketSignal["signal_type"],
    magnitude: num(row.magnitude),
    direction: num(row.direction) as MarketSignal["direction"],
    confidence: num(row.confidence),
    fdr_adjusted: Boolean(row.fdr_adjusted),
    detected_at: num(row.detected_at),
    window_seconds: num(row.window_seconds),
    liquidity_tier: row.liquidity_tier as MarketSignal["liquidity_tier"],
    manipulation_flags: [],
    related_market_ids: textArray(row.related_market_ids),
    raw_features: JSON.parse(String(row.raw_features)),
    schema_version: String(row.schema_version) as MarketSignal["schema_version"],
  }),
};

/** The `manipulation_flags` rows of a signal: [signal_id, flag, detected_at]. */
export function flagRows(signal: MarketSignal): WireValue[][] {
  return [...new Set(signal.manipulation_flags ?? [])].map((flag) => [
    signal.signal_id,
    flag,
    signal.detected_at,
  ]);
}

/** Flags sorted in enum order (DOMAIN §2.1), duplicates removed. */
export function orderFlags(flags: Iterable<string>): MarketSignal["manipulation_flags"] {
  const set = new Set(flags);
  return MANIPULATION_FLAGS.filter((flag) => set.has(flag));
}

/** contexts ↔ SignalContext (whole context as stable JSON in `payload`). */
export const CONTEXT_CODEC: TableCodec<SignalContext> = {
  table: "contexts",
  encode: (r) => [r.signal.signal_id, r.signal.detected_at, r.signal.market_id, stableJson(r)],
  decode: (row) => JSON.parse(String(row.payload)) as SignalContext,
};

/** ticks ↔ TickRecord. */
export const TICK_CODEC: TableCodec<TickRecord> = {
  table: "ticks",
  encode: (r) => [r.platform, r.t, r.announced],
  decode: (row) => ({
    platform: row.platform as TickRecord["platform"],
    t: num(row.t),
    announced: num(row.announced),
  }),
};

/**
 * Encode a batch: dedupe on the table key (the last occurrence wins) and sort by key, so
 * concurrent writers take row locks in the same order and `ON CONFLICT DO UPDATE` never
 * sees one key twice in a statement.
 *
 * @example
 * ```ts
 * import { prepareBatch, TICK_CODEC } from "./codec.ts";
 * prepareBatch(TICK_CODEC, [{ platform: "kalshi", t: 2, announced: 1 }, { platform: "kalshi", t: 1, announced: 1 }]);
 * // [["kalshi", 1, 1], ["kalshi", 2, 1]]
 * ```
 */
export function prepareBatch<R>(codec: TableCodec<R>, records: readonly R[]): WireValue[][] {
  return prepareRows(codec.table, records.map((r) => codec.encode(r)));
}

/** Dedupe (last wins) and sort encoded rows of `table` by its key. */
export function prepareRows(table: TableName, rows: readonly WireValue[][]): WireValue[][] {
  const spec = TABLES[table];
  const names = spec.columns.map((col) => col.name);
  const keyIdx = spec.key.map((k) => names.indexOf(k));
  // Key values compare with ===, so equal keys are exactly those whose values are all
  // identical (a number never equals its string spelling); numbers order numerically,
  // everything else by its string form.
  const compare = (a: WireValue[], b: WireValue[]): number => {
    for (let j = 0; j < keyIdx.length; j++) {
      const x = a[keyIdx[j]], y = b[keyIdx[j]];
      if (x === y) continue;
      if (typeof x === "number" && typeof y === "number") return x - y;
      return String(x) < String(y) ? -1 : 1;
    }
    return 0;
  };
  const out = rows.slice();
  for (let i = 1; i < out.length; i++) {
    if (compare(out[i - 1], out[i]) > 0) {
      out.sort(compare); // stable: rows of one key stay in batch order
      break;
    }
  }
  // Equal keys are now adjacent, in batch order: keep the last of each run.
  let kept = 0;
  for (let i = 0; i < out.length; i++) {
    if (kept > 0 && compare(out[kept - 1], out[i]) === 0) out[kept - 1] = out[i];
    else out[kept++] = out[i];
  }
  out.length = kept;
  return out;
}

/** Row objects keyed by column name from positional values. */
export function rowObject(table: TableName, values: readonly WireValue[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  TABLES[table].columns.forEach((col, i) => out[col.name] = values[i]);
  return out;
}

/** The UTC day `YYYY-MM-DD` of an epoch-µs instant. */
export function utcDay(micros: number): string {
  return new Date(Math.floor(micros / 1000)).toISOString().slice(0, 10);
}

const MASK64 = (1n << 64n) - 1n;

/**
 * Order-independent digest per (table, market, UTC day): Σ first 8 bytes (big-endian) of
 * sha256(`<table>\n<stable JSON of the decoded record>`) mod 2^64. Equal content ⇒ equal
 * digest on every backend.
 *
 * @example
 * ```ts
 * import { DigestAccumulator } from "./codec.ts";
 * const acc = new DigestAccumulator("snapshots");
 * acc.add("kalshi_fed", 0, { any: "decoded record" });
 * acc.result(); // [{ table: "snapshots", market_id: "kalshi_fed", day: "1970-01-01", count: 1, digest: "…" }]
 * ```
 */
export class DigestAccumulator {
  readonly #groups = new Map<
    string,
    { market_id: string; day: string; count: number; sum: bigint }
  >();
  constructor(readonly table: DigestTable) {}

  /** Add one decoded record. */
  add(marketId: string, time: number, record: unknown): void {
    const day = utcDay(time);
    const id = `${marketId}\u0000${day}`;
    let group = this.#groups.get(id);
    if (!group) {
      group = { market_id: marketId, day, count: 0, sum: 0n };
      this.#groups.set(id, group);
    }
    const hash = createHash("sha256").update(`${this.table}\n${stableJson(record)}`).digest();
    group.sum = (group.sum + hash.readBigUInt64BE(0)) & MASK64;
    group.count++;
  }

  /** Groups sorted by (market_id, day). */
  result(): GroupDigest[] {
    return [...this.#groups.values()]
      .sort((a, b) =>
        a.market_id === b.market_id
          ? (a.day < b.day ? -1 : a.day > b.day ? 1 : 0)
          : a.market_id < b.market_id
          ? -1
          : 1
      )
      .map((g) => ({
        table: this.table,
        market_id: g.market_id,
        day: g.day,
        count: g.count,
        digest: g.sum.toString(16).padStart(16, "0"),
      }));
  }
}

/** How each digest table finds its market and time in a decoded record. */
export const DIGEST_ACCESS: Record<
  DigestTable,
  { market: (r: never) => string; time: (r: never) => number }
> = {
  snapshots: {
    market: (r: MarketSnapshot) => r.market_id,
    time: (r: MarketSnapshot) => r.timestamp,
  },
  trades: { market: (r: TradeRecord) => r.market_id, time: (r: TradeRecord) => r.timestamp },
  features: {
    market: (r: FeatureVector) => r.market_id,
    time: (r: FeatureVector) => r.computed_at,
  },
  signals: { market: (r: MarketSignal) => r.market_id, time: (r: MarketSignal) => r.detected_at },
  contexts: {
    market: (r: SignalContext) => r.signal.market_id,
    time: (r: SignalContext) => r.signal.detected_at,
  },
};

/** Sort key for signals and contexts: (detected_at, market_id, signal_type, signal_id). */
export function compareSignals(a: MarketSignal, b: MarketSignal): number {
  if (a.detected_at !== b.detected_at) return a.detected_at - b.detected_at;
  for (const k of ["market_id", "signal_type", "signal_id"] as const) {
    if (a[k] !== b[k]) return a[k] < b[k] ? -1 : 1;
  }
  return 0;
}
