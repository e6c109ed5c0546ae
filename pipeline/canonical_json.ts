/**
 * Canonical JSON (DOMAIN §10) and the wire codec built on the same printer.
 *
 * Two renderings of one record layout ({@linkcode Kind}):
 * - {@linkcode canonicalJson}: exactly DOMAIN §10 — fixed key orders for context, signal and
 *   related market, sorted keys elsewhere, floats rounded to 6 decimals (correctly rounded,
 *   exact ties to even) and printed Python-`repr` style, datetimes as ISO `Z` strings. This is
 *   the formatter output; it is lossy (rounding).
 * - {@linkcode encode} / {@linkcode decode}: the wire and storage form (DESIGN §10). Same key
 *   orders and number printer, but floats are NOT rounded and times stay integer epoch
 *   microseconds, so `decode(encode(x), kind)` deep-equals `x`. Byte-stable.
 *
 * `decode` accepts times either as integer microseconds or as ISO strings, then validates with
 * the kind's zod schema and throws {@linkcode DecodeError} with the field path on failure.
 *
 * @example
 * ```ts
 * import { canonicalJson, decode, encode, KINDS } from "./canonical_json.ts";
 * const edge = { market_a: "a", market_b: "b", relationship_type: "inverse" as const,
 *   strength: 0.5, source: "manual" as const };
 * canonicalJson(edge, KINDS.taxonomyEdge);
 * // '{"market_a":"a","market_b":"b","relationship_type":"inverse","source":"manual","strength":0.5}'
 * decode(encode(edge, KINDS.taxonomyEdge), KINDS.taxonomyEdge); // deep-equals edge
 * ```
 * @module
 */
import type { z } from "zod";
import { AugurError } from "../config/errors.ts";
import {
  BookEventSchema,
  CandidateMessageSchema,
  DriftReportSchema,
  FeaturesMessageSchema,
  FeatureVectorSchema,
  FprRecordSchema,
  IntelligenceBriefSchema,
  MarketSignalSchema,
  MarketSnapshotSchema,
  RawTradeSchema,
  RelatedMarketStateSchema,
  ReliabilityCurveSchema,
  SignalContextSchema,
  SnapshotMessageSchema,
  StormStateSchema,
  TaxonomyEdgeSchema,
} from "./models.ts";

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/** Bytes that are not valid JSON for the expected kind. The message names the field path. */
export class DecodeError extends AugurError {
  /** Dotted path of the offending field (`""` for the whole document). */
  readonly path: string;
  constructor(kind: string, path: string, detail: string, options?: ErrorOptions) {
    super(`cannot decode ${kind}: ${path === "" ? "<root>" : path}: ${detail}`, options);
    this.name = "DecodeError";
    this.path = path;
  }
}

/** A value that cannot be encoded (NaN, Infinity, missing field, bad type). */
export class EncodeError extends AugurError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "EncodeError";
  }
}

// ---------------------------------------------------------------------------------------
// Layout descriptors
// ---------------------------------------------------------------------------------------

/**
 * How a value is printed:
 * `float` (rounded in canonical mode), `int`, `time` (epoch µs), `string`, `bool`,
 * `scalar` (float or string, as in raw_features), `json` (arbitrary JSON: keys sorted, numbers
 * printed losslessly), or a nullable / array / object / record wrapper. Object fields print in
 * `order` when given, else sorted by code point.
 */
export type Layout =
  | "float"
  | "int"
  | "time"
  | "string"
  | "bool"
  | "scalar"
  | "json"
  | { readonly nullable: Layout }
  | { readonly array: Layout }
  | { readonly object: Readonly<Record<string, Layout>>; readonly order?: readonly string[] }
  | { readonly record: Layout };

/** A record kind: its name, print layout and zod schema. */
export interface Kind<T> {
  readonly name: string;
  readonly layout: Layout;
  readonly schema: z.ZodType<T, unknown>;
}

/**
 * Build a kind.
 *
 * @example
 * ```ts
 * import { defineKind } from "./canonical_json.ts";
 * import { z } from "zod";
 * const k = defineKind("pair", { object: { a: "int" } }, z.strictObject({ a: z.int() }));
 * ```
 */
