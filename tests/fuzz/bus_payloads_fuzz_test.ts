/**
 * Fuzz: every bus payload decoder (canonical_json `decode` for each KINDS entry, tick markers,
 * tick messages) and the poison path through the real partition runner + feature stage and
 * the bridge over the memory bus.
 *
 * Property per case: a value that decodes re-validates against its schema, re-encodes
 * byte-identically (encode ∘ decode ∘ encode = encode) and keeps every key and value of the
 * input (ISO times → µs, defaults added, nothing dropped or changed); anything else is a
 * DecodeError / PoisonError within the time budget.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import {
  describeInput,
  expectTypedError,
  Fuzz,
  fuzzPlan,
  FuzzTally,
  runSync,
} from "../helpers/fuzz.ts";
import { waitFor } from "../helpers/wait.ts";
import {
  decode,
  DecodeError,
  encodeText,
  type Kind,
  KINDS,
  parseIsoMicros,
} from "../../pipeline/canonical_json.ts";
import {
  DETECTOR_ID_BY_SIGNAL_TYPE,
  DETECTOR_IDS,
  type MarketSnapshot,
  SIGNAL_TYPES,
  type SnapshotMessage,
} from "../../pipeline/models.ts";
import { decodeTickMark, TICK_HEADER, tickMarker } from "../../runtime/stages/tick_marker.ts";
import { decodeTickMessage, encodeTickMessage } from "../../runtime/stages/poller_stage.ts";
import {
  type Checkpoint,
  type CheckpointStore,
  PoisonError,
  runPartitions,
} from "../../runtime/partition_runner.ts";
import { runBridge } from "../../runtime/bridge.ts";
import { featureStage } from "../../runtime/stages/feature_stage.ts";
import { Subjects } from "../../runtime/subjects.ts";
import { MemoryBus } from "../../adapters/bus/memory_bus.ts";
import { type Delivery, HEADER, type OutgoingMessage } from "../../adapters/bus/types.ts";
import { MemoryLock, MemoryLockStore } from "../../adapters/lock/memory_lock.ts";
import { MetricsRegistry } from "../../adapters/observability/metrics.ts";
import { createLogger } from "../../adapters/observability/logger.ts";

const BUDGET_MS = 250;
const T0 = Date.UTC(2026, 2, 15, 12, 0, 0) * 1000;
const enc = new TextEncoder();
const dec = new TextDecoder();
const quiet = createLogger({ sink: () => {} });

// ---------------------------------------------------------------------------------------
// Valid samples of every kind
// ---------------------------------------------------------------------------------------

function uuid(f: Fuzz): string {
  const hex = () => f.int(16).toString(16);
  const part = (n: number) => Array.from({ length: n }, hex).join("");
  return `${part(8)}-${part(4)}-7${part(3)}-8${part(3)}-${part(12)}`;
}

function text(f: Fuzz): string {
  return f.pick(["Will it rain?", "Fed cut in July?", "中文 ✓ 😀", "", 'a"b\\c\n', f.string()]);
}

function prob(f: Fuzz): number {
  return f.pick([0, 1, 0.5, f.rng.next(), 0.000012, 0.999999]);
}

function snapshot(f: Fuzz, overrides: Partial<MarketSnapshot> = {}): MarketSnapshot {
  const bid = f.chance(0.2) ? null : prob(f);
  return {
    market_id: f.pick(["kalshi_fed", "poly-1", "m.x", "ü"]),
    platform: f.pick(["polymarket", "kalshi"] as const),
    timestamp: T0 + f.int(1e9),
    last_price: prob(f),
    bid,
    ask: bid === null ? null : prob(f),
    spread: bid === null ? null : f.rng.next() - 0.5,
    volume_24h: f.int(1e7) + f.rng.next(),
    liquidity: f.int(1e5),
    question: text(f),
    resolution_source: f.chance(0.5) ? null : text(f),
    resolution_criteria: f.chance(0.5) ? null : text(f),
    closes_at: f.chance(0.5) ? null : T0 + f.int(1e12),
    raw_json: f.chance(0.5) ? {} : { id: "x", nested: { a: [1, 2.5, "s", null, true] } },
    schema_version: "1.0.0",
    ...overrides,
  };
}

function trade(f: Fuzz) {
  return {
    market_id: "m",
    platform: f.pick(["polymarket", "kalshi"] as const),
    timestamp: T0 + f.int(1e9),
    price: prob(f),
    size: f.int(1000) + 0.25,
    side: f.pick(["buy", "sell", "yes"]),
    counterparty: f.chance(0.5) ? null : "0xabc",
  };
}

function bookEvent(f: Fuzz) {
  return {
    market_id: "m",
    timestamp: T0 + f.int(1e9),
    kind: f.pick(["insert", "cancel", "replace"] as const),
    size: f.rng.next() * 100 - 50,
  };
}

function features(f: Fuzz) {
  const x = () => f.rng.next() * 2 - 1;
  return {
    market_id: "m",
    computed_at: T0 + f.int(1e9),
    price_momentum_5m: x(),
    price_momentum_15m: x(),
    price_momentum_1h: x(),
    price_momentum_4h: x(),
    volatility_5m: x(),
    volatility_15m: x(),
    volatility_1h: x(),
    volatility_4h: x(),
    volume_ratio_5m: x(),
    volume_ratio_1h: x(),
    bid_ask_ratio: f.chance(0.3) ? null : prob(f),
    spread_pct: f.chance(0.3) ? null : x(),
    schema_version: "1.0.0",
  };
}

function signal(f: Fuzz) {
  const type = f.pick(SIGNAL_TYPES);
  return {
    signal_id: uuid(f),
    market_id: "m",
    platform: f.pick(["polymarket", "kalshi"] as const),
    signal_type: type,
    magnitude: prob(f),
    direction: f.pick([-1, 0, 1] as const),
    confidence: prob(f),
    fdr_adjusted: f.chance(0.5),
    detected_at: T0 + f.int(1e9),
    window_seconds: 1 + f.int(86400),
    liquidity_tier: f.pick(["high", "mid", "low"] as const),
    manipulation_flags: f.chance(0.5) ? [] : ["thin_book_during_move" as const],
    related_market_ids: f.chance(0.5) ? [] : ["a", "b"],
    raw_features: {
      calibration_provenance: `${DETECTOR_ID_BY_SIGNAL_TYPE[type]}@identity_v0`,
      z: f.rng.next() * 10,
    },
    schema_version: "1.0.0" as const,
  };
}

function related(f: Fuzz) {
  return {
    market_id: "r",
    question: text(f),
    current_price: prob(f),
    delta_24h: f.rng.next() - 0.5,
    volume_24h: f.int(1e6),
    relationship_type: f.pick(["positive", "inverse", "complex", "causal"] as const),
    relationship_strength: prob(f),
  };
}

function levels(f: Fuzz): [number, number][] {
  return Array.from({ length: f.int(4) }, () => [prob(f), f.int(1000) + 0.5]);
}

/** One valid value of each kind (randomized within the schema). */
// deno-lint-ignore no-explicit-any
const SAMPLES: Record<keyof typeof KINDS, (f: Fuzz) => any> = {
  snapshot: (f) => snapshot(f),
  features,
  signal,
  relatedMarket: related,
  context: (f) => ({
    signal: signal(f),
    market_question: text(f),
    resolution_criteria: text(f),
    resolution_source: text(f),
    closes_at: T0 + f.int(1e12),
    related_markets: f.chance(0.5) ? [] : [related(f), related(f)],
    investigation_prompts: ["why?", text(f)],
    interpretation_mode: f.pick(["deterministic", "llm_assisted"]),
    schema_version: "1.0.0",
  }),
  brief: (f) => ({
    brief_id: uuid(f),
    signal_id: uuid(f),
    headline: "Fed odds jump",
    body_markdown: "**Body** text",
    severity: f.pick(["high", "medium", "low"]),
    actionable_for: ["dashboard"],
    interpretation_mode: "llm_assisted",
    model: "claude@anthropic",
    prompt_hash: "a".repeat(64),
    formatter_version: "v1",
    generated_at: T0,
    forbidden_token_check: "passed",
    schema_version: "1.0.0",
  }),
  trade,
  bookEvent,
  taxonomyEdge: (f) => ({
    market_a: "a",
    market_b: "b",
    relationship_type: "inverse",
    strength: prob(f),
    source: f.pick(["manual", "embedding"]),
  }),
  reliabilityCurve: (f) => ({
    detector_id: f.pick(DETECTOR_IDS),
    liquidity_tier: "mid",
    curve_version: "v3",
    deciles: levels(f),
    built_at: T0,
  }),
  fprRecord: (f) => ({
    detector_id: f.pick(DETECTOR_IDS),
    market_id: "m",
    fpr: prob(f),
    sample_size: f.int(1000),
    computed_at: T0,
    label_protocol_version: "v0",
  }),
  driftReport: (f) => ({
    detector_id: f.pick(DETECTOR_IDS),
    psi: f.rng.next(),
    ks_statistic: f.rng.next(),
    ks_p_value: f.rng.next(),
    triggered: f.chance(0.5),
    triggered_metrics: f.chance(0.5) ? [] : ["psi", "ks"],
    checked_at: T0,
  }),
  stormState: (f) => ({
    in_storm: f.chance(0.5),
    started_at: f.chance(0.5) ? null : T0,
    ended_at: f.chance(0.5) ? null : T0 + 1,
  }),
  snapshotMessage: (f) => snapshotMessage(f, snapshot(f)),
  featuresMessage: (f) => ({
    now: T0,
    features: features(f),
    snapshot: snapshot(f),
    trades: f.chance(0.5) ? [] : [trade(f)],
    book_events: f.chance(0.5) ? [] : [bookEvent(f)],
  }),
  candidateMessage: (f) => ({
    signal: signal(f),
    closes_at: f.chance(0.5) ? null : T0,
    evidence: {
      trades: [trade(f)],
      book_events: [bookEvent(f)],
      snapshots: [snapshot(f, { raw_json: {} })],
    },
  }),
};

