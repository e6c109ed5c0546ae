import { assert, assertEquals, assertStringIncludes, assertThrows } from "../../helpers/assert.ts";
import {
  canonicalJson,
  decode,
  DecodeError,
  encode,
  EncodeError,
  encodeText,
  formatFloat,
  formatIsoMicros,
  KINDS,
  parseIsoMicros,
  roundHalfEven,
} from "../../../pipeline/canonical_json.ts";
import type {
  MarketSignal,
  MarketSnapshot,
  SignalContext,
  SnapshotMessage,
} from "../../../pipeline/models.ts";
import { REFERENCE_CONTEXT_JSON } from "./signal_fixtures.ts";

/** The DOMAIN §14 reference vector. */
const REFERENCE = REFERENCE_CONTEXT_JSON;

const us = (iso: string) => Date.parse(iso) * 1000;

function referenceContext(): SignalContext {
  const signal: MarketSignal = {
    signal_id: "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b",
    market_id: "kalshi_fed",
    platform: "kalshi",
    signal_type: "volume_spike",
    magnitude: 0.25,
    direction: 1,
    confidence: 0.25,
    fdr_adjusted: false,
    detected_at: us("2026-03-15T12:00:07Z"),
    window_seconds: 3600,
    liquidity_tier: "mid",
    manipulation_flags: ["thin_book_during_move"],
    related_market_ids: ["kalshi_fed_holds"],
    // deliberately unsorted input keys
    raw_features: {
      z_score: 3.15,
      volume_ratio_1h: 1.0,
      ewma_std: 0.0000012345,
      ewma_mean: 2.0,
      calibration_provenance: "volume_spike_ewma_z_v1@identity_v0",
    },
    schema_version: "1.0.0",
  };
  return {
    // deliberately out of canonical order
    schema_version: "1.0.0",
    interpretation_mode: "deterministic",
    investigation_prompts: ["Check FOMC calendar."],
    related_markets: [{
      relationship_strength: 0.9,
      relationship_type: "inverse",
      volume_24h: 85000,
      delta_24h: -0.0235432,
      current_price: 0.44,
      question: "Hold?",
      market_id: "kalshi_fed_holds",
    }],
    closes_at: us("2026-06-15T18:00:00Z"),
    resolution_source: "Fed",
    resolution_criteria: "",
    market_question: "Will the Fed cut in June?",
    signal,
  };
}

Deno.test("canonicalJson reproduces the DOMAIN §14 reference vector byte for byte", () => {
  const text = canonicalJson(referenceContext(), KINDS.context);
  assertEquals(text, REFERENCE);
  // and the UTF-8 bytes
  assertEquals(new TextEncoder().encode(text), new TextEncoder().encode(REFERENCE));
});

Deno.test("canonical JSON of the reference decodes back to the rounded values", () => {
  const back = decode(REFERENCE, KINDS.context);
  assertEquals(back.signal.detected_at, us("2026-03-15T12:00:07Z"));
  assertEquals(back.related_markets[0].delta_24h, -0.023543);
  assertEquals(back.signal.raw_features.ewma_std, 1e-6);
  assertEquals(canonicalJson(back, KINDS.context), REFERENCE);
});

Deno.test("formatFloat prints like Python repr", () => {
  const cases: [number, string][] = [
    [0, "0.0"],
    [-0, "-0.0"],
    [1, "1.0"],
    [85000, "85000.0"],
    [0.25, "0.25"],
    [3.15, "3.15"],
    [-0.023543, "-0.023543"],
    [1e-6, "1e-06"],
    [1.2e-5, "1.2e-05"],
    [0.0001, "0.0001"],
    [0.00012, "0.00012"],
    [9.9e-5, "9.9e-05"],
    [1e16, "1e+16"],
    [1.5e16, "1.5e+16"],
    [9999999999999998, "9999999999999998.0"],
    [123456789.125, "123456789.125"],
    [1e22, "1e+22"],
    [-1e-7, "-1e-07"],
    [1.7976931348623157e308, "1.7976931348623157e+308"],
    [5e-324, "5e-324"],
    [0.1 + 0.2, "0.30000000000000004"],
  ];
  for (const [x, s] of cases) assertEquals(formatFloat(x), s, `formatFloat(${x})`);
});

