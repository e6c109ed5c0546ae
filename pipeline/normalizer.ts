/**
 * Pure normalizer (DOMAIN §3.2–§3.4): raw platform payloads → {@linkcode MarketSnapshot} and
 * the {@linkcode SnapshotMessage} the pollers publish. Never reads the clock, the network or
 * the disk; the live poller and the replay source call the same functions on the same raw
 * bodies, so a replay reproduces the live snapshots exactly.
 *
 * Layers:
 * - platform preparation: {@linkcode polymarketPayload} (Gamma), {@linkcode kalshiPayload}
 *   (Trade API v2, current `_dollars`/`_fp` schema, legacy integer cents, SDK `_`-prefixed
 *   keys), {@linkcode polymarketBook}/{@linkcode kalshiBook} (YES book, best level first,
 *   Kalshi NO bids → YES asks), {@linkcode polymarketTrades}/{@linkcode kalshiTrades};
 * - {@linkcode normalizeSnapshot}: the §3.4 first-present-key rules, spread, liquidity;
 * - {@linkcode normalizePoll}: one market's poll (market + book + trades) → SnapshotMessage.
 *
 * Errors: {@linkcode MalformedPayloadError} (a required key missing or of the wrong type) and
 * {@linkcode SnapshotValidationError} (a value out of range), both {@linkcode NormalizeError}
 * naming the field; {@linkcode MarketNotFoundError} when the platform says the market is gone.
 *
 * @example
 * ```ts
 * import { normalizeSnapshot } from "./normalizer.ts";
 * const snap = normalizeSnapshot(
 *   { last_price: 0.42, bid: 0.41, ask: 0.43, volume_24h: 1000, question: "Will it rain?" },
 *   { bids: [[0.41, 100]], asks: [[0.43, 50]] },
 *   { marketId: "rain", platform: "polymarket", fetchedAt: 1_700_000_000_000_000 },
 * );
 * console.log(snap.spread, snap.liquidity); // ≈0.02 62.5
 * ```
 * @module
 */

import { freeJsonProblem } from "./canonical_json.ts";
import {
  type BookLevels,
  type Level,
  type MarketSnapshot,
  type Platform,
  type RawTrade,
  SCHEMA_VERSION,
  type SnapshotMessage,
} from "./models.ts";

/** Levels per side that count toward liquidity / depth and travel in the message. */
export const TOP_LEVELS = 5;

/** Base class: a payload that does not fit; `field` names the offending key. */
export class NormalizeError extends Error {
  /** The offending field (dotted path). */
  readonly field: string;
  constructor(field: string, message: string, options?: ErrorOptions) {
    super(`${field}: ${message}`, options);
    this.name = "NormalizeError";
    this.field = field;
  }
}

/** A required key is missing or has the wrong type. */
export class MalformedPayloadError extends NormalizeError {
  constructor(field: string, message: string, options?: ErrorOptions) {
    super(field, message, options);
    this.name = "MalformedPayloadError";
  }
}

/** A value is present but out of range (e.g. a price outside [0, 1]). */
export class SnapshotValidationError extends NormalizeError {
  constructor(field: string, message: string, options?: ErrorOptions) {
    super(field, message, options);
    this.name = "SnapshotValidationError";
  }
}

/** The platform answered but the market is not there (empty Gamma list, wrong id). */
export class MarketNotFoundError extends NormalizeError {
  constructor(field: string, message: string, options?: ErrorOptions) {
    super(field, message, options);
    this.name = "MarketNotFoundError";
  }
}

/** A YES order book: levels `[price, size]`, best first on each side. */
export interface Book {
  readonly bids: readonly Level[];
  readonly asks: readonly Level[];
}

/** Context of {@linkcode normalizeSnapshot}. */
export interface SnapshotContext {
  /** Watchlist id (becomes `market_id`). */
  marketId: string;
  platform: Platform;
  /** Fetch time, epoch µs. */
  fetchedAt: number;
  /** What to store as `raw_json` (default: the payload itself). */
  rawJson?: Record<string, unknown>;
}

type Dict = Record<string, unknown>;

// ---------------------------------------------------------------------------------------
// Scalars
// ---------------------------------------------------------------------------------------

const NUMERIC_RE = /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/;

/**
 * A number from a JSON number or numeric string; `null`/`undefined` → null; anything else →
 * {@linkcode MalformedPayloadError} naming `field`.
 *
 * @example
 * ```ts
 * import { toNumber } from "./normalizer.ts";
 * toNumber("0.8100", "yes_bid_dollars"); // 0.81
 * ```
 */
export function toNumber(value: unknown, field: string): number | null {
  if (value === null || value === undefined) return null;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) {
      throw new MalformedPayloadError(field, `expected a finite number, received ${value}`);
    }
    return value;
  }
  if (typeof value === "string" && NUMERIC_RE.test(value)) {
    const n = Number(value);
    if (Number.isFinite(n)) return n;
    throw new MalformedPayloadError(field, `expected a finite number, received ${show(value)}`);
  }
  throw new MalformedPayloadError(
    field,
    `expected a number or numeric string, received ${show(value)}`,
  );
}