export function defineKind<T>(
  name: string,
  layout: Layout,
  schema: z.ZodType<T, unknown>,
): Kind<T> {
  return { name, layout, schema };
}

const nullable = (l: Layout): Layout => ({ nullable: l });
const array = (l: Layout): Layout => ({ array: l });

const SIGNAL_LAYOUT: Layout = {
  object: {
    signal_id: "string",
    market_id: "string",
    platform: "string",
    signal_type: "string",
    magnitude: "float",
    direction: "int",
    confidence: "float",
    fdr_adjusted: "bool",
    detected_at: "time",
    window_seconds: "int",
    liquidity_tier: "string",
    manipulation_flags: array("string"),
    related_market_ids: array("string"),
    raw_features: { record: "scalar" },
    schema_version: "string",
  },
  order: [
    "signal_id",
    "market_id",
    "platform",
    "signal_type",
    "magnitude",
    "direction",
    "confidence",
    "fdr_adjusted",
    "detected_at",
    "window_seconds",
    "liquidity_tier",
    "manipulation_flags",
    "related_market_ids",
    "raw_features",
    "schema_version",
  ],
};

const RELATED_LAYOUT: Layout = {
  object: {
    market_id: "string",
    question: "string",
    current_price: "float",
    delta_24h: "float",
    volume_24h: "float",
    relationship_type: "string",
    relationship_strength: "float",
  },
  order: [
    "market_id",
    "question",
    "current_price",
    "delta_24h",
    "volume_24h",
    "relationship_type",
    "relationship_strength",
  ],
};

const CONTEXT_LAYOUT: Layout = {
  object: {
    signal: SIGNAL_LAYOUT,
    market_question: "string",
    resolution_criteria: "string",
    resolution_source: "string",
    closes_at: "time",
    related_markets: array(RELATED_LAYOUT),
    investigation_prompts: array("string"),
    interpretation_mode: "string",
    schema_version: "string",
  },
  order: [
    "signal",
    "market_question",
    "resolution_criteria",
    "resolution_source",
    "closes_at",
    "related_markets",
    "investigation_prompts",
    "interpretation_mode",
    "schema_version",
  ],
};

const SNAPSHOT_LAYOUT: Layout = {
  object: {
    market_id: "string",
    platform: "string",
    timestamp: "time",
    last_price: "float",
    bid: nullable("float"),
    ask: nullable("float"),
    spread: nullable("float"),
    volume_24h: "float",
    liquidity: "float",
    question: "string",
    resolution_source: nullable("string"),
    resolution_criteria: nullable("string"),
    closes_at: nullable("time"),
    raw_json: "json",
    schema_version: "string",
  },
};

const FEATURE_LAYOUT: Layout = {
  object: {
    market_id: "string",
    computed_at: "time",
    price_momentum_5m: "float",
    price_momentum_15m: "float",
    price_momentum_1h: "float",
    price_momentum_4h: "float",
    volatility_5m: "float",
    volatility_15m: "float",
    volatility_1h: "float",
    volatility_4h: "float",
    volume_ratio_5m: "float",
    volume_ratio_1h: "float",
    bid_ask_ratio: nullable("float"),
    spread_pct: nullable("float"),
    schema_version: "string",
  },
};

const TRADE_LAYOUT: Layout = {
  object: {
    market_id: "string",
    platform: "string",
    timestamp: "time",
    price: "float",
    size: "float",
    side: "string",
    counterparty: nullable("string"),
  },
};

const BOOK_EVENT_LAYOUT: Layout = {
  object: { market_id: "string", timestamp: "time", kind: "string", size: "float" },
};

const LEVELS: Layout = array(array("float"));

