/**
 * The ONE contract suite every {@linkcode Store} backend passes (memory, DuckDB file,
 * PostgreSQL): round trips, idempotent re-apply, range reads, latest N, flags, ticks,
 * digests equal to the memory store's for the same data, and worker-state token rules.
 *
 * @example
 * ```ts
 * import { runStoreContract } from "./store_contract.ts";
 * import { MemoryStore } from "../../../../adapters/storage/memory_store.ts";
 * Deno.test("memory store contract", (t) => runStoreContract(t, () => Promise.resolve(new MemoryStore())));
 * ```
 * @module
 */

import { assert, assertEquals } from "../../../helpers/assert.ts";
import type {
  DigestTable,
  FeatureVector,
  MarketSignal,
  MarketSnapshot,
  SignalContext,
  Store,
  TradeRecord,
} from "../../../../adapters/storage/types.ts";
import { DIGEST_TABLES } from "../../../../adapters/storage/types.ts";
import { MemoryStore } from "../../../../adapters/storage/memory_store.ts";

/** 2026-03-15T12:00:00Z in epoch µs. */
export const T0 = Date.UTC(2026, 2, 15, 12) * 1000;
const S = 1_000_000;
const DAY = 86_400 * S;
/** Start of the digest dataset (2026-04-14T12:00:00Z), apart from the other steps' data. */
const D0 = T0 + 30 * DAY;

/** A snapshot with overridable fields. */
export function snapshot(marketId: string, t: number, over: Partial<MarketSnapshot> = {}) {
  return {
    market_id: marketId,
    platform: "kalshi",
    timestamp: t,
    last_price: 0.4 + ((t / S) % 7) / 100,
    bid: 0.39,
    ask: 0.41,
    spread: 0.020000000000000018,
    volume_24h: 85000.5,
    liquidity: 4999.999999,
    question: 'Will the "Fed" cut\nin June? \\ ✓',
    resolution_source: null,
    resolution_criteria: "Per FOMC statement",
    closes_at: T0 + 90 * DAY,
    raw_json: { b: [1, 2.5, null], a: { "ü": 'quote"d', n: -0.000001 } },
    schema_version: "1.0.0",
    ...over,
  } as MarketSnapshot;
}

function trade(marketId: string, t: number, id: string | null, size = 10): TradeRecord {
  return {
    market_id: marketId,
    platform: "polymarket",
    timestamp: t,
    price: 0.55,
    size,
    side: "buy",
    counterparty: id === null ? null : `0xabc${id}`,
    trade_id: id,
  };
}

function features(marketId: string, t: number, ratio: number | null = 0.5): FeatureVector {
  return {
    market_id: marketId,
    computed_at: t,
    price_momentum_5m: 0.01,
    price_momentum_15m: -0.02,
    price_momentum_1h: 0.1 + 0.2,
    price_momentum_4h: 0,
    volatility_5m: 1e-9,
    volatility_15m: 0.3,
    volatility_1h: 0.25,
    volatility_4h: 0.125,
    volume_ratio_5m: 3.5,
    volume_ratio_1h: 1,
    bid_ask_ratio: ratio,
    spread_pct: null,
    schema_version: "1.0.0",
  };
}

let idCounter = 0;
function signal(marketId: string, t: number, over: Partial<MarketSignal> = {}): MarketSignal {
  const n = (++idCounter).toString(16).padStart(12, "0");
  return {
    signal_id: `0190a1b2-c3d4-7e5f-8a6b-${n}`,
    market_id: marketId,
    platform: "kalshi",
    signal_type: "volume_spike",
    magnitude: 0.25,
    direction: 1,
    confidence: 0.25,
    fdr_adjusted: false,
    detected_at: t,
    window_seconds: 3600,
    liquidity_tier: "mid",
    manipulation_flags: ["pre_resolution_window", "thin_book_during_move"],
    related_market_ids: ["kalshi_fed_holds", "b"],
    raw_features: {
      calibration_provenance: "volume_spike_ewma_z_v1@identity_v0",
      ewma_mean: 2.0,
      z_score: 3.15,
    },
    schema_version: "1.0.0",
    ...over,
  };
}

function context(s: MarketSignal): SignalContext {
  return {
    signal: s,
    market_question: "Will the Fed cut in June?",
    resolution_criteria: "",
    resolution_source: "Fed",
    closes_at: T0 + 90 * DAY,
    related_markets: [{
      market_id: "kalshi_fed_holds",
      question: "Hold?",
      current_price: 0.44,
      delta_24h: -0.023543,
      volume_24h: 85000.0,
      relationship_type: "inverse",
      relationship_strength: 0.9,
    }],
    investigation_prompts: ["Check FOMC calendar."],
    interpretation_mode: "deterministic",
    schema_version: "1.0.0",
  };
}