const ISO_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * Parse an ISO-8601 instant to integer epoch microseconds. A missing zone means UTC (DOMAIN
 * §0); a date alone is midnight UTC; fractions keep microsecond precision.
 *
 * @example
 * ```ts
 * import { parseIsoMicros } from "./normalizer.ts";
 * parseIsoMicros("2026-09-29T04:01:07.17746Z", "created_time"); // 1790654467177460
 * ```
 */
export function parseIsoMicros(value: unknown, field: string): number {
  if (typeof value === "string") {
    const fast = utcIsoMicros(value);
    if (fast !== undefined) return fast;
  }
  if (typeof value !== "string") {
    throw new MalformedPayloadError(field, `expected an ISO-8601 string, received ${show(value)}`);
  }
  const m = ISO_RE.exec(value.trim());
  if (!m) {
    throw new MalformedPayloadError(field, `expected an ISO-8601 instant, received ${show(value)}`);
  }
  const [, y, mo, d, h = "0", mi = "0", s = "0", frac = "", zone] = m;
  const ms = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s);
  if (
    Number.isNaN(ms) || +mo < 1 || +mo > 12 || +d < 1 || +d > 31 || +h > 23 || +mi > 59 || +s > 60
  ) {
    throw new MalformedPayloadError(field, `expected a valid date-time, received ${show(value)}`);
  }
  let offsetMin = 0;
  if (zone && zone.toUpperCase() !== "Z") {
    const sign = zone[0] === "-" ? -1 : 1;
    const digits = zone.slice(1).replace(":", "");
    offsetMin = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4)));
  }
  const micros = Number((frac + "000000").slice(0, 6));
  const us = (ms - offsetMin * 60_000) * 1000 + micros;
  // Years 0–99 would be read as 19xx by Date.UTC; µs outside the safe integers cannot travel.
  if (+y < 100 || !Number.isSafeInteger(us)) {
    throw new MalformedPayloadError(
      field,
      `expected a date-time between the years 1686 and 2254, received ${show(value)}`,
    );
  }
  return us;
}

/** The number written by the `n` digits of `s` from `from`, or -1 when one is not a digit. */
function digitsAt(s: string, from: number, n: number): number {
  let v = 0;
  for (let i = from; i < from + n; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/**
 * {@linkcode parseIsoMicros} of the common shape `YYYY-MM-DDTHH:MM:SS[.f…]Z` (what
 * `toISOString` and the platforms write) without the regex: the same µs by the same
 * arithmetic, or undefined for anything else (other shapes, out-of-range fields), which the
 * general parser then handles — or rejects with its error.
 */
function utcIsoMicros(value: string): number | undefined {
  const n = value.length;
  if (
    n < 20 || n > 30 || value.charCodeAt(n - 1) !== 0x5a || value.charCodeAt(4) !== 0x2d ||
    value.charCodeAt(7) !== 0x2d || value.charCodeAt(10) !== 0x54 ||
    value.charCodeAt(13) !== 0x3a || value.charCodeAt(16) !== 0x3a
  ) return undefined;
  const y = digitsAt(value, 0, 4);
  const mo = digitsAt(value, 5, 2);
  const d = digitsAt(value, 8, 2);
  const h = digitsAt(value, 11, 2);
  const mi = digitsAt(value, 14, 2);
  const s = digitsAt(value, 17, 2);
  if (
    y < 100 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
    s < 0 || s > 60
  ) return undefined;
  let micros = 0;
  if (n > 20) {
    // ".f…": 1 to 9 fraction digits, the first six of them the µs.
    const digits = n - 21;
    if (value.charCodeAt(19) !== 0x2e || digits < 1 || digits > 9) return undefined;
    const head = Math.min(digits, 6);
    const f = digitsAt(value, 20, head);
    if (f < 0 || (digits > 6 && digitsAt(value, 26, digits - 6) < 0)) return undefined;
    micros = f * 10 ** (6 - head);
  }
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  const us = ms * 1000 + micros;
  return Number.isNaN(ms) || !Number.isSafeInteger(us) ? undefined : us;
}

/** Unix seconds (number or numeric string) or ISO string → epoch µs. */
function toMicros(value: unknown, field: string): number {
  if (typeof value === "number" || (typeof value === "string" && NUMERIC_RE.test(value))) {
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0) {
      throw new MalformedPayloadError(field, `expected a timestamp, received ${show(value)}`);
    }
    // seconds, or milliseconds when implausibly large for seconds
    const us = n > 1e11 ? Math.round(n * 1000) : Math.round(n * 1_000_000);
    if (!Number.isSafeInteger(us)) {
      throw new MalformedPayloadError(field, `expected a timestamp, received ${show(value)}`);
    }
    return us;
  }
  return parseIsoMicros(value, field);
}

function show(value: unknown): string {
  const s = typeof value === "string"
    ? JSON.stringify(value)
    : String(JSON.stringify(value) ?? value);
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
}

function isDict(value: unknown): value is Dict {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A JSON array or a JSON-encoded string holding one (Gamma's double encoding). */
function jsonArray(value: unknown, field: string): unknown[] | null {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value)) return value;
  if (typeof value === "string") {
    try {
      const parsed = JSON.parse(value);
      if (Array.isArray(parsed)) return parsed;
    } catch {
      // fall through
    }
  }
  throw new MalformedPayloadError(
    field,
    `expected an array or JSON-encoded array, received ${show(value)}`,
  );
}

function firstPresent(payload: Dict, keys: readonly string[]): [string, unknown] | null {
  for (const key of keys) {
    const v = payload[key];
    if (v !== undefined && v !== null) return [key, v];
  }
  return null;
}

// ---------------------------------------------------------------------------------------
// §3.4 normalizer
// ---------------------------------------------------------------------------------------

function requiredNumber(payload: Dict, keys: readonly string[], field: string): number {
  const found = firstPresent(payload, keys);
  if (!found) {
    throw new MalformedPayloadError(field, `expected one of ${keys.join(" | ")}, received none`);
  }
  const [key, value] = found;
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new MalformedPayloadError(key, `expected a finite number, received ${show(value)}`);
  }
  return value;
}