/** Kinds of every record and wire payload. */
export const KINDS = {
  snapshot: defineKind("MarketSnapshot", SNAPSHOT_LAYOUT, MarketSnapshotSchema),
  features: defineKind("FeatureVector", FEATURE_LAYOUT, FeatureVectorSchema),
  signal: defineKind("MarketSignal", SIGNAL_LAYOUT, MarketSignalSchema),
  relatedMarket: defineKind("RelatedMarketState", RELATED_LAYOUT, RelatedMarketStateSchema),
  context: defineKind("SignalContext", CONTEXT_LAYOUT, SignalContextSchema),
  brief: defineKind("IntelligenceBrief", {
    object: {
      brief_id: "string",
      signal_id: "string",
      headline: "string",
      body_markdown: "string",
      severity: "string",
      actionable_for: array("string"),
      interpretation_mode: "string",
      model: "string",
      prompt_hash: "string",
      formatter_version: "string",
      generated_at: "time",
      forbidden_token_check: "string",
      schema_version: "string",
    },
  }, IntelligenceBriefSchema),
  trade: defineKind("RawTrade", TRADE_LAYOUT, RawTradeSchema),
  bookEvent: defineKind("BookEvent", BOOK_EVENT_LAYOUT, BookEventSchema),
  taxonomyEdge: defineKind("TaxonomyEdge", {
    object: {
      market_a: "string",
      market_b: "string",
      relationship_type: "string",
      strength: "float",
      source: "string",
    },
  }, TaxonomyEdgeSchema),
  reliabilityCurve: defineKind("ReliabilityCurve", {
    object: {
      detector_id: "string",
      liquidity_tier: "string",
      curve_version: "string",
      deciles: LEVELS,
      built_at: "time",
    },
  }, ReliabilityCurveSchema),
  fprRecord: defineKind("FprRecord", {
    object: {
      detector_id: "string",
      market_id: "string",
      fpr: "float",
      sample_size: "int",
      computed_at: "time",
      label_protocol_version: "string",
    },
  }, FprRecordSchema),
  driftReport: defineKind("DriftReport", {
    object: {
      detector_id: "string",
      psi: "float",
      ks_statistic: "float",
      ks_p_value: "float",
      triggered: "bool",
      triggered_metrics: array("string"),
      checked_at: "time",
    },
  }, DriftReportSchema),
  stormState: defineKind("StormState", {
    object: { in_storm: "bool", started_at: nullable("time"), ended_at: nullable("time") },
  }, StormStateSchema),
  snapshotMessage: defineKind("SnapshotMessage", {
    object: {
      now: "time",
      snapshot: SNAPSHOT_LAYOUT,
      trades: array(TRADE_LAYOUT),
      book_events: array(BOOK_EVENT_LAYOUT),
      book: nullable({ object: { bids: LEVELS, asks: LEVELS } }),
      bid_depth: nullable("float"),
      ask_depth: nullable("float"),
    },
  }, SnapshotMessageSchema),
  featuresMessage: defineKind("FeaturesMessage", {
    object: {
      now: "time",
      features: FEATURE_LAYOUT,
      snapshot: SNAPSHOT_LAYOUT,
      trades: array(TRADE_LAYOUT),
      book_events: array(BOOK_EVENT_LAYOUT),
    },
  }, FeaturesMessageSchema),
  candidateMessage: defineKind("CandidateMessage", {
    object: {
      signal: SIGNAL_LAYOUT,
      closes_at: nullable("time"),
      evidence: {
        object: {
          trades: array(TRADE_LAYOUT),
          book_events: array(BOOK_EVENT_LAYOUT),
          snapshots: array(SNAPSHOT_LAYOUT),
        },
      },
    },
  }, CandidateMessageSchema),
} as const;

// ---------------------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------------------

const TWO52 = 4503599627370496;
const POW10: number[] = [];
for (let d = 0; d <= 22; d++) POW10.push(Number(`1e${d}`));

/**
 * Round `x` to `decimals` places like Python's `round(x, decimals)`: correctly rounded from the
 * exact binary value, exact ties to even, result the nearest double. Preserves the sign of a
 * negative value that rounds to zero (`-0`).
 *
 * @example
 * ```ts
 * import { roundHalfEven } from "./canonical_json.ts";
 * roundHalfEven(0.0078125, 6); // 0.007812 (exact tie, to even)
 * roundHalfEven(-0.0235432, 6); // -0.023543
 * ```
 */