/** A deterministic dataset spanning two UTC days and three markets. */
export function dataset() {
  idCounter = 0;
  const markets = ["digest_a", "digest_b", "digest_c"];
  const snapshots: MarketSnapshot[] = [];
  const trades: TradeRecord[] = [];
  const feats: FeatureVector[] = [];
  const signals: MarketSignal[] = [];
  for (const [mi, m] of markets.entries()) {
    for (let i = 0; i < 40; i++) {
      const t = D0 + i * 30 * 60 * S + mi; // crosses midnight UTC
      snapshots.push(snapshot(m, t, { bid: i % 5 === 0 ? null : 0.39 }));
      feats.push(features(m, t, i % 3 === 0 ? null : i / 100));
      trades.push(trade(m, t, i % 2 === 0 ? `t${i}` : null, i));
      if (i % 10 === 0) {
        signals.push(signal(m, t, { manipulation_flags: i % 20 === 0 ? [] : undefined }));
      }
    }
  }
  return { snapshots, trades, features: feats, signals, contexts: signals.map(context) };
}

async function writeDataset(store: Store, data: ReturnType<typeof dataset>): Promise<void> {
  await store.upsertSnapshots(data.snapshots);
  await store.upsertTrades(data.trades);
  await store.upsertFeatures(data.features);
  await store.upsertSignals(data.signals);
  await store.upsertContexts(data.contexts);
}

const WINDOW = { start: D0 - DAY, end: D0 + 3 * DAY };

async function allDigests(store: Store) {
  const out: Record<string, unknown> = {};
  for (const table of DIGEST_TABLES) {
    out[table] = await store.groupDigests({ table: table as DigestTable, ...WINDOW });
  }
  return out;
}

/** Digests of {@linkcode dataset} computed by the memory store (the reference). */
export async function referenceDigests(): Promise<Record<string, unknown>> {
  const memory = new MemoryStore();
  await memory.initialize();
  await writeDataset(memory, dataset());
  return allDigests(memory);
}