function optionalNumber(payload: Dict, keys: readonly string[]): number | null {
  const found = firstPresent(payload, keys);
  if (!found) return null;
  const [key, value] = found;
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new MalformedPayloadError(
      key,
      `expected a finite number or null, received ${show(value)}`,
    );
  }
  return value;
}

function optionalText(payload: Dict, keys: readonly string[]): string | null {
  for (const key of keys) {
    const v = payload[key];
    if (!v) continue;
    if (typeof v !== "string") {
      throw new MalformedPayloadError(key, `expected a string, received ${show(v)}`);
    }
    return v;
  }
  return null;
}

function checkProbability(value: number | null, field: string): void {
  if (value !== null && !(value >= 0 && value <= 1)) {
    throw new SnapshotValidationError(field, `expected a probability in [0, 1], received ${value}`);
  }
}

/**
 * Σ price × size over the top {@linkcode TOP_LEVELS} levels of each side (USD).
 *
 * @example
 * ```ts
 * import { bookDepth } from "./normalizer.ts";
 * bookDepth({ bids: [[0.5, 10]], asks: [[0.6, 10]] }); // { bid_depth: 5, ask_depth: 6 }
 * ```
 */
export function bookDepth(book: Book): { bid_depth: number; ask_depth: number } {
  const side = (levels: readonly Level[]) => {
    let sum = 0;
    for (let i = 0; i < Math.min(TOP_LEVELS, levels.length); i++) {
      sum += levels[i][0] * levels[i][1];
    }
    return sum;
  };
  return { bid_depth: side(book.bids), ask_depth: side(book.asks) };
}

/** The §3.4 first-present-key lists (made once). */
const KEYS = {
  lastPrice: ["last_price", "yes_price", "lastTradePrice"],
  bid: ["bid", "best_bid", "yes_bid"],
  ask: ["ask", "best_ask", "yes_ask"],
  volume24h: ["volume_24h", "volume24Hr", "volume_24hr"],
  question: ["question", "title"],
  resolutionSource: ["resolution_source", "rulesSource"],
  resolutionCriteria: ["resolution_criteria", "rules"],
  closesAt: ["closes_at", "close_time", "endDate"],
} as const;

/**
 * DOMAIN §3.4: a prepared payload (+ optional YES book) → MarketSnapshot. First present
 * non-null key wins; required keys missing ⇒ {@linkcode MalformedPayloadError}; values out of
 * range ⇒ {@linkcode SnapshotValidationError}. No defaults, no coercion.
 *
 * @example
 * ```ts
 * import { normalizeSnapshot } from "./normalizer.ts";
 * normalizeSnapshot({ yes_price: 0.3, volume24Hr: 5, title: "Q" }, null, {
 *   marketId: "m", platform: "kalshi", fetchedAt: 0,
 * }).last_price; // 0.3
 * ```
 */