function snapshotMessage(f: Fuzz, snap: MarketSnapshot): SnapshotMessage {
  const hasBook = f.chance(0.6);
  return {
    now: snap.timestamp + 5,
    snapshot: snap,
    trades: f.chance(0.5) ? [] : [trade(f)],
    book_events: [],
    book: hasBook ? { bids: levels(f), asks: levels(f) } : null,
    bid_depth: hasBook ? f.int(1000) : null,
    ask_depth: hasBook ? f.int(1000) : null,
  };
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

/**
 * Whether `decoded` keeps everything the parsed input said: every key of every input object is
 * an own key of the decoded object with the same value (ISO time strings may become µs);
 * decoded objects may only add keys (schema defaults).
 */
function preserves(input: unknown, decoded: unknown, path = ""): string | null {
  if (typeof input === "string" && typeof decoded === "number") {
    return parseIsoMicros(input) === decoded ? null : `${path}: ${input} → ${decoded}`;
  }
  if (Array.isArray(input)) {
    if (!Array.isArray(decoded) || decoded.length !== input.length) return `${path}: array`;
    for (let i = 0; i < input.length; i++) {
      const problem = preserves(input[i], decoded[i], `${path}[${i}]`);
      if (problem) return problem;
    }
    return null;
  }
  if (typeof input === "object" && input !== null) {
    if (typeof decoded !== "object" || decoded === null || Array.isArray(decoded)) {
      return `${path}: object`;
    }
    for (const key of Object.keys(input)) {
      if (!Object.hasOwn(decoded, key)) return `${path}.${key}: dropped`;
      const problem = preserves(
        (input as Record<string, unknown>)[key],
        (decoded as Record<string, unknown>)[key],
        `${path}.${key}`,
      );
      if (problem) return problem;
    }
    return null;
  }
  return Object.is(input, decoded) ? null : `${path}: ${String(input)} → ${String(decoded)}`;
}

function checkDecoded<T>(kind: Kind<T>, input: string, value: T): void {
  const context = () => `${kind.name} input: ${describeInput(input)}`;
  const reparsed = kind.schema.safeParse(value);
  assert(reparsed.success, `decoded value does not re-validate; ${context()}`);
  const once = encodeText(value, kind);
  const twice = encodeText(decode(once, kind), kind);
  assertEquals(twice, once, `re-encoding is not byte-identical; ${context()}`);
  const problem = preserves(JSON.parse(input), value);
  assert(problem === null, `silently changed value (${problem}); ${context()}`);
}

/** Fuzz inputs for a kind: valid, value-mutated, text-mutated, byte-mutated, random. */
function fuzzInput(f: Fuzz, kindName: keyof typeof KINDS): string | Uint8Array {
  const valid = SAMPLES[kindName](f);
  const kind = KINDS[kindName] as Kind<unknown>;
  const r = f.int(10);
  if (r === 0) return encodeText(valid, kind);
  if (r <= 3) return JSON.stringify(f.mutateValue(valid)) ?? "";
  if (r <= 6) return f.mutateText(encodeText(valid, kind));
  if (r <= 8) return f.mutateBytes(enc.encode(encodeText(valid, kind)));
  return JSON.stringify(f.json(4)) ?? "";
}

Deno.test("fuzz bus payloads: decode of every kind yields a faithful value or a DecodeError", () => {
  const kinds = Object.keys(KINDS) as (keyof typeof KINDS)[];
  const plan = fuzzPlan("bus_payloads", { seed: 0x5eed_0001, cases: 6000 });
  const f = new Fuzz(plan.seed);
  const tally = new FuzzTally();
  for (let i = 0; i < plan.cases; i++) {
    const kindName = kinds[i % kinds.length];
    const kind = KINDS[kindName] as Kind<unknown>;
    const input = fuzzInput(f, kindName);
    const outcome = runSync(() => decode(input, kind), BUDGET_MS);
    if (outcome.ok) {
      const textInput = typeof input === "string" ? input : dec.decode(input);
      checkDecoded(kind, textInput, outcome.value);
      tally.add("ok");
    } else {
      expectTypedError(outcome.error, [DecodeError], input);
      tally.add("DecodeError");
    }
  }
  console.log(tally.summary("bus_payloads"));
  assertEquals(tally.total, plan.cases);
  assert((tally.counts.get("ok") ?? 0) > plan.cases / 20, "too few valid cases");
  assert((tally.counts.get("DecodeError") ?? 0) > plan.cases / 4, "too few invalid cases");
});

/** `bytes` (the encoding of `valid`), or — 3 times in 4 — a mutation of its value, text or bytes. */
function mutated(f: Fuzz, valid: unknown, bytes: Uint8Array): Uint8Array {
  const r = f.int(4);
  return r === 0
    ? bytes
    : r === 1
    ? enc.encode(JSON.stringify(f.mutateValue(valid)) ?? "")
    : r === 2
    ? enc.encode(f.mutateText(dec.decode(bytes)))
    : f.mutateBytes(bytes);
}

Deno.test("fuzz bus payloads: tick markers and tick messages decode or are poison", () => {
  const plan = fuzzPlan("tick_payloads", { seed: 0x5eed_0002, cases: 3000 });
  const f = new Fuzz(plan.seed);
  const tally = new FuzzTally();
  for (let i = 0; i < plan.cases; i++) {
    if (i % 2 === 0) {
      const valid = { platform: f.pick(["kalshi", "polymarket"]), t: T0 + f.int(1e9) };
      const marker = tickMarker("augur.features.00.~tick", valid).payload;
      const input = mutated(f, valid, marker);
      const outcome = runSync(() => decodeTickMark(input), BUDGET_MS);
      if (outcome.ok) {
        assertEquals(typeof outcome.value.platform, "string");
        assert(Number.isSafeInteger(outcome.value.t));
        assertEquals(Object.keys(outcome.value).sort(), ["platform", "t"]);
        tally.add("marker_ok");
      } else {
        expectTypedError(outcome.error, [PoisonError], input);
        tally.add("marker_PoisonError");
      }
    } else {
      const snaps = f.chance(0.5) ? [] : [snapshot(f)];
      const valid = {
        platform: f.pick(["kalshi", "polymarket"] as const),
        t: T0 + f.int(1e9),
        announced: f.int(100),
        snapshots: snaps,
      };
      const bytes = encodeTickMessage(valid);
      const input = mutated(f, valid, bytes);
      const outcome = runSync(() => decodeTickMessage(input), BUDGET_MS);
      if (outcome.ok) {
        // Faithful up to -0 ≡ 0 (decodeTickMessage re-serializes snapshots): after one
        // round trip, encoding is a fixed point.
        const once = encodeTickMessage(decodeTickMessage(encodeTickMessage(outcome.value)));
        assertEquals(dec.decode(encodeTickMessage(decodeTickMessage(once))), dec.decode(once));
        assertEquals(
          outcome.value.snapshots.length,
          JSON.parse(dec.decode(input)).snapshots.length,
        );
        assert(["kalshi", "polymarket"].includes(outcome.value.platform));
        tally.add("tick_ok");
      } else {
        expectTypedError(outcome.error, [PoisonError], input);
        tally.add("tick_PoisonError");
      }
    }
  }
  console.log(tally.summary("tick_payloads"));
  assertEquals(tally.total, plan.cases);
});

// ---------------------------------------------------------------------------------------
// Poison through the real runners
// ---------------------------------------------------------------------------------------

class MapCheckpoints implements CheckpointStore {
  readonly saved = new Map<string, Checkpoint>();
  load(kind: string, partition: number) {
    return Promise.resolve(this.saved.get(`${kind}/${partition}`) ?? null);
  }
  save(kind: string, partition: number, checkpoint: Checkpoint) {
    this.saved.set(`${kind}/${partition}`, checkpoint);
    return Promise.resolve();
  }
}

function fakeDelivery(message: OutgoingMessage, position: number): Delivery {
  return {
    subject: message.subject,
    payload: message.payload,
    headers: message.headers ?? {},
    stream: "offline",
    position: String(position),
    deliveryCount: 1,
    publishedAtMs: 0,
    ack: () => Promise.resolve(),
    nak: () => Promise.resolve(),
    working: () => Promise.resolve(),
    deadLetter: () => Promise.resolve(),
  };
}

/** Collect every message of `subject` read from the first position. */
function collect(bus: MemoryBus, subject: string) {
  const out: Delivery[] = [];
  const sub = bus.read(subject, { from: { kind: "first" } });
  const done = (async () => {
    for await (const d of sub) out.push(d);
  })();
  return { out, stop: async () => (await sub.stop(), await done) };
}

Deno.test("fuzz bus payloads: poison snapshots through the partition runner + feature stage land in augur.ops.dlq; valid ones flow", async () => {
  const plan = fuzzPlan("feature_runner", { seed: 0x5eed_0003, cases: 1500 });
  const f = new Fuzz(plan.seed);
  const P = 4;
  const subjects = new Subjects({ partitions: P });
  const markets = ["kalshi_fed", "poly-1", "m3", "m4", "m5", "m6"];
  const clock = new Map<string, number>(markets.map((m) => [m, T0]));
  const inputs: OutgoingMessage[] = [];
  for (let i = 0; i < plan.cases; i++) {
    const market = f.pick(markets);
    const ts = clock.get(market)! + (1 + f.int(60)) * 1_000_000;
    clock.set(market, ts);
    const snap = snapshot(f, { market_id: market, timestamp: ts, raw_json: {} });
    const valid = encodeText(snapshotMessage(f, snap), KINDS.snapshotMessage);
    const p = subjects.partitionOf(market);
    const headers = { [HEADER.id]: `snapshot:${market}:${ts}`, [HEADER.key]: market };
    const r = f.int(12);
    if (r === 0) {
      // a tick marker, sometimes malformed
      const marker = tickMarker(subjects.marker("snapshots", p), { platform: "kalshi", t: ts });
      inputs.push(f.chance(0.5) ? marker : { ...marker, payload: f.mutateBytes(marker.payload) });
      continue;
    }
    const payload = r <= 6
      ? enc.encode(valid)
      : r <= 8
      ? enc.encode(f.mutateText(valid))
      : r <= 10
      ? f.mutateBytes(enc.encode(valid))
      : enc.encode(JSON.stringify(f.mutateValue(JSON.parse(valid))) ?? "");
    inputs.push({ subject: subjects.snapshots(p, snap.platform, market), payload, headers });
  }

  // Expected: the same stage code run offline, in partition order.
  const byPartition = new Map<number, OutgoingMessage[]>();
  for (const m of inputs) {
    const p = Number(m.subject.split(".")[2]);
    byPartition.set(p, [...byPartition.get(p) ?? [], m]);
  }
  let expectedOutputs = 0;
  const expectedPoison: string[] = [];
  for (const [p, messages] of byPartition) {
    const processor = await featureStage({ subjects }).open(p, null);
    let position = 0;
    for (const m of messages) {
      try {
        expectedOutputs += (await processor.process(fakeDelivery(m, ++position))).length;
      } catch (error) {
        expectTypedError(error, [PoisonError], m.payload);
        expectedPoison.push(dec.decode(m.payload));
      }
    }
  }

  const registry = new MetricsRegistry();
  const bus = new MemoryBus({ capacity: 100_000, registry, logger: quiet });
  await bus.connect();
  for (let i = 0; i < inputs.length; i += 500) await bus.publishBatch(inputs.slice(i, i + 500));
  const dlq = collect(bus, "augur.ops.dlq");
  const outputs = collect(bus, "augur.features.>");
  const abort = new AbortController();
  const run = runPartitions(
    bus,
    new MemoryLock({ store: new MemoryLockStore() }),
    new MapCheckpoints(),
    featureStage({ subjects }),
    {
      partitions: [...Array(P).keys()],
      replicaId: "fuzz",
      signal: abort.signal,
      lease: { ttlMs: 10_000, renewIntervalMs: 1000, marginMs: 100, waitTickMs: 10 },
      retryBackoffMs: [1],
      maxRetries: 2,
      registry,
      logger: quiet,
    },
  );
  try {
    await waitFor(
      () => dlq.out.length === expectedPoison.length && outputs.out.length === expectedOutputs,
      { timeoutMs: 30_000 },
    ).catch(() => {}); // the counts are asserted below
  } finally {
    abort.abort();
    await run;
  }
  await dlq.stop();
  await outputs.stop();
  console.log(
    `fuzz feature_runner: inputs=${inputs.length} poison=${expectedPoison.length} ` +
      `feature_outputs=${expectedOutputs} dlq=${dlq.out.length} features=${outputs.out.length}`,
  );
  assertEquals(dlq.out.length, expectedPoison.length);
  assertEquals(outputs.out.length, expectedOutputs);
  for (const d of dlq.out) {
    assertEquals(d.headers[HEADER.reason], "decode");
    assert(d.headers[HEADER.sourceSubject]?.startsWith("augur.snapshots."));
    assertEquals(d.headers[HEADER.worker], "feature");
  }
  assertEquals(dlq.out.map((d) => dec.decode(d.payload)).sort(), expectedPoison.sort());
  assert(expectedPoison.length > inputs.length / 10, "too little poison");
  assert(expectedOutputs > inputs.length / 10, "too few valid outputs");
  // Markers are forwarded, not lost.
  assert(outputs.out.some((d) => d.headers[TICK_HEADER] !== undefined));
});

Deno.test("fuzz bus payloads: the bridge dead-letters undecodable candidates and forwards the rest", async () => {
  const plan = fuzzPlan("bridge", { seed: 0x5eed_0004, cases: 1000 });
  const f = new Fuzz(plan.seed);
  const inputs: OutgoingMessage[] = [];
  let expectedBad = 0;
  for (let i = 0; i < plan.cases; i++) {
    const valid = encodeText(SAMPLES.candidateMessage(f), KINDS.candidateMessage);
    const r = f.int(4);
    const payload = r === 0
      ? enc.encode(valid)
      : r === 1
      ? enc.encode(f.mutateText(valid))
      : r === 2
      ? f.mutateBytes(enc.encode(valid))
      : enc.encode(JSON.stringify(f.mutateValue(JSON.parse(valid))) ?? "");
    try {
      decode(payload, KINDS.candidateMessage);
    } catch (error) {
      expectTypedError(error, [DecodeError], payload);
      expectedBad++;
    }
    inputs.push({
      subject: "augur.calibrated_signals.00",
      payload,
      headers: { [HEADER.id]: `c:${i}`, [HEADER.key]: `k${i % 7}` },
    });
  }
  const registry = new MetricsRegistry();
  const bus = new MemoryBus({ capacity: 100_000, registry, logger: quiet });
  await bus.connect();
  await bus.publishBatch(inputs);
  const dlq = collect(bus, "augur.ops.dlq");
  const outputs = collect(bus, "augur.signals");
  const abort = new AbortController();
  const run = runBridge(bus, {
    decode: (d) => decode(d.payload, KINDS.candidateMessage),
    transform: (input) => [{
      subject: "augur.signals",
      payload: enc.encode(encodeText(input.signal, KINDS.signal)),
    }],
  }, {
    pattern: "augur.calibrated_signals.>",
    group: "fuzz",
    worker: "fuzz",
    signal: abort.signal,
    registry,
    logger: quiet,
    retryBackoffMs: [1],
  });
  const expectedGood = inputs.length - expectedBad;
  try {
    await waitFor(
      () => dlq.out.length === expectedBad && outputs.out.length === expectedGood,
      { timeoutMs: 30_000 },
    ).catch(() => {}); // the counts are asserted below
  } finally {
    abort.abort();
    await run;
  }
  await dlq.stop();
  await outputs.stop();
  console.log(
    `fuzz bridge: inputs=${inputs.length} dead_letters=${dlq.out.length} forwarded=${outputs.out.length}`,
  );
  assertEquals(dlq.out.length, expectedBad);
  assertEquals(outputs.out.length, expectedGood);
  assert(dlq.out.every((d) => d.headers[HEADER.reason] === "decode"));
  for (const d of outputs.out) decode(d.payload, KINDS.signal);
});