export function roundHalfEven(x: number, decimals: number): number {
  if (!Number.isFinite(x)) throw new EncodeError(`expected a finite number, received ${x}`);
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > 18) {
    throw new EncodeError(`expected decimals in 0..18, received ${decimals}`);
  }
  if (Number.isInteger(x)) return x;
  const scale = POW10[decimals];
  const t = x * scale;
  const at = Math.abs(t);
  let n: number;
  if (at < TWO52) {
    const f = Math.floor(t);
    const frac = t - f; // exact
    const margin = at * 2.3e-16 + 1e-300;
    if (Math.abs(frac - 0.5) > margin) {
      n = frac > 0.5 ? f + 1 : f;
      if (n === 0) return x < 0 ? -0 : 0;
      return n / scale;
    }
  }
  // Slow path: near a tie, or |x·10^d| ≥ 2^52.
  // Exact tie ⇔ x·2^(d+1) is an odd integer (every double is dyadic).
  const j = x * 2 ** (decimals + 1);
  if (Number.isInteger(j) && Math.abs(j % 2) === 1) {
    // x·10^d = j·5^d / 2 exactly; N is odd; candidates (|N|−1)/2 and (|N|+1)/2.
    const big = BigInt(Math.abs(j)) * 5n ** BigInt(decimals);
    let k = (big - 1n) / 2n;
    if (k % 2n === 1n) k += 1n;
    if (k === 0n) return x < 0 ? -0 : 0;
    const v = Number(`${k}e-${decimals}`);
    return x < 0 ? -v : v;
  }
  if (Math.abs(x) >= 1e21) return x;
  const v = Number(x.toFixed(decimals));
  return v === 0 && x < 0 ? -0 : v;
}

/**
 * Print a finite double the way Python's `repr(float)` does: shortest round-trip digits,
 * `.0` on integral values, exponent form when the decimal exponent is < −4 or ≥ 16 (sign and at
 * least two exponent digits), `-0.0` for negative zero.
 *
 * @example
 * ```ts
 * import { formatFloat } from "./canonical_json.ts";
 * formatFloat(85000); // "85000.0"
 * formatFloat(0.000012); // "1.2e-05"
 * formatFloat(1e16); // "1e+16"
 * ```
 */
export function formatFloat(y: number): string {
  if (y === 0) return 1 / y < 0 ? "-0.0" : "0.0";
  const a = y < 0 ? -y : y;
  if (a >= 1e-4 && a < 1e16) {
    const s = "" + y;
    return Number.isInteger(y) ? s + ".0" : s;
  }
  if (!Number.isFinite(y)) throw new EncodeError(`expected a finite number, received ${y}`);
  const e = y.toExponential();
  const i = e.indexOf("e");
  const digits = e.slice(i + 2);
  return e.slice(0, i + 2) + (digits.length < 2 ? "0" + digits : digits);
}

// ---------------------------------------------------------------------------------------
// Times
// ---------------------------------------------------------------------------------------

let cachedSecond = NaN;
let cachedPrefix = "";

/**
 * Format epoch microseconds as `YYYY-MM-DDTHH:MM:SS[.ffffff]Z`. Safe-integer microseconds
 * span roughly the years 1685–2255.
 *
 * @example
 * ```ts
 * import { formatIsoMicros } from "./canonical_json.ts";
 * formatIsoMicros(1773576007000000); // "2026-03-15T12:00:07Z"
 * formatIsoMicros(1773576007000001); // "2026-03-15T12:00:07.000001Z"
 * ```
 */
export function formatIsoMicros(us: number): string {
  if (!Number.isSafeInteger(us)) {
    throw new EncodeError(`expected integer epoch microseconds (safe integer), received ${us}`);
  }
  const frac = ((us % 1_000_000) + 1_000_000) % 1_000_000;
  const second = (us - frac) / 1_000_000;
  if (second !== cachedSecond) {
    cachedPrefix = new Date(second * 1000).toISOString().slice(0, 19);
    cachedSecond = second;
  }
  if (frac === 0) return cachedPrefix + "Z";
  return cachedPrefix + "." + String(frac).padStart(6, "0") + "Z";
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?:Z|\+00:00)$/;

/**
 * Parse an ISO UTC datetime (`Z` or `+00:00`, up to 6 fraction digits) into epoch µs.
 * Returns `null` when the text is not such a datetime.
 *
 * @example
 * ```ts
 * import { parseIsoMicros } from "./canonical_json.ts";
 * parseIsoMicros("2026-03-15T12:00:07.5Z"); // 1773576007500000
 * ```
 */