export function normalizeSnapshot(
  payload: Dict,
  book: Book | null,
  context: SnapshotContext,
): MarketSnapshot {
  if (!isDict(payload)) {
    throw new MalformedPayloadError("payload", `expected an object, received ${show(payload)}`);
  }
  const last_price = requiredNumber(payload, KEYS.lastPrice, "last_price");
  const bid = optionalNumber(payload, KEYS.bid);
  const ask = optionalNumber(payload, KEYS.ask);
  const volume_24h = requiredNumber(payload, KEYS.volume24h, "volume_24h");
  const questionFound = firstPresent(payload, KEYS.question);
  if (!questionFound) {
    throw new MalformedPayloadError("question", "expected one of question | title, received none");
  }
  if (typeof questionFound[1] !== "string") {
    throw new MalformedPayloadError(
      questionFound[0],
      `expected a string, received ${show(questionFound[1])}`,
    );
  }
  const resolution_source = optionalText(payload, KEYS.resolutionSource);
  const resolution_criteria = optionalText(payload, KEYS.resolutionCriteria);
  const closesFound = firstPresent(payload, KEYS.closesAt);
  const closes_at = closesFound ? parseIsoMicros(closesFound[1], closesFound[0]) : null;

  checkProbability(last_price, "last_price");
  checkProbability(bid, "bid");
  checkProbability(ask, "ask");
  if (!(volume_24h >= 0)) {
    throw new SnapshotValidationError("volume_24h", `expected ≥ 0, received ${volume_24h}`);
  }
  if (!Number.isSafeInteger(context.fetchedAt)) {
    throw new SnapshotValidationError(
      "timestamp",
      `expected integer epoch µs, received ${context.fetchedAt}`,
    );
  }
  const raw_json = context.rawJson ?? payload;
  const rawProblem = freeJsonProblem(raw_json);
  if (rawProblem !== null) throw new MalformedPayloadError("raw_json", rawProblem);
  let liquidity = 0;
  if (book) {
    validateBook(book);
    const depth = bookDepth(book);
    liquidity = depth.bid_depth + depth.ask_depth;
    if (!Number.isFinite(liquidity)) {
      throw new SnapshotValidationError(
        "liquidity",
        `expected a finite book depth, received ${liquidity}`,
      );
    }
  }
  return {
    market_id: context.marketId,
    platform: context.platform,
    timestamp: context.fetchedAt,
    last_price,
    bid,
    ask,
    spread: bid !== null && ask !== null ? ask - bid : null,
    volume_24h,
    liquidity,
    question: questionFound[1],
    resolution_source,
    resolution_criteria,
    closes_at,
    raw_json,
    schema_version: SCHEMA_VERSION,
  };
}

function checkSize(size: number, field: string): void {
  if (!(size >= 0)) throw new SnapshotValidationError(field, `expected ≥ 0, received ${size}`);
}

function validateBook(book: Book): void {
  validateLevels(book.bids, "bids");
  validateLevels(book.asks, "asks");
}

function validateLevels(levels: readonly Level[], sideName: string): void {
  levels.forEach(([price, size], i) => {
    // Field names are only spelled out for an error (this runs for every level).
    if (price !== null && !(price >= 0 && price <= 1)) {
      checkProbability(price, `book.${sideName}[${i}].price`);
    }
    if (!(size >= 0)) {
      throw new SnapshotValidationError(
        `book.${sideName}[${i}].size`,
        `expected ≥ 0, received ${size}`,
      );
    }
  });
}

// ---------------------------------------------------------------------------------------
// Books
// ---------------------------------------------------------------------------------------

function parseLevel(level: unknown, field: string, scale: number): Level {
  let price: unknown;
  let size: unknown;
  if (Array.isArray(level) && level.length >= 2) [price, size] = level;
  else if (isDict(level)) ({ price, size } = level);
  else {throw new MalformedPayloadError(
      field,
      `expected {price, size} or [price, size], received ${show(level)}`,
    );}
  const p = toNumber(price, `${field}.price`);
  const s = toNumber(size, `${field}.size`);
  if (p === null || s === null) {
    throw new MalformedPayloadError(field, `expected price and size, received ${show(level)}`);
  }
  return [p / scale, s];
}

function parseLevels(value: unknown, field: string, scale = 1): Level[] {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value)) {
    throw new MalformedPayloadError(field, `expected an array of levels, received ${show(value)}`);
  }
  return value.map((level, i) => {
    // The common case without field names (made only for the general path's errors).
    let p: number | undefined;
    let s: number | undefined;
    if (Array.isArray(level) && level.length >= 2) {
      p = plainNumber(level[0]);
      s = plainNumber(level[1]);
    } else if (isDict(level)) {
      p = plainNumber(level.price);
      s = plainNumber(level.size);
    }
    return p !== undefined && s !== undefined
      ? [p / scale, s]
      : parseLevel(level, `${field}[${i}]`, scale);
  });
}