/** Run every contract step against a fresh store from `make`. */
export async function runStoreContract(
  t: Deno.TestContext,
  make: () => Promise<Store>,
): Promise<void> {
  const store = await make();
  try {
    await store.initialize();
    await store.initialize(); // idempotent

    await t.step("snapshots round trip exactly (nulls, unicode, nested JSON)", async () => {
      const rows = [0, 1, 2].map((i) => snapshot("rt", T0 + i * S));
      rows[1] = {
        ...rows[1],
        bid: null,
        ask: null,
        spread: null,
        closes_at: null,
        resolution_criteria: null,
      };
      await store.upsertSnapshots(rows);
      assertEquals(await store.snapshotsInRange("rt", { start: T0, end: T0 + 3 * S }), rows);
    });

    await t.step("range reads are half-open and ascending", async () => {
      const got = await store.snapshotsInRange("rt", { start: T0 + S, end: T0 + 2 * S });
      assertEquals(got.map((s) => s.timestamp), [T0 + S]);
      assertEquals(await store.snapshotsInRange("rt", { start: T0 + 3 * S, end: T0 + 9 * S }), []);
    });

    await t.step("latest N ascending, latest one, unknown market", async () => {
      const rows = Array.from({ length: 10 }, (_, i) => snapshot("latest", T0 + (9 - i) * S));
      await store.upsertSnapshots(rows);
      const latest = await store.latestSnapshots("latest", 3);
      assertEquals(latest.map((s) => s.timestamp), [T0 + 7 * S, T0 + 8 * S, T0 + 9 * S]);
      assertEquals((await store.latestSnapshot("latest"))?.timestamp, T0 + 9 * S);
      assertEquals(await store.latestSnapshot("nope"), null);
      assertEquals(await store.latestSnapshots("latest", 0), []);
    });

    await t.step("as-of reads: latest N at or before a time, oldest in a range", async () => {
      const asOf = await store.latestSnapshots("latest", 2, { asOf: T0 + 4 * S });
      assertEquals(asOf.map((s) => s.timestamp), [T0 + 3 * S, T0 + 4 * S]);
      assertEquals(await store.latestSnapshots("latest", 2, { asOf: T0 - 1 }), []);
      const oldest = await store.oldestSnapshotIn("latest", { start: T0 + 2 * S, end: T0 + 6 * S });
      assertEquals(oldest?.timestamp, T0 + 2 * S);
      assertEquals(
        await store.oldestSnapshotIn("latest", { start: T0 + 10 * S, end: T0 + 20 * S }),
        null,
      );
    });

    await t.step("batched as-of reads: one answer per read, equal to the point reads", async () => {
      const reads = [
        { marketId: "latest", asOf: T0 + 4 * S },
        { marketId: "latest", asOf: T0 - 1 }, // before the first snapshot
        { marketId: "nope", asOf: T0 + 4 * S }, // unknown market
        { marketId: "latest", asOf: T0 + 4 * S }, // identical to the first read
        { marketId: "latest", asOf: T0 + 4 * S + 1 },
        { marketId: "rt", asOf: T0 + S + S / 2 },
        { marketId: "latest", asOf: Number.MAX_SAFE_INTEGER },
      ];
      const got = await store.latestSnapshotsAt(reads);
      assertEquals(got.map((s) => s?.timestamp ?? null), [
        T0 + 4 * S,
        null,
        null,
        T0 + 4 * S,
        T0 + 4 * S,
        T0 + S,
        T0 + 9 * S,
      ]);
      for (const [i, read] of reads.entries()) {
        const point = await store.latestSnapshots(read.marketId, 1, { asOf: read.asOf });
        assertEquals(got[i], point[0] ?? null, `read ${i}`);
      }
      assert(got[0] === got[3], "identical reads share one answer");
      assertEquals(await store.latestSnapshotsAt([]), []);
    });

    await t.step("batched range reads: half-open, equal to the point reads", async () => {
      const reads = [
        { marketId: "latest", start: T0 + 2 * S, end: T0 + 6 * S },
        { marketId: "latest", start: T0 + 10 * S, end: T0 + 20 * S }, // after the last
        { marketId: "latest", start: T0 + 2 * S + 1, end: T0 + 3 * S }, // end excluded
        { marketId: "latest", start: T0 + 2 * S + 1, end: T0 + 3 * S + 1 },
        { marketId: "nope", start: T0, end: T0 + 9 * S },
        { marketId: "latest", start: T0 + 2 * S, end: T0 + 6 * S },
        { marketId: "rt", start: T0 - 9 * S, end: T0 + 9 * S },
        { marketId: "latest", start: T0 + 5 * S, end: T0 + 5 * S }, // empty range
      ];
      const got = await store.oldestSnapshotsIn(reads);
      assertEquals(got.map((s) => s?.timestamp ?? null), [
        T0 + 2 * S,
        null,
        null,
        T0 + 3 * S,
        null,
        T0 + 2 * S,
        T0,
        null,
      ]);
      for (const [i, read] of reads.entries()) {
        assertEquals(got[i], await store.oldestSnapshotIn(read.marketId, read), `read ${i}`);
      }
      assert(got[0] === got[5], "identical reads share one answer");
      assertEquals(await store.oldestSnapshotsIn([]), []);
    });

    await t.step("latest with prior: both reads of a neighbour in one call", async () => {
      const reads = [
        { marketId: "latest", asOf: T0 + 4 * S }, // prior exactly at the window's start
        { marketId: "latest", asOf: T0 + 4 * S + 1 },
        { marketId: "latest", asOf: T0 }, // nothing older: the latest is its own prior
        { marketId: "nope", asOf: T0 + 4 * S },
        { marketId: "latest", asOf: T0 - 1 },
        { marketId: "latest", asOf: T0 + 4 * S },
        { marketId: "rt", asOf: T0 + 9 * S },
      ];
      for (const window of [2 * S, 0, DAY]) {
        const got = await store.latestWithPriorAt(reads, window);
        assertEquals(got.length, reads.length);
        for (const [i, read] of reads.entries()) {
          const [latest] = await store.latestSnapshots(read.marketId, 1, { asOf: read.asOf });
          const prior = latest && await store.oldestSnapshotIn(read.marketId, {
            start: latest.timestamp - window,
            end: latest.timestamp + 1,
          });
          assertEquals(got[i], latest ? { latest, prior } : null, `read ${i}, window ${window}`);
        }
        assert(got[0]?.latest === got[5]?.latest, "identical reads share one answer");
      }
      const got = await store.latestWithPriorAt(reads, 2 * S);
      assertEquals(
        got.map((r) => r && [r.latest.timestamp, r.prior.timestamp]),
        [
          [T0 + 4 * S, T0 + 2 * S],
          [T0 + 4 * S, T0 + 2 * S],
          [T0, T0],
          null,
          null,
          [T0 + 4 * S, T0 + 2 * S],
          [T0 + 2 * S, T0],
        ],
      );
      assertEquals(await store.latestWithPriorAt([], DAY), []);
    });

    await t.step("batched reads: thousands of distinct reads in one call", async () => {
      const n = 5_003; // more than one statement's worth on the SQL stores
      const reads = Array.from({ length: n }, (_, i) => ({
        marketId: i % 2 === 0 ? "latest" : "nope",
        asOf: T0 - S + i * 1_000,
      }));
      const got = await store.latestSnapshotsAt(reads);
      assertEquals(got.length, n);
      got.forEach((s, i) => {
        const asOf = reads[i].asOf;
        const want = i % 2 === 1 || asOf < T0 ? null : T0 + Math.floor((asOf - T0) / S) * S;
        assertEquals(s?.timestamp ?? null, want, `read ${i}`);
      });
      const ranges = await store.oldestSnapshotsIn(
        reads.map((r) => ({ marketId: r.marketId, start: r.asOf, end: r.asOf + S })),
      );
      ranges.forEach((s, i) => {
        const start = reads[i].asOf;
        const first = T0 + Math.max(0, Math.ceil((start - T0) / S)) * S;
        const want = i % 2 === 0 && first < start + S ? first : null;
        assertEquals(s?.timestamp ?? null, want, `range ${i}`);
      });
      const pairs = await store.latestWithPriorAt(reads, 3 * S);
      pairs.forEach((pair, i) => {
        const latest = got[i]?.timestamp;
        const want = latest === undefined ? null : [latest, Math.max(T0, latest - 3 * S)];
        assertEquals(pair && [pair.latest.timestamp, pair.prior.timestamp], want, `pair ${i}`);
      });
    });

    await t.step("latest N of every market at once equals the per-market reads", async () => {
      await store.upsertSnapshots([snapshot("bulk-a", T0 + S), snapshot("bulk-b", T0 + 2 * S)]);
      const asOf = T0 + 5 * S;
      const all = await store.latestSnapshotsOfAll(3, { asOf });
      for (const market of ["latest", "bulk-a", "bulk-b"]) {
        assertEquals(all.get(market), await store.latestSnapshots(market, 3, { asOf }));
      }
      for (const [market, rows] of all) {
        assert(rows.length > 0 && rows.length <= 3, `${market}: 1..3 rows`);
        assert(rows.every((r) => r.market_id === market && r.timestamp <= asOf), market);
      }
      assertEquals((await store.latestSnapshotsOfAll(3, { asOf: T0 - 1 })).size, 0);
      assertEquals((await store.latestSnapshotsOfAll(0)).size, 0);
    });

    await t.step("upsert updates on the natural key; in-batch duplicates: last wins", async () => {
      const a = snapshot("upd", T0);
      await store.upsertSnapshots([a, { ...a, last_price: 0.9 }]);
      assertEquals((await store.latestSnapshot("upd"))?.last_price, 0.9);
      await store.upsertSnapshots([{ ...a, last_price: 0.1 }]);
      const got = await store.snapshotsInRange("upd", { start: T0, end: T0 + 1 });
      assertEquals(got.length, 1);
      assertEquals(got[0].last_price, 0.1);
    });

    await t.step("trades: keyed by id or content hash; re-apply adds nothing", async () => {
      const rows = [trade("tr", T0, "x1"), trade("tr", T0 + 1, null), trade("tr", T0 + 2, null, 3)];
      await store.upsertTrades(rows);
      await store.upsertTrades(rows);
      const got = await store.tradesInRange({ start: T0, end: T0 + S, marketIds: ["tr"] });
      assertEquals(got, rows);
    });

    await t.step("features round trip with nulls and market filter", async () => {
      const rows = [features("fa", T0, null), features("fb", T0), features("fa", T0 + S)];
      await store.upsertFeatures(rows);
      const got = await store.featuresInRange({ start: T0, end: T0 + 2 * S, marketIds: ["fa"] });
      assertEquals(got, [rows[0], rows[2]]);
      assertEquals(await store.featuresInRange({ start: T0, end: T0 + 2 * S, marketIds: [] }), []);
    });

    await t.step("signals: flags re-attached in enum order and replaced on re-upsert", async () => {
      const s1 = signal("sg", T0, {
        manipulation_flags: ["thin_book_during_move", "single_counterparty_concentration"],
      });
      const s2 = signal("sg2", T0 + S, { manipulation_flags: [], related_market_ids: [] });
      await store.upsertSignals([s2, s1]);
      let got = await store.signalsInRange({
        start: T0,
        end: T0 + 2 * S,
        marketIds: ["sg", "sg2"],
      });
      assertEquals(got, [
        {
          ...s1,
          manipulation_flags: ["single_counterparty_concentration", "thin_book_during_move"],
        },
        s2,
      ]);
      await store.upsertSignals([{ ...s1, manipulation_flags: ["pre_resolution_window"] }]);
      got = await store.signalsInRange({ start: T0, end: T0 + S, marketIds: ["sg"] });
      assertEquals(got[0].manipulation_flags, ["pre_resolution_window"]);
      assertEquals(got.length, 1);
    });

    await t.step("contexts round trip", async () => {
      const c = context(signal("ctx", T0 + 5));
      await store.upsertContexts([c, c]);
      assertEquals(await store.contextsInRange({ start: T0, end: T0 + S, marketIds: ["ctx"] }), [
        c,
      ]);
    });

    await t.step("ticks report announced and stored snapshot counts", async () => {
      const tick = T0 + 7 * DAY;
      await store.upsertSnapshots([
        snapshot("tk1", tick, { platform: "polymarket" }),
        snapshot("tk2", tick, { platform: "polymarket" }),
      ]);
      await store.recordTicks([
        { platform: "polymarket", t: tick, announced: 3 },
        { platform: "polymarket", t: tick + S, announced: 0 },
      ]);
      await store.recordTicks([{ platform: "polymarket", t: tick, announced: 3 }]);
      assertEquals(await store.ticksInRange("polymarket", { start: tick, end: tick + 2 * S }), [
        { platform: "polymarket", t: tick, announced: 3, stored: 2 },
        { platform: "polymarket", t: tick + S, announced: 0, stored: 0 },
      ]);
    });

    await t.step("digests match the memory reference; re-apply changes nothing", async () => {
      const data = dataset();
      await writeDataset(store, data);
      const first = await allDigests(store);
      assertEquals(first, await referenceDigests());
      await writeDataset(store, dataset());
      assertEquals(await allDigests(store), first);
      const snaps = first.snapshots as { count: number; day: string }[];
      assertEquals(snaps.reduce((n, g) => n + g.count, 0), 120);
      assertEquals(new Set(snaps.map((g) => g.day)).size, 2);
    });

    await t.step("digests change when one value changes", async () => {
      const before = await store.groupDigests({ table: "snapshots", ...WINDOW });
      const row = dataset().snapshots[0];
      await store.upsertSnapshots([{ ...row, last_price: row.last_price + 1e-9 }]);
      const after = await store.groupDigests({ table: "snapshots", ...WINDOW });
      assertEquals(after.map((g) => g.count), before.map((g) => g.count));
      const changed = after.filter((g, i) => g.digest !== before[i].digest);
      assertEquals(changed.map((g) => [g.market_id, g.day]), [["digest_a", "2026-04-14"]]);
      await store.upsertSnapshots([row]);
      assertEquals(await store.groupDigests({ table: "snapshots", ...WINDOW }), before);
    });

    await t.step("worker state: exact bytes, older token ignored", async () => {
      assertEquals(await store.loadState("feature", 7), null);
      const bytes = new Uint8Array([0, 255, 1, 128, 0]);
      assert(
        await store.saveState({
          kind: "feature",
          partition: 7,
          key: "",
          position: "42",
          state: bytes,
          token: 5,
        }),
      );
      assert(
        !(await store.saveState({
          kind: "feature",
          partition: 7,
          key: "",
          position: "99",
          state: new Uint8Array([9]),
          token: 4,
        })),
      );
      let got = await store.loadState("feature", 7);
      assertEquals(got?.position, "42");
      assertEquals([...got!.state], [...bytes]);
      assertEquals(got?.token, 5);
      assert(
        await store.saveState({
          kind: "feature",
          partition: 7,
          key: "",
          position: "43",
          state: new Uint8Array(),
          token: 5,
        }),
      );
      assert(
        await store.saveState({
          kind: "feature",
          partition: 7,
          key: "bocpd",
          position: "1",
          state: new Uint8Array([1]),
          token: 1,
        }),
      );
      got = await store.loadState("feature", 7);
      assertEquals([got?.position, got?.state.length], ["43", 0]);
      assertEquals((await store.loadState("feature", 7, { key: "bocpd" }))?.token, 1);
      assertEquals(await store.loadState("feature", 8), null);
    });

    await t.step("empty batches are no-ops", async () => {
      await store.upsertSnapshots([]);
      await store.upsertSignals([]);
      await store.recordTicks([]);
    });
  } finally {
    await store.close();
  }
}