export function parseIsoMicros(text: string): number | null {
  const m = ISO.exec(text);
  if (m === null) return null;
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i]));
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  if (date.getUTCDate() !== day) return null; // e.g. Feb 30
  const fraction = m[7] === undefined ? 0 : Number(m[7].padEnd(6, "0"));
  const us = date.getTime() * 1000 + fraction;
  return Number.isSafeInteger(us) ? us : null;
}

// ---------------------------------------------------------------------------------------
// Encoder
// ---------------------------------------------------------------------------------------

/** Printing options. */
export interface PrintOptions {
  /** Round floats to this many decimals (DOMAIN §10: 6); null = lossless. */
  readonly floatDecimals: number | null;
  /** Print times as ISO strings or as integer epoch microseconds. */
  readonly times: "iso" | "micros";
}

type Printer = (value: unknown) => string;

/** Internal: a bad value somewhere below; containers prepend their segment on the way up. */
class FieldError extends Error {
  readonly segments: (string | number)[] = [];
  constructor(readonly detail: string) {
    super(detail);
  }
}

/** Render path segments as `a.b[0].c`. */
function renderPath(segments: readonly (string | number)[]): string {
  let out = "";
  for (const s of segments) {
    out += typeof s === "number" ? `[${s}]` : out === "" ? s : `.${s}`;
  }
  return out;
}

/** Compare strings by Unicode code point (not UTF-16 unit). */
function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      // Surrogates (D800–DFFF) encode code points above every BMP unit.
      const xs = x >= 0xd800 && x <= 0xdfff;
      const ys = y >= 0xd800 && y <= 0xdfff;
      if (xs !== ys) return xs ? 1 : -1;
      return x - y;
    }
  }
  return a.length - b.length;
}

function fail(expected: string, value: unknown): never {
  const got = typeof value === "number" ? String(value) : typeof value;
  throw new FieldError(`expected ${expected}, received ${got}`);
}

function prepend(error: unknown, segment: string | number): never {
  if (error instanceof FieldError) error.segments.unshift(segment);
  throw error;
}

function compile(layout: Layout, options: PrintOptions): Printer {
  const decimals = options.floatDecimals;
  const printFloat: Printer = decimals === null
    ? (v) => {
      if (typeof v !== "number" || !Number.isFinite(v)) fail("a finite number", v);
      return formatFloat(v);
    }
    : (v) => {
      if (typeof v !== "number" || !Number.isFinite(v)) fail("a finite number", v);
      return formatFloat(roundHalfEven(v, decimals));
    };
  if (layout === "float") return printFloat;
  if (layout === "int") {
    return (v) => {
      if (!Number.isSafeInteger(v)) fail("a safe integer", v);
      return "" + v;
    };
  }
  if (layout === "time") {
    return options.times === "iso"
      ? (v) => {
        if (!Number.isSafeInteger(v)) fail("integer epoch microseconds", v);
        return '"' + formatIsoMicros(v as number) + '"';
      }
      : (v) => {
        if (!Number.isSafeInteger(v)) fail("integer epoch microseconds", v);
        return "" + v;
      };
  }
  if (layout === "string") {
    return (v) => {
      if (typeof v !== "string") fail("a string", v);
      return JSON.stringify(v);
    };
  }
  if (layout === "bool") {
    return (v) => {
      if (typeof v !== "boolean") fail("a boolean", v);
      return v ? "true" : "false";
    };
  }
  if (layout === "scalar") {
    return (v) => typeof v === "string" ? JSON.stringify(v) : printFloat(v);
  }
  if (layout === "json") return printJson;
  if ("nullable" in layout) {
    const inner = compile(layout.nullable, options);
    return (v) => v === null ? "null" : inner(v);
  }
  if ("array" in layout) {
    const inner = compile(layout.array, options);
    return (v) => {
      if (!Array.isArray(v)) fail("an array", v);
      const n = v.length;
      if (n === 0) return "[]";
      let i = 0;
      try {
        let out = "[" + inner(v[0]);
        for (i = 1; i < n; i++) out += "," + inner(v[i]);
        return out + "]";
      } catch (error) {
        return prepend(error, i);
      }
    };
  }
  if ("record" in layout) {
    const inner = compile(layout.record, options);
    return (v) => {
      if (typeof v !== "object" || v === null || Array.isArray(v)) fail("an object", v);
      const record = v as Record<string, unknown>;
      const keys = Object.keys(record).sort(compareCodePoints);
      let k = "";
      try {
        let out = "{";
        for (let i = 0; i < keys.length; i++) {
          k = keys[i];
          if (i > 0) out += ",";
          out += JSON.stringify(k) + ":" + inner(record[k]);
        }
        return out + "}";
      } catch (error) {
        return prepend(error, k);
      }
    };
  }
  const fields = layout.object;
  const order = layout.order ?? Object.keys(fields).sort(compareCodePoints);
  const names = order.map((k) => k);
  const prefixes = order.map((k, i) => (i === 0 ? "{" : ",") + JSON.stringify(k) + ":");
  const printers = order.map((k) => compile(fields[k], options));
  const count = names.length;
  return (v) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) fail("an object", v);
    const record = v as Record<string, unknown>;
    let out = "";
    let i = 0;
    try {
      for (; i < count; i++) {
        const field = record[names[i]];
        if (field === undefined) fail("a value", field);
        out += prefixes[i] + printers[i](field);
      }
    } catch (error) {
      return prepend(error, names[i]);
    }
    return count === 0 ? "{}" : out + "}";
  };
}