/** {@linkcode toNumber} of a finite number or numeric string; undefined for anything else. */
function plainNumber(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (typeof value === "string" && NUMERIC_RE.test(value)) {
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/** Bids best (highest) first, asks best (lowest) first; stable on ties. */
export function sortBook(bids: Level[], asks: Level[]): Book {
  return {
    bids: [...bids].sort((a, b) => b[0] - a[0]),
    asks: [...asks].sort((a, b) => a[0] - b[0]),
  };
}

/**
 * CLOB `/book` body (REST or WebSocket `book` event) → YES book sorted best first (the API
 * lists bids ascending and asks descending — DOMAIN §3.2 DEVIATION).
 *
 * @example
 * ```ts
 * import { polymarketBook } from "./normalizer.ts";
 * polymarketBook({ bids: [{ price: "0.1", size: "5" }, { price: "0.2", size: "1" }], asks: [] })
 *   .bids[0]; // [0.2, 1]
 * ```
 */
export function polymarketBook(body: unknown): Book {
  if (!isDict(body)) {
    throw new MalformedPayloadError("book", `expected an object, received ${show(body)}`);
  }
  return sortBook(parseLevels(body.bids, "book.bids"), parseLevels(body.asks, "book.asks"));
}

/**
 * Kalshi order book → YES book sorted best first. Accepts the current
 * `{orderbook_fp: {yes_dollars, no_dollars}}`, `{orderbook: {yes, no}}` in integer cents (or
 * with `yes_dollars`/`no_dollars` inside) and the legacy SDK `{_yes, _no}`. Kalshi lists bids
 * only: YES bids stay bids; a NO bid at p is a YES ask at 1 − p with the same size
 * (DOMAIN §3.3 DEVIATION).
 *
 * @example
 * ```ts
 * import { kalshiBook } from "./normalizer.ts";
 * kalshiBook({ orderbook: { yes: [[40, 10]], no: [[55, 20]] } }).asks[0]; // [0.45, 20]
 * ```
 */
export function kalshiBook(body: unknown): Book {
  if (!isDict(body)) {
    throw new MalformedPayloadError("orderbook", `expected an object, received ${show(body)}`);
  }
  let yes: Level[];
  let no: Level[];
  if (isDict(body.orderbook_fp)) {
    const ob = body.orderbook_fp;
    yes = parseLevels(ob.yes_dollars, "orderbook_fp.yes_dollars");
    no = parseLevels(ob.no_dollars, "orderbook_fp.no_dollars");
  } else if (isDict(body.orderbook)) {
    const ob = body.orderbook;
    if ("yes_dollars" in ob || "no_dollars" in ob) {
      yes = parseLevels(ob.yes_dollars, "orderbook.yes_dollars");
      no = parseLevels(ob.no_dollars, "orderbook.no_dollars");
    } else {
      yes = parseLevels(ob.yes, "orderbook.yes", 100);
      no = parseLevels(ob.no, "orderbook.no", 100);
    }
  } else if ("_yes" in body || "_no" in body) {
    yes = parseLevels(body._yes, "_yes", 100);
    no = parseLevels(body._no, "_no", 100);
  } else {
    throw new MalformedPayloadError(
      "orderbook",
      "expected orderbook_fp, orderbook or _yes/_no, received none",
    );
  }
  const asks = no.map(([p, s]): Level => [round(1 - p), s]);
  return sortBook(yes, asks);
}

/** Round to 10 decimals (kills 1 − 0.19 = 0.81000000000000005 noise). */
function round(x: number): number {
  return Math.round(x * 1e10) / 1e10;
}

/** Top levels and per-side USD depth of a book, as the SnapshotMessage carries them. */
export function bookSummary(book: Book | null): {
  book: BookLevels | null;
  bid_depth: number | null;
  ask_depth: number | null;
} {
  if (!book) return { book: null, bid_depth: null, ask_depth: null };
  const depth = bookDepth(book);
  return {
    book: { bids: topLevels(book.bids), asks: topLevels(book.asks) },
    bid_depth: depth.bid_depth,
    ask_depth: depth.ask_depth,
  };
}

/** {@linkcode bookSummary} of a book nothing else holds: its top levels without copies. */
function ownBookSummary(book: Book): ReturnType<typeof bookSummary> {
  const depth = bookDepth(book);
  return {
    book: {
      bids: book.bids.slice(0, TOP_LEVELS) as Level[],
      asks: book.asks.slice(0, TOP_LEVELS) as Level[],
    },
    bid_depth: depth.bid_depth,
    ask_depth: depth.ask_depth,
  };
}

/** Copies of the first {@linkcode TOP_LEVELS} levels. */
function topLevels(levels: readonly Level[]): Level[] {
  const out: Level[] = [];
  const n = Math.min(TOP_LEVELS, levels.length);
  for (let i = 0; i < n; i++) out.push([levels[i][0], levels[i][1]]);
  return out;
}

// ---------------------------------------------------------------------------------------
// Polymarket
// ---------------------------------------------------------------------------------------

/** Index of the YES outcome in Gamma `outcomes` ("Yes", case-insensitive; else 0). */
export function polymarketYesIndex(market: Dict): number {
  const outcomes = jsonArray(market.outcomes, "outcomes");
  const i = outcomes?.findIndex((o) => typeof o === "string" && o.trim().toLowerCase() === "yes") ??
    -1;
  return i >= 0 ? i : 0;
}

/**
 * Gamma `/markets?condition_ids=…` body (array) or a single Gamma market object → the
 * prepared payload of DOMAIN §3.2 (Gamma keys kept; `last_price`, `volume_24h`, `bid`,
 * `ask`, `rules`, `rulesSource`, `endDate`, `clob_token_ids` added/overwritten). The YES
 * outcome is paired by name (§3.2 SHOULD); when it is not the first outcome, bid/ask are
 * mirrored. `conditionId`, when given, must match the first item's, else
 * {@linkcode MarketNotFoundError}.
 *
 * @example
 * ```ts
 * import { polymarketPayload } from "./normalizer.ts";
 * const p = polymarketPayload([{ conditionId: "0xab", question: "Q", outcomes: '["Yes","No"]',
 *   outcomePrices: '["0.2","0.8"]', volume24hr: 10 }], "0xab");
 * console.log(p.last_price); // 0.2
 * ```
 */
export function polymarketPayload(body: unknown, conditionId?: string): Dict {
  let market: unknown = body;
  if (Array.isArray(body)) {
    if (body.length === 0) {
      throw new MarketNotFoundError(
        "conditionId",
        `market ${conditionId ?? "?"} not found (empty list)`,
      );
    }
    market = body[0];
  }
  if (!isDict(market)) {
    throw new MalformedPayloadError(
      "market",
      `expected a Gamma market object, received ${show(market)}`,
    );
  }
  if (conditionId !== undefined && market.conditionId !== conditionId) {
    throw new MarketNotFoundError(
      "conditionId",
      `expected ${conditionId}, received ${show(market.conditionId)}`,
    );
  }
  const yes = polymarketYesIndex(market);
  const prices = jsonArray(market.outcomePrices, "outcomePrices");
  let last_price: number | null = null;
  if (prices && prices.length > yes) last_price = toNumber(prices[yes], `outcomePrices[${yes}]`);
  if (last_price === null) {
    last_price = toNumber(market.lastTradePrice, "lastTradePrice");
    if (last_price === null) {
      throw new MalformedPayloadError(
        "last_price",
        "expected outcomePrices or lastTradePrice, received none",
      );
    }
    if (yes !== 0) last_price = round(1 - last_price);
  }
  let volume_24h = 0;
  for (const key of ["volume24hrClob", "volume24hr"]) {
    const v = market[key];
    if (v) {
      volume_24h = toNumber(v, key) ?? 0;
      break;
    }
  }
  let bid = toNumber(market.bestBid, "bestBid");
  let ask = toNumber(market.bestAsk, "bestAsk");
  if (yes !== 0) {
    [bid, ask] = [ask === null ? null : round(1 - ask), bid === null ? null : round(1 - bid)];
  }
  const tokens = jsonArray(market.clobTokenIds, "clobTokenIds");
  return {
    ...market,
    last_price,
    volume_24h,
    bid,
    ask,
    question: market.question,
    rules: market.description ?? null,
    rulesSource: market.resolutionSource ?? null,
    endDate: market.endDate ?? market.endDateIso ?? null,
    clob_token_ids: tokens ? tokens.map(String) : [],
    yes_outcome_index: yes,
  };
}

/** The CLOB token of the YES outcome from a prepared payload, or null. */
export function polymarketYesToken(payload: Dict): string | null {
  const tokens = payload.clob_token_ids;
  const yes = typeof payload.yes_outcome_index === "number" ? payload.yes_outcome_index : 0;
  return Array.isArray(tokens) && typeof tokens[yes] === "string" ? tokens[yes] : null;
}

/** Options of the trade parsers. */
export interface TradeOptions {
  /** Watchlist id. */
  marketId: string;
  /** Keep trades strictly after this time (epoch µs). */
  since: number;
  /** Polymarket: keep only trades of this conditionId when the trade names one. */
  conditionId?: string;
  /** Polymarket: index of the YES outcome (trades of the other outcome are mirrored). */
  yesOutcomeIndex?: number;
}

/**
 * Data-API trades (array or `{trades}`) → RawTrade[] after `since`, oldest first. Trades of
 * the NO outcome are mirrored to YES terms (price 1 − p, buy ↔ sell).
 *
 * @example
 * ```ts
 * import { polymarketTrades } from "./normalizer.ts";
 * polymarketTrades([{ timestamp: 10, price: 0.4, size: 2, side: "BUY", proxyWallet: "0x1" }],
 *   { marketId: "m", since: 0 })[0].side; // "buy"
 * ```
 */
export function polymarketTrades(body: unknown, options: TradeOptions): RawTrade[] {
  const list = Array.isArray(body)
    ? body
    : isDict(body) && Array.isArray(body.trades)
    ? body.trades
    : null;
  if (!list) {
    throw new MalformedPayloadError(
      "trades",
      `expected an array or {trades}, received ${show(body)}`,
    );
  }
  const out: RawTrade[] = [];
  list.forEach((t, i) => {
    const f = `trades[${i}]`;
    if (!isDict(t)) throw new MalformedPayloadError(f, `expected an object, received ${show(t)}`);
    if (
      options.conditionId && typeof t.conditionId === "string" &&
      t.conditionId !== options.conditionId
    ) return;
    const timestamp = toMicros(t.timestamp, `${f}.timestamp`);
    if (timestamp <= options.since) return;
    let price = toNumber(t.price, `${f}.price`);
    const size = toNumber(t.size, `${f}.size`);
    if (price === null || size === null) {
      throw new MalformedPayloadError(f, "expected price and size");
    }
    let side = typeof t.side === "string" ? t.side.toLowerCase() : "";
    const idx = typeof t.outcomeIndex === "number" ? t.outcomeIndex : null;
    if (idx !== null && options.yesOutcomeIndex !== undefined && idx !== options.yesOutcomeIndex) {
      price = round(1 - price);
      side = side === "buy" ? "sell" : side === "sell" ? "buy" : side;
    }
    checkProbability(price, `${f}.price`);
    checkSize(size, `${f}.size`);
    const cp = t.proxyWallet ?? t.counterparty ?? null;
    out.push({
      market_id: options.marketId,
      platform: "polymarket",
      timestamp,
      price,
      size,
      side,
      counterparty: typeof cp === "string" && cp ? cp : null,
    });
  });
  return out.sort((a, b) => a.timestamp - b.timestamp);
}

// ---------------------------------------------------------------------------------------
// Kalshi
// ---------------------------------------------------------------------------------------

/** Strip the SDK's leading underscore from every key. */
function unprefix(market: Dict): Dict {
  if (!Object.keys(market).some((k) => k.startsWith("_"))) return market;
  const out: Dict = {};
  for (const [k, v] of Object.entries(market)) out[k.startsWith("_") ? k.slice(1) : k] = v;
  return out;
}

/** A Kalshi price: `<name>_dollars` (dollar string) first, else `<name>` in integer cents. */
function kalshiPrice(m: Dict, name: KalshiPrice): number | null {
  const dollarsKey = DOLLARS[name];
  const dollars = toNumber(m[dollarsKey], dollarsKey);
  if (dollars !== null) return dollars;
  const cents = toNumber(m[name], name);
  return cents === null ? null : round(cents / 100);
}

/** A Kalshi count: `<name>_fp` (fixed-point string) first, else `<name>`. */
function kalshiCount(m: Dict, name: KalshiCount): number | null {
  const fpKey = FIXED_POINT[name];
  return toNumber(m[fpKey], fpKey) ?? toNumber(m[name], name);
}

/** The `_dollars` key of each Kalshi price (constant keys: no string built per lookup). */
const DOLLARS = {
  last_price: "last_price_dollars",
  yes_price: "yes_price_dollars",
  yes_bid: "yes_bid_dollars",
  yes_ask: "yes_ask_dollars",
} as const;
type KalshiPrice = keyof typeof DOLLARS;

/** The `_fp` key of each Kalshi count. */
const FIXED_POINT = { volume_24h: "volume_24h_fp", count: "count_fp" } as const;
type KalshiCount = keyof typeof FIXED_POINT;

/**
 * Kalshi market body (`{market}`, a `{markets}` page with `ticker` selecting the entry, or a
 * bare market object; current `_dollars`/`_fp`, integer-cent, or SDK `_`-prefixed schema) →
 * `payload`, the prepared keys for {@linkcode normalizeSnapshot} (YES probabilities,
 * `volume_24h` in USD = contracts × last price, `question` = title (else subtitle),
 * `resolution_criteria` = rules_primary + rules_secondary, `closes_at` = close_time), and
 * `raw`, the market object to keep as `raw_json`. A zero bid or a 1.00 ask is an empty side.
 *
 * @example
 * ```ts
 * import { kalshiPayload } from "./normalizer.ts";
 * kalshiPayload({ market: { ticker: "T", title: "Q", last_price: 35, yes_bid: 34, yes_ask: 36,
 *   volume_24h: 100 } }).payload.last_price; // 0.35
 * ```
 */
export function kalshiPayload(body: unknown, ticker?: string): { payload: Dict; raw: Dict } {
  let market: unknown = body;
  if (isDict(body) && isDict(body.market)) market = body.market;
  else if (isDict(body) && Array.isArray(body.markets)) {
    market = ticker === undefined
      ? body.markets[0]
      : body.markets.find((m) =>
        isDict(m) && (m.ticker === ticker || m._ticker === ticker || m.ticker_name === ticker)
      );
    if (market === undefined) {
      throw new MarketNotFoundError("ticker", `market ${ticker ?? "?"} not in the page`);
    }
  }
  if (!isDict(market)) {
    throw new MalformedPayloadError(
      "market",
      `expected a Kalshi market object, received ${show(market)}`,
    );
  }
  const m = unprefix(market);
  const id = m.ticker ?? m.ticker_name;
  if (ticker !== undefined && id !== undefined && id !== ticker) {
    throw new MarketNotFoundError("ticker", `expected ${ticker}, received ${show(id)}`);
  }
  const last_price = kalshiPrice(m, "last_price") ?? kalshiPrice(m, "yes_price");
  if (last_price === null) {
    throw new MalformedPayloadError(
      "last_price",
      "expected last_price_dollars or last_price, received none",
    );
  }
  let bid = kalshiPrice(m, "yes_bid");
  let ask = kalshiPrice(m, "yes_ask");
  if (bid !== null && bid <= 0) bid = null;
  if (ask !== null && ask >= 1) ask = null;
  const contracts = kalshiCount(m, "volume_24h");
  if (contracts === null) {
    throw new MalformedPayloadError(
      "volume_24h",
      "expected volume_24h_fp or volume_24h, received none",
    );
  }
  const title = typeof m.title === "string" && m.title
    ? m.title
    : typeof m.subtitle === "string" && m.subtitle
    ? m.subtitle
    : m.title;
  const rules =
    [m.rules_primary, m.rules_secondary].filter((r) => typeof r === "string" && r).join("\n\n") ||
    null;
  const payload: Dict = {
    last_price,
    bid,
    ask,
    volume_24h: round(contracts * last_price),
    question: title,
    resolution_source: null,
    resolution_criteria: rules,
    closes_at: m.close_time ?? null,
  };
  return { payload, raw: market };
}

/**
 * Kalshi trades body `{trades}` → RawTrade[] after `since`, oldest first. Price from
 * `yes_price_dollars` or `yes_price` cents; size from `count_fp` or `count` (contracts);
 * side = `taker_side`; counterparty null.
 *
 * @example
 * ```ts
 * import { kalshiTrades } from "./normalizer.ts";
 * kalshiTrades({ trades: [{ created_time: "2026-01-01T00:00:00Z", yes_price: 40, count: 3,
 *   taker_side: "yes" }] }, { marketId: "k", since: 0 })[0].price; // 0.4
 * ```
 */
export function kalshiTrades(body: unknown, options: TradeOptions): RawTrade[] {
  const list = isDict(body) && Array.isArray(body.trades)
    ? body.trades
    : Array.isArray(body)
    ? body
    : null;
  if (!list) throw new MalformedPayloadError("trades", `expected {trades}, received ${show(body)}`);
  const out: RawTrade[] = [];
  list.forEach((raw, i) => {
    const f = `trades[${i}]`;
    if (!isDict(raw)) {
      throw new MalformedPayloadError(f, `expected an object, received ${show(raw)}`);
    }
    const t = unprefix(raw);
    const timestamp = toMicros(t.created_time ?? t.ts, `${f}.created_time`);
    if (timestamp <= options.since) return;
    const price = kalshiPrice(t, "yes_price");
    const size = kalshiCount(t, "count");
    if (price === null || size === null) {
      throw new MalformedPayloadError(f, "expected yes_price and count");
    }
    checkProbability(price, `${f}.yes_price`);
    checkSize(size, `${f}.count`);
    const side = t.taker_side ?? t.taker_outcome_side;
    out.push({
      market_id: options.marketId,
      platform: "kalshi",
      timestamp,
      price,
      size,
      side: typeof side === "string" ? side.toLowerCase() : "",
      counterparty: null,
    });
  });
  return out.sort((a, b) => a.timestamp - b.timestamp);
}

// ---------------------------------------------------------------------------------------
// One poll → SnapshotMessage
// ---------------------------------------------------------------------------------------

/** The raw bodies of one market's poll. */
export interface RawPoll {
  /** Parsed market body (Gamma array / Kalshi `{market}`). */
  market: unknown;
  /** Parsed book body, or null (404 / unavailable). */
  book: unknown | null;
  /** Parsed trades body, or null (unavailable). */
  trades: unknown | null;
}

/** Context of {@linkcode normalizePoll}. */
export interface PollContext {
  platform: Platform;
  /** Watchlist id. */
  marketId: string;
  /** Polymarket conditionId / Kalshi ticker. */
  platformMarketId: string;
  /** Fetch time of the market payload (epoch µs) — the snapshot timestamp. */
  fetchedAt: number;
  /** Tick time T (epoch µs). */
  now: number;
  /** Trades strictly after this time are included (epoch µs). */
  since: number;
}

/**
 * One market's raw poll → the wire {@linkcode SnapshotMessage} (snapshot, trades since the
 * previous poll, top book levels, per-side USD depth). Same function for live and replay.
 *
 * @example
 * ```ts
 * import { normalizePoll } from "./normalizer.ts";
 * const msg = normalizePoll(
 *   { market: { market: { ticker: "K", title: "Q", last_price: 50, volume_24h: 2 } }, book: null, trades: null },
 *   { platform: "kalshi", marketId: "k", platformMarketId: "K", fetchedAt: 1, now: 2, since: 0 },
 * );
 * console.log(msg.snapshot.last_price, msg.book); // 0.5 null
 * ```
 */
export function normalizePoll(raw: RawPoll, context: PollContext): SnapshotMessage {
  const { platform, marketId, platformMarketId } = context;
  let snapshot: MarketSnapshot;
  let book: Book | null = null;
  let trades: RawTrade[] = [];
  if (platform === "polymarket") {
    const payload = polymarketPayload(raw.market, platformMarketId);
    if (raw.book !== null) book = polymarketBook(raw.book);
    snapshot = normalizeSnapshot(payload, book, {
      marketId,
      platform,
      fetchedAt: context.fetchedAt,
    });
    if (raw.trades !== null) {
      trades = polymarketTrades(raw.trades, {
        marketId,
        since: context.since,
        conditionId: platformMarketId,
        yesOutcomeIndex: payload.yes_outcome_index as number,
      });
    }
  } else {
    const { payload, raw: rawJson } = kalshiPayload(raw.market, platformMarketId);
    if (raw.book !== null) book = kalshiBook(raw.book);
    snapshot = normalizeSnapshot(payload, book, {
      marketId,
      platform,
      fetchedAt: context.fetchedAt,
      rawJson,
    });
    if (raw.trades !== null) trades = kalshiTrades(raw.trades, { marketId, since: context.since });
  }
  // The book was parsed here and nothing else holds it: its top levels travel as they are.
  const summary = book ? ownBookSummary(book) : bookSummary(null);
  return {
    now: context.now,
    snapshot,
    trades,
    book_events: [],
    book: summary.book,
    bid_depth: summary.bid_depth,
    ask_depth: summary.ask_depth,
  };
}