Deno.test("roundHalfEven is correctly rounded with exact ties to even", () => {
  assertEquals(roundHalfEven(0.0000012345, 6), 0.000001);
  assertEquals(roundHalfEven(-0.0235432, 6), -0.023543);
  // exact binary ties (x·128 odd): 0.0078125 → 0.007812 (even), 0.0234375 → 0.023438 (even)
  assertEquals(roundHalfEven(0.0078125, 6), 0.007812);
  assertEquals(roundHalfEven(0.0234375, 6), 0.023438);
  assertEquals(roundHalfEven(-0.0078125, 6), -0.007812);
  assertEquals(roundHalfEven(2.5, 0), 2);
  assertEquals(roundHalfEven(3.5, 0), 4);
  assertEquals(roundHalfEven(-2.5, 0), -2);
  // not ties in binary: 0.0000005 is slightly below 5e-7 → 0; 2.675 is below → 2.67
  assertEquals(roundHalfEven(0.0000005, 6), 0);
  assertEquals(roundHalfEven(2.675, 2), 2.67);
  assertEquals(roundHalfEven(1.0000005, 6), 1.000001); // 1.0000005 is above the tie in binary
  // a negative value rounding to zero keeps its sign
  assert(Object.is(roundHalfEven(-0.0000001, 6), -0));
  assertEquals(formatFloat(roundHalfEven(-0.0000001, 6)), "-0.0");
  // large magnitudes go through the slow path
  assertEquals(roundHalfEven(123456789012.0078125, 6), 123456789012.0078125);
  assertEquals(roundHalfEven(1e300, 6), 1e300);
  assertThrows(() => roundHalfEven(NaN, 6), EncodeError);
});

Deno.test("roundHalfEven agrees with a BigInt exact reference on random doubles", () => {
  // exact reference: x = m·2^e; compute round(x·10^6) half-even with BigInt arithmetic.
  function exact(x: number): number {
    if (Number.isInteger(x)) return x;
    const buf = new DataView(new ArrayBuffer(8));
    buf.setFloat64(0, Math.abs(x));
    const bits = buf.getBigUint64(0);
    const expBits = Number((bits >> 52n) & 0x7ffn);
    let mant = bits & ((1n << 52n) - 1n);
    let e: number;
    if (expBits === 0) e = -1074;
    else {
      mant |= 1n << 52n;
      e = expBits - 1075;
    }
    // |x| = mant / 2^(-e) (e < 0 here since x is not an integer)
    const num = mant * 1000000n;
    const den = 1n << BigInt(-e);
    let q = num / den;
    const r = num - q * den;
    if (2n * r > den || (2n * r === den && q % 2n === 1n)) q += 1n;
    const v = Number(`${q}e-6`);
    return x < 0 ? (v === 0 ? -0 : -v) : v;
  }
  let seed = 12345;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  for (let i = 0; i < 20000; i++) {
    const scale = 10 ** Math.floor(rand() * 16 - 8);
    let x = (rand() - 0.5) * scale;
    if (i % 5 === 0) x = Math.round(x * 1e7) / 1e7 + 5e-7; // near decimal ties
    if (i % 7 === 0) x = Math.round(x * 128 * 1e3) / 128 / 1e3 + 1 / 128; // binary ties
    assert(Object.is(roundHalfEven(x, 6), exact(x)), `round(${x})`);
  }
});