/** Arbitrary JSON: keys sorted, integers as integers, other numbers lossless repr. */
function printJson(v: unknown): string {
  if (v === null) return "null";
  switch (typeof v) {
    case "string":
      return JSON.stringify(v);
    case "boolean":
      return v ? "true" : "false";
    case "number":
      if (!Number.isFinite(v)) fail("a finite number", v);
      if (Number.isInteger(v) && Math.abs(v) < 1e21) return 1 / v < 0 ? "-0.0" : "" + v;
      return formatFloat(v);
    case "object": {
      if (Array.isArray(v)) {
        let out = "[";
        let i = 0;
        try {
          for (; i < v.length; i++) {
            out += (i > 0 ? "," : "") + printJson(v[i] === undefined ? null : v[i]);
          }
        } catch (error) {
          return prepend(error, i);
        }
        return out + "]";
      }
      const record = v as Record<string, unknown>;
      const keys = Object.keys(record).filter((k) => record[k] !== undefined).sort(
        compareCodePoints,
      );
      let out = "{";
      let i = 0;
      try {
        for (; i < keys.length; i++) {
          out += (i > 0 ? "," : "") + JSON.stringify(keys[i]) + ":" + printJson(record[keys[i]]);
        }
      } catch (error) {
        return prepend(error, keys[i]);
      }
      return out + "}";
    }
    default:
      return fail("a JSON value", v);
  }
}

/** Run a printer, turning an internal field error into an {@linkcode EncodeError}. */
function print(printer: Printer, value: unknown, kind: string): string {
  try {
    return printer(value);
  } catch (error) {
    if (error instanceof FieldError) {
      const path = renderPath(error.segments);
      throw new EncodeError(`cannot encode ${kind}: ${path || "<root>"}: ${error.detail}`);
    }
    throw error;
  }
}

const printerCache = new WeakMap<object, Map<string, Printer>>();

function printerFor(layout: Layout, options: PrintOptions): Printer {
  const key = `${options.floatDecimals}|${options.times}`;
  const anchor = typeof layout === "object" ? layout : { layout };
  let byOptions = printerCache.get(anchor);
  if (byOptions === undefined) {
    byOptions = new Map();
    printerCache.set(anchor, byOptions);
  }
  let printer = byOptions.get(key);
  if (printer === undefined) {
    printer = compile(layout, options);
    byOptions.set(key, printer);
  }
  return printer;
}

/** Options of {@linkcode canonicalJson}. */
export interface CanonicalOptions {
  /** Decimals floats are rounded to (formatters.toml `[json] float_decimals`, default 6). */
  readonly floatDecimals?: number;
}

/**
 * DOMAIN §10 canonical JSON text of a record (rounded floats, ISO datetimes).
 *
 * @example
 * ```ts
 * import { canonicalJson, KINDS } from "./canonical_json.ts";
 * canonicalJson({ in_storm: false, started_at: 0, ended_at: null }, KINDS.stormState);
 * // '{"ended_at":null,"in_storm":false,"started_at":"1970-01-01T00:00:00Z"}'
 * ```
 */
export function canonicalJson<T>(
  value: NoInfer<T>,
  kind: Kind<T>,
  options: CanonicalOptions = {},
): string {
  const decimals = options.floatDecimals ?? 6;
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > 18) {
    throw new EncodeError(`expected float_decimals in 0..18, received ${decimals}`);
  }
  return print(
    printerFor(kind.layout, { floatDecimals: decimals, times: "iso" }),
    value,
    kind.name,
  );
}

const WIRE: PrintOptions = { floatDecimals: null, times: "micros" };
const encoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Lossless, byte-stable JSON text of a record for the wire and JSON columns: canonical key
 * order and number printing, floats unrounded, times as integer epoch microseconds.
 *
 * @example
 * ```ts
 * import { encodeText, KINDS } from "./canonical_json.ts";
 * encodeText({ in_storm: true, started_at: 5, ended_at: null }, KINDS.stormState);
 * // '{"ended_at":null,"in_storm":true,"started_at":5}'
 * ```
 */
export function encodeText<T>(value: NoInfer<T>, kind: Kind<T>): string {
  return print(printerFor(kind.layout, WIRE), value, kind.name);
}

/**
 * {@linkcode encodeText} as UTF-8 bytes.
 *
 * @example
 * ```ts
 * import { encode, KINDS } from "./canonical_json.ts";
 * const bytes = encode({ in_storm: false, started_at: null, ended_at: null }, KINDS.stormState);
 * ```
 */
export function encode<T>(value: NoInfer<T>, kind: Kind<T>): Uint8Array {
  return encoder.encode(encodeText(value, kind));
}

// ---------------------------------------------------------------------------------------
// Decoder
// ---------------------------------------------------------------------------------------

type Fixer = (value: unknown) => unknown;

/** Deepest nesting accepted inside a free-form JSON field (`raw_json`); deeper cannot print. */
export const MAX_JSON_DEPTH = 128;

const PROTO_KEY = 'expected no "__proto__" key (it would be dropped), received one';

/**
 * Free-form JSON (`raw_json`): reject what decodes but can never be encoded or would change
 * silently: a `"__proto__"` key (zod's record parsing drops it), a non-finite number (`1e999`
 * parses to Infinity) and nesting deeper than {@linkcode MAX_JSON_DEPTH} (the printer
 * recurses).
 */
function checkJson(value: unknown): unknown {
  const problem = jsonProblem(value, 1);
  if (problem !== null) throw problem;
  return value;
}

/**
 * Why a free-form JSON value (like `raw_json`) could not travel faithfully through
 * {@linkcode encode} / {@linkcode decode} — `"<path>: <detail>"` — or null when it can.
 *
 * @example
 * ```ts
 * import { freeJsonProblem } from "./canonical_json.ts";
 * freeJsonProblem({ a: [1, 2] }); // null
 * freeJsonProblem({ a: [Infinity] }); // "a[0]: expected a finite number, received Infinity"
 * ```
 */
export function freeJsonProblem(value: unknown): string | null {
  const problem = jsonProblem(value, 1);
  if (problem === null) return null;
  const path = renderPath(problem.segments);
  return `${path || "<root>"}: ${problem.detail}`;
}

function jsonProblem(v: unknown, depth: number): FieldError | null {
  if (typeof v === "number") {
    return Number.isFinite(v) ? null : new FieldError(`expected a finite number, received ${v}`);
  }
  if (typeof v !== "object" || v === null) return null;
  if (depth > MAX_JSON_DEPTH) {
    return new FieldError(`expected JSON nested at most ${MAX_JSON_DEPTH} deep, received more`);
  }
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const problem = jsonProblem(v[i], depth + 1);
      if (problem !== null) {
        problem.segments.unshift(i);
        return problem;
      }
    }
    return null;
  }
  if (Object.hasOwn(v, "__proto__")) return new FieldError(PROTO_KEY);
  for (const k in v) {
    const problem = jsonProblem((v as Record<string, unknown>)[k], depth + 1);
    if (problem !== null) {
      problem.segments.unshift(k);
      return problem;
    }
  }
  return null;
}