Deno.test("formatIsoMicros / parseIsoMicros round trip", () => {
  assertEquals(formatIsoMicros(us("2026-03-15T12:00:07Z")), "2026-03-15T12:00:07Z");
  assertEquals(formatIsoMicros(us("2026-03-15T12:00:07Z") + 1), "2026-03-15T12:00:07.000001Z");
  assertEquals(formatIsoMicros(-1), "1969-12-31T23:59:59.999999Z");
  assertEquals(formatIsoMicros(0), "1970-01-01T00:00:00Z");
  assertEquals(parseIsoMicros("2026-03-15T12:00:07.5Z"), us("2026-03-15T12:00:07Z") + 500000);
  assertEquals(parseIsoMicros("2026-03-15T12:00:07+00:00"), us("2026-03-15T12:00:07Z"));
  assertEquals(parseIsoMicros("2026-02-30T00:00:00Z"), null);
  assertEquals(parseIsoMicros("2026-03-15 12:00:07"), null);
  assertEquals(parseIsoMicros("0001-01-01T00:00:00Z"), null); // beyond safe-integer µs
  assertEquals(parseIsoMicros("1700-01-01T00:00:00Z"), -8520336000000000);
  const max = Number.MAX_SAFE_INTEGER;
  for (const t of [0, 1, -1, 1773576007123456, max, -max]) {
    assertEquals(parseIsoMicros(formatIsoMicros(t)), t);
  }
  assertThrows(() => formatIsoMicros(1.5), EncodeError);
});

function snapshot(overrides: Partial<MarketSnapshot> = {}): MarketSnapshot {
  return {
    market_id: "kalshi_fed",
    platform: "kalshi",
    timestamp: 1773576007123456,
    last_price: 0.4,
    bid: 0.39,
    ask: 0.41,
    spread: 0.41 - 0.39,
    volume_24h: 123456.789,
    liquidity: 5000.5,
    question: 'Will the Fed cut? \u00e9\u6f22\ud83d\ude00 "q" \n',
    resolution_source: null,
    resolution_criteria: "Rules",
    closes_at: null,
    raw_json: { z: 1, a: [1.5, -0, null, { y: "x", b: 1e-7 }], m: true, big: 12345678901234 },
    schema_version: "1.0.0",
    ...overrides,
  };
}

Deno.test("encode/decode round trip is lossless and byte-stable", () => {
  const s = snapshot({ last_price: 0.1 + 0.2, volume_24h: 1e-9 });
  const bytes = encode(s, KINDS.snapshot);
  const back = decode(bytes, KINDS.snapshot);
  assertEquals(back, s);
  assertEquals(encode(back, KINDS.snapshot), bytes);
  const text = new TextDecoder().decode(bytes);
  // sorted keys, raw UTF-8, integer micros, lossless floats
  assert(
    text.startsWith('{"ask":0.41,"bid":0.39,"closes_at":null,"last_price":0.30000000000000004'),
  );
  assertStringIncludes(text, '"timestamp":1773576007123456');
  assertStringIncludes(text, '\u00e9\u6f22\ud83d\ude00 \\"q\\" \\n');
  assertStringIncludes(
    text,
    '"raw_json":{"a":[1.5,-0.0,null,{"b":1e-07,"y":"x"}],"big":12345678901234',
  );
  assertStringIncludes(text, '"volume_24h":1e-09');
});

Deno.test("signals, messages and contexts round trip through the wire codec", () => {
  const context = referenceContext();
  const back = decode(encode(context, KINDS.context), KINDS.context);
  assertEquals(back, context as unknown as typeof back);
  const message: SnapshotMessage = {
    now: 1773576007000000,
    snapshot: snapshot(),
    trades: [{
      market_id: "kalshi_fed",
      platform: "kalshi",
      timestamp: 1773576000000000,
      price: 0.4,
      size: 10,
      side: "yes",
      counterparty: null,
    }],
    book_events: [],
    book: { bids: [[0.39, 100]], asks: [[0.41, 50], [0.42, 10]] },
    bid_depth: 39,
    ask_depth: 24.7,
  };
  assertEquals(decode(encode(message, KINDS.snapshotMessage), KINDS.snapshotMessage), message);
});