/** Builds a function converting ISO time strings to µs in place; null if no time inside. */
function compileFixer(layout: Layout): Fixer | null {
  if (layout === "time") {
    return (v) => {
      if (typeof v !== "string") return v;
      const us = parseIsoMicros(v);
      if (us === null) throw new FieldError(`expected an ISO UTC datetime, received "${v}"`);
      return us;
    };
  }
  if (layout === "json") return checkJson;
  if (typeof layout === "string") return null;
  if ("nullable" in layout) {
    const inner = compileFixer(layout.nullable);
    return inner === null ? null : (v) => v === null ? v : inner(v);
  }
  if ("array" in layout) {
    const inner = compileFixer(layout.array);
    if (inner === null) return null;
    return (v) => {
      if (!Array.isArray(v)) return v;
      let i = 0;
      try {
        for (; i < v.length; i++) v[i] = inner(v[i]);
      } catch (error) {
        prepend(error, i);
      }
      return v;
    };
  }
  if ("record" in layout) {
    const inner = compileFixer(layout.record);
    if (inner === null) {
      return (v) => {
        if (typeof v === "object" && v !== null && Object.hasOwn(v, "__proto__")) {
          throw new FieldError(PROTO_KEY);
        }
        return v;
      };
    }
    return (v) => {
      if (typeof v !== "object" || v === null) return v;
      if (Object.hasOwn(v, "__proto__")) throw new FieldError(PROTO_KEY);
      const r = v as Record<string, unknown>;
      let k = "";
      try {
        for (k of Object.keys(r)) r[k] = inner(r[k]);
      } catch (error) {
        prepend(error, k);
      }
      return v;
    };
  }
  const entries: [string, Fixer][] = [];
  for (const [k, l] of Object.entries(layout.object)) {
    const f = compileFixer(l);
    if (f !== null) entries.push([k, f]);
  }
  if (entries.length === 0) return null;
  return (v) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return v;
    const r = v as Record<string, unknown>;
    let i = 0;
    try {
      for (; i < entries.length; i++) {
        const [k, f] = entries[i];
        if (k in r) r[k] = f(r[k]);
      }
    } catch (error) {
      prepend(error, entries[i][0]);
    }
    return v;
  };
}

const fixerCache = new WeakMap<object, Fixer | null>();

/**
 * Parse JSON bytes (or text) and validate them as `kind`. Times may be integer epoch µs or ISO
 * strings. Throws {@linkcode DecodeError} naming the field path on any problem.
 *
 * @example
 * ```ts
 * import { decode, KINDS } from "./canonical_json.ts";
 * decode('{"ended_at":null,"in_storm":true,"started_at":"1970-01-01T00:00:01Z"}',
 *   KINDS.stormState); // { in_storm: true, started_at: 1000000, ended_at: null }
 * ```
 */
export function decode<T>(bytes: Uint8Array | string, kind: Kind<T>): T {
  let value: unknown;
  try {
    const text = typeof bytes === "string" ? bytes : textDecoder.decode(bytes);
    value = JSON.parse(text);
  } catch (error) {
    throw new DecodeError(kind.name, "", `invalid JSON (${(error as Error).message})`, {
      cause: error,
    });
  }
  const anchor = typeof kind.layout === "object" ? kind.layout : kind;
  let fixer = fixerCache.get(anchor);
  if (fixer === undefined) {
    fixer = compileFixer(kind.layout);
    fixerCache.set(anchor, fixer);
  }
  if (fixer !== null) {
    try {
      value = fixer(value);
    } catch (error) {
      if (!(error instanceof FieldError)) throw error;
      throw new DecodeError(kind.name, renderPath(error.segments), error.detail);
    }
  }
  const result = kind.schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue.path.map(String).join(".");
    const extra = result.error.issues.length > 1
      ? ` (+${result.error.issues.length - 1} more)`
      : "";
    throw new DecodeError(kind.name, path, issue.message + extra, { cause: result.error });
  }
  return result.data;
}