Deno.test("decode accepts ISO times and rejects bad input with a typed error and path", () => {
  const iso = canonicalJson(snapshot(), KINDS.snapshot);
  const fromIso = decode(iso, KINDS.snapshot);
  assertEquals(fromIso.timestamp, 1773576007123456);

  const badJson = assertThrows(() => decode("{", KINDS.snapshot), DecodeError);
  assertEquals(badJson.name, "DecodeError");
  assert(badJson.cause !== undefined);

  const wrong = JSON.parse(encodeText(snapshot(), KINDS.snapshot));
  wrong.last_price = 1.5;
  const e1 = assertThrows(() => decode(JSON.stringify(wrong), KINDS.snapshot), DecodeError);
  assertStringIncludes(e1.message, "last_price");
  assertEquals(e1.path, "last_price");

  const extra = JSON.parse(encodeText(snapshot(), KINDS.snapshot));
  extra.surprise = 1;
  assertThrows(() => decode(JSON.stringify(extra), KINDS.snapshot), DecodeError, "surprise");

  const badTime = JSON.parse(encodeText(snapshot(), KINDS.snapshot));
  badTime.timestamp = "yesterday";
  assertThrows(() => decode(JSON.stringify(badTime), KINDS.snapshot), DecodeError, "timestamp");

  const signal = JSON.parse(encodeText(referenceContext().signal, KINDS.signal));
  signal.direction = 0.5;
  assertThrows(() => decode(JSON.stringify(signal), KINDS.signal), DecodeError, "direction");
  signal.direction = 1;
  signal.raw_features.calibration_provenance = "";
  assertThrows(
    () => decode(JSON.stringify(signal), KINDS.signal),
    DecodeError,
    "raw_features.calibration_provenance",
  );
  assertThrows(() => decode(new Uint8Array([0xff, 0xfe]), KINDS.signal), DecodeError);
});

Deno.test("encode rejects NaN, Infinity and missing fields", () => {
  assertThrows(
    () => encode(snapshot({ last_price: NaN }), KINDS.snapshot),
    EncodeError,
    "last_price",
  );
  assertThrows(
    () => canonicalJson(snapshot({ liquidity: Infinity }), KINDS.snapshot),
    EncodeError,
    "liquidity",
  );
  const partial = { ...snapshot() } as Partial<MarketSnapshot>;
  delete partial.question;
  assertThrows(() => encode(partial as MarketSnapshot, KINDS.snapshot), EncodeError, "question");
});

Deno.test("record keys sort by code point, not UTF-16 unit", () => {
  const signal = {
    ...referenceContext().signal,
    raw_features: {
      calibration_provenance: "volume_spike_ewma_z_v1@identity_v0",
      "\uff21": 1, // U+FF21 (BMP, high)
      "\ud83d\ude00": 2, // U+1F600 (astral) sorts after U+FF21 by code point
    },
  };
  const text = canonicalJson(signal, KINDS.signal);
  assert(text.indexOf("\uff21") < text.indexOf("\ud83d\ude00"));
});

Deno.test("nested encode/decode errors name the full field path", () => {
  const message: SnapshotMessage = {
    now: 0,
    snapshot: snapshot(),
    trades: [{
      market_id: "m",
      platform: "kalshi",
      timestamp: 0,
      price: NaN,
      size: 1,
      side: "yes",
      counterparty: null,
    }],
    book_events: [],
    book: null,
    bid_depth: null,
    ask_depth: null,
  };
  assertThrows(() => encode(message, KINDS.snapshotMessage), EncodeError, "trades[0].price");
  const ok = JSON.parse(encodeText({ ...message, trades: [] }, KINDS.snapshotMessage));
  ok.book_events = [{ market_id: "m", timestamp: "nope", kind: "cancel", size: 1 }];
  const error = assertThrows(
    () => decode(JSON.stringify(ok), KINDS.snapshotMessage),
    DecodeError,
    "book_events[0].timestamp",
  );
  assertEquals(error.path, "book_events[0].timestamp");
});
