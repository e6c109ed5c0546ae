import { assert, assertAlmostEquals, assertEquals, assertThrows } from "../../helpers/assert.ts";
import { fixture, haveFixtures } from "../../helpers/fake_http.ts";
import {
  bookDepth,
  kalshiBook,
  kalshiPayload,
  kalshiTrades,
  MalformedPayloadError,
  MarketNotFoundError,
  normalizePoll,
  normalizeSnapshot,
  parseIsoMicros,
  polymarketBook,
  polymarketPayload,
  polymarketTrades,
  SnapshotValidationError,
} from "../../../pipeline/normalizer.ts";
import { type MarketSnapshot, MarketSnapshotSchema } from "../../../pipeline/models.ts";

const NO_FIXTURES = !haveFixtures();
const why = NO_FIXTURES ? " (SKIPPED: ../shared/fixtures/markets absent)" : "";
// deno-lint-ignore no-explicit-any
const load = (p: string): any => JSON.parse(Deno.readTextFileSync(fixture(p)));
const T = 1_770_000_000_000_000;

function checkSnapshot(s: MarketSnapshot): void {
  MarketSnapshotSchema.parse(s);
  assert(s.last_price >= 0 && s.last_price <= 1, `last_price ${s.last_price}`);
  for (const v of [s.bid, s.ask]) assert(v === null || (v >= 0 && v <= 1), `quote ${v}`);
  if (s.bid !== null && s.ask !== null) assertAlmostEquals(s.spread!, s.ask - s.bid, 1e-12);
  else assertEquals(s.spread, null);
  assert(s.volume_24h >= 0 && s.liquidity >= 0);
}

function isSortedBook(b: { bids: readonly number[][]; asks: readonly number[][] }): boolean {
  return b.bids.every((l, i) => i === 0 || b.bids[i - 1][0] >= l[0]) &&
    b.asks.every((l, i) => i === 0 || b.asks[i - 1][0] <= l[0]);
}

Deno.test("normalizer: §3.4 first-present keys, spread, liquidity top 5 per side", () => {
  const book = {
    bids: [[0.5, 10], [0.49, 10], [0.48, 10], [0.47, 10], [0.46, 10], [0.1, 1000]] as [
      number,
      number,
    ][],
    asks: [[0.52, 1]] as [number, number][],
  };
  const s = normalizeSnapshot(
    {
      yes_price: 0.51,
      best_bid: 0.5,
      yes_ask: 0.52,
      volume_24hr: 7,
      title: "T",
      rules: "R",
      rulesSource: "",
      endDate: "2026-01-02",
    },
    book,
    { marketId: "m", platform: "kalshi", fetchedAt: T },
  );
  assertEquals([s.last_price, s.bid, s.ask, s.volume_24h, s.question], [0.51, 0.5, 0.52, 7, "T"]);
  assertAlmostEquals(s.spread!, 0.02, 1e-12);
  assertAlmostEquals(s.liquidity, (0.5 + 0.49 + 0.48 + 0.47 + 0.46) * 10 + 0.52, 1e-9);
  assertEquals(s.resolution_source, null);
  assertEquals(s.resolution_criteria, "R");
  assertEquals(s.closes_at, Date.UTC(2026, 0, 2) * 1000);
  assertEquals(s.timestamp, T);
  assertEquals(
    normalizeSnapshot({ last_price: 0.5, volume_24h: 0, question: "q" }, null, {
      marketId: "m",
      platform: "polymarket",
      fetchedAt: T,
    }).liquidity,
    0,
  );
});

Deno.test("normalizer: typed errors name the field", () => {
  const ctx = { marketId: "m", platform: "polymarket" as const, fetchedAt: T };
  let e = assertThrows(
    () => normalizeSnapshot({ volume_24h: 1, question: "q" }, null, ctx),
    MalformedPayloadError,
  );
  assertEquals(e.field, "last_price");
  e = assertThrows(
    () => normalizeSnapshot({ last_price: 0.5, question: "q" }, null, ctx),
    MalformedPayloadError,
  );
  assertEquals(e.field, "volume_24h");
  e = assertThrows(
    () => normalizeSnapshot({ last_price: 0.5, volume_24h: 1 }, null, ctx),
    MalformedPayloadError,
  );
  assertEquals(e.field, "question");
  e = assertThrows(
    () => normalizeSnapshot({ last_price: "0.5", volume_24h: 1, question: "q" }, null, ctx),
    MalformedPayloadError,
  );
  assertEquals(e.field, "last_price");
  e = assertThrows(
    () => normalizeSnapshot({ last_price: 35, volume_24h: 1, question: "q" }, null, ctx),
    SnapshotValidationError,
  );
  assertEquals(e.field, "last_price");
  e = assertThrows(
    () => normalizeSnapshot({ last_price: 0.3, ask: 1.2, volume_24h: 1, question: "q" }, null, ctx),
    SnapshotValidationError,
  );
  assertEquals(e.field, "ask");
  e = assertThrows(
    () => normalizeSnapshot({ last_price: 0.3, volume_24h: -1, question: "q" }, null, ctx),
    SnapshotValidationError,
  );
  assertEquals(e.field, "volume_24h");
  e = assertThrows(
    () =>
      normalizeSnapshot(
        { last_price: 0.3, volume_24h: 1, question: "q", closes_at: "soon" },
        null,
        ctx,
      ),
    MalformedPayloadError,
  );
  assertEquals(e.field, "closes_at");
  assertThrows(() => polymarketPayload([], "0x1"), MarketNotFoundError);
  assertThrows(() => polymarketPayload([{ conditionId: "0x2" }], "0x1"), MarketNotFoundError);
});

Deno.test("normalizer: ISO parsing keeps µs, treats zone-less as UTC, honours offsets", () => {
  assertEquals(
    parseIsoMicros("2026-09-29T04:01:07.17746Z", "f"),
    Date.UTC(2026, 8, 29, 4, 1, 7) * 1000 + 177460,
  );
  assertEquals(parseIsoMicros("2026-01-01T00:00:00", "f"), Date.UTC(2026, 0, 1) * 1000);
  assertEquals(parseIsoMicros("2026-01-01T02:00:00+02:00", "f"), Date.UTC(2026, 0, 1) * 1000);
});

Deno.test("normalizer: Kalshi cents, NO bids → YES asks, empty sides", () => {
  const book = kalshiBook({ orderbook: { yes: [[38, 5], [40, 10]], no: [[55, 20], [58, 3]] } });
  assertEquals(book.bids, [[0.4, 10], [0.38, 5]]);
  assertEquals(book.asks, [[0.42, 3], [0.45, 20]]);
  assertAlmostEquals(bookDepth(book).ask_depth, 0.42 * 3 + 0.45 * 20, 1e-9);
  assertEquals(kalshiBook({ orderbook: { yes: null, no: null } }), { bids: [], asks: [] });
  const { payload } = kalshiPayload({
    market: { ticker: "T", title: "Q", last_price: 35, yes_bid: 0, yes_ask: 100, volume_24h: 200 },
  }, "T");
  assertEquals([payload.last_price, payload.bid, payload.ask, payload.volume_24h], [
    0.35,
    null,
    null,
    70,
  ]);
});

Deno.test(
  `golden: Gamma market list (100 markets) normalizes${why}`,
  { ignore: NO_FIXTURES },
  () => {
    const list = load("polymarket/gamma_markets_list_2026-02-13.json");
    assertEquals(list.length, 100);
    let noBid = 0;
    for (const m of list) {
      const payload = polymarketPayload([m], m.conditionId);
      const s = normalizeSnapshot(payload, null, {
        marketId: m.id,
        platform: "polymarket",
        fetchedAt: T,
      });
      checkSnapshot(s);
      assertEquals(s.question, m.question);
      assertEquals(s.last_price, Number(JSON.parse(m.outcomePrices)[0]));
      assertEquals(s.volume_24h, m.volume24hrClob || m.volume24hr || 0);
      if (m.bestBid === undefined) noBid++;
      assertEquals(s.bid, m.bestBid ?? null);
      assertEquals(s.closes_at !== null, Boolean(m.endDate ?? m.endDateIso));
      assertEquals(s.resolution_criteria, m.description || null);
      assertEquals(payload.clob_token_ids, JSON.parse(m.clobTokenIds));
    }
    assertEquals(noBid, 7);
    const first = polymarketPayload([list[0]]);
    assertEquals(first.last_price, 0.058);
    assertEquals(
      normalizeSnapshot(first, null, { marketId: "a", platform: "polymarket", fetchedAt: T })
        .closes_at,
      Date.UTC(2025, 11, 31, 12) * 1000,
    );
  },
);

Deno.test(`golden: Gamma events, single market and the BTC 5-minute JSONL normalize${why}`, {
  ignore: NO_FIXTURES,
}, async () => {
  let n = 0;
  for (
    const f of [
      "polymarket/gamma_events_by_slug_microstrategy_2026-02-07.json",
      "polymarket/gamma_event_democratic_nominee_2028_2026-03-11.json",
    ]
  ) {
    for (const ev of load(f)) {
      for (const m of ev.markets) {
        const s = normalizeSnapshot(polymarketPayload(m), null, {
          marketId: "x",
          platform: "polymarket",
          fetchedAt: T,
        });
        checkSnapshot(s);
        n++;
      }
    }
  }
  assertEquals(n, 6);
  const resolved = load("polymarket/gamma_events_by_slug_microstrategy_2026-02-07.json")[0].markets
    .find((m: { outcomePrices: string }) => m.outcomePrices.includes('"1"'));
  assertEquals(polymarketPayload(resolved).last_price, 0);
  const btc = normalizeSnapshot(
    polymarketPayload(load("polymarket/gamma_market_btc_updown_5m_2026-03-11.json")),
    null,
    { marketId: "b", platform: "polymarket", fetchedAt: T },
  );
  assertEquals([btc.bid, btc.ask], [0.5, 0.51]);
  const gz = await Deno.readFile(
    fixture("polymarket/gamma_markets_btc_updown_5m_2026-07-24.jsonl.gz"),
  );
  const text = await new Response(
    new Blob([gz]).stream().pipeThrough(new DecompressionStream("gzip")),
  ).text();
  const lines = text.split("\n").filter(Boolean);
  assertEquals(lines.length, 292);
  for (const line of lines) {
    const o = JSON.parse(line);
    checkSnapshot(
      normalizeSnapshot(polymarketPayload(o.raw), null, {
        marketId: o.slug,
        platform: "polymarket",
        fetchedAt: T,
      }),
    );
  }
});

Deno.test(`golden: CLOB books sorted best first (DEVIATION)${why}`, { ignore: NO_FIXTURES }, () => {
  const ws = polymarketBook(load("polymarket/clob_ws_book_snapshot_full_depth_captured.json"));
  assertEquals([ws.bids.length, ws.asks.length], [7, 57]);
  assertEquals(ws.bids[0][0], 0.07);
  assertEquals(ws.asks[0][0], 0.08);
  assert(isSortedBook(ws));
  const messi = polymarketBook(
    load("polymarket/clob_book_messi_ballondor_2026_trimmed3_2026-10-06.json"),
  );
  assertEquals(messi.bids.map((l) => l[0]), [0.003, 0.002, 0.001]);
  assertEquals(messi.asks.map((l) => l[0]), [0.997, 0.998, 0.999]);
  assertAlmostEquals(
    bookDepth(messi).bid_depth,
    0.003 * 46806.59 + 0.002 * 231701.01 + 0.001 * 1187335.29,
    1e-6,
  );
});

Deno.test(`golden: Data-API trades${why}`, { ignore: NO_FIXTURES }, () => {
  const raw = load("polymarket/data_api_trades_2026-02-07.json");
  const all = polymarketTrades(raw, { marketId: "m", since: 0 });
  assertEquals(all.length, 100);
  assert(all.every((t) => t.price >= 0 && t.price <= 1 && (t.side === "buy" || t.side === "sell")));
  assert(all.every((t, i) => i === 0 || all[i - 1].timestamp <= t.timestamp));
  assertEquals(all[0].timestamp % 1_000_000, 0);
  const one = raw[0];
  const mine = polymarketTrades(raw, { marketId: "m", since: 0, conditionId: one.conditionId });
  assert(mine.length >= 1 && mine.length < 100);
  assertEquals(mine.find((t) => t.counterparty === one.proxyWallet)?.size, one.size);
  assertEquals(
    polymarketTrades(raw, { marketId: "m", since: one.timestamp * 1_000_000 + 10_000_000 }).length,
    0,
  );
});

Deno.test(`golden: Kalshi current schema — market, orderbook_fp, trades${why}`, {
  ignore: NO_FIXTURES,
}, () => {
  const body = load("kalshi/markets_KXNFLGAME-26OCT08TBDAL_2026-10-06.json");
  const book = load("kalshi/orderbook_fp_KXNFLGAME-26OCT08TBDAL-DAL_depth3_2026-10-06.json");
  const trades = load("kalshi/trades_KXNFLGAME-26OCT08TBDAL-DAL_2026-10-06.json");
  const msg = normalizePoll({ market: body, book, trades }, {
    platform: "kalshi",
    marketId: "dal",
    platformMarketId: "KXNFLGAME-26OCT08TBDAL-DAL",
    fetchedAt: T,
    now: T + 5,
    since: 0,
  });
  const s = msg.snapshot;
  checkSnapshot(s);
  assertEquals([s.last_price, s.bid, s.ask], [0.81, 0.8, 0.81]);
  assertAlmostEquals(s.volume_24h, 202329.86 * 0.81, 1e-6);
  assertEquals(s.question, "Dallas wins");
  assertEquals(s.closes_at, Date.UTC(2026, 9, 11, 0, 15) * 1000);
  assert(s.resolution_criteria!.startsWith("If Dallas wins"));
  assertEquals(s.raw_json.ticker, "KXNFLGAME-26OCT08TBDAL-DAL");
  assertEquals(msg.book!.bids[0], [0.8, 16529.55]);
  assertEquals(msg.book!.asks[0], [0.81, 375864.43]); // = yes_ask_size_fp
  assert(isSortedBook(msg.book!));
  assertAlmostEquals(msg.bid_depth! + msg.ask_depth!, s.liquidity, 1e-9);
  assertEquals(msg.trades.map((t) => [t.price, t.size, t.side]), [[0.8, 24.36, "no"], [
    0.8,
    14.18,
    "no",
  ], [0.81, 1, "yes"]]);
  assertEquals(msg.now, T + 5);
  const tb = kalshiPayload(body, "KXNFLGAME-26OCT08TBDAL-TB").payload;
  assertEquals([tb.bid, tb.ask], [0.19, 0.2]);
  assertThrows(() => kalshiPayload(body, "NOPE"), MarketNotFoundError);
  assertEquals(
    kalshiTrades(trades, {
      marketId: "d",
      since: parseIsoMicros("2026-10-06T06:38:11.436559Z", "t"),
    }).length,
    1,
  );
});

Deno.test(`golden: Kalshi full-depth orderbook and text-field markets${why}`, {
  ignore: NO_FIXTURES,
}, () => {
  const book = kalshiBook(load("kalshi/orderbook_fp_full_depth_KXHIGHNY-26SEP06-T73.json"));
  assertEquals([book.bids.length, book.asks.length], [20, 54]);
  assertEquals(book.bids[0], [0.2, 42.49]);
  assertEquals(book.asks[0], [0.21, 68]);
  assert(isSortedBook(book));
  const markets =
    load("kalshi/markets_KXHIGHNY-26SEP06_textfields_truncated_by_author.json").markets;
  for (const m of markets) {
    const { payload, raw } = kalshiPayload({ market: m }, m.ticker);
    checkSnapshot(
      normalizeSnapshot(payload, null, {
        marketId: m.ticker,
        platform: "kalshi",
        fetchedAt: T,
        rawJson: raw,
      }),
    );
  }
  const t80 = kalshiPayload({
    market: markets.find((m: { ticker: string }) => m.ticker.endsWith("T80")),
  }).payload;
  assertEquals([t80.bid, t80.ask, t80.last_price], [null, 0.01, 0.01]);
  for (const m of load("kalshi/historical_markets_KXFEDDECISION-26JUL.json").markets) {
    const { payload } = kalshiPayload({ market: m });
    checkSnapshot(
      normalizeSnapshot(payload, null, { marketId: "h", platform: "kalshi", fetchedAt: T }),
    );
  }
});

Deno.test(`golden: Kalshi legacy cents (SDK _keys) markets and orderbooks${why}`, {
  ignore: NO_FIXTURES,
}, () => {
  let n = 0;
  for (const ev of load("kalshi/legacy_cents_demo_env/market_data_truncated10.json")) {
    for (const list of Object.values(ev) as Record<string, unknown>[][]) {
      for (const m of list) {
        const { payload } = kalshiPayload(m);
        const s = normalizeSnapshot(payload, null, {
          marketId: "l",
          platform: "kalshi",
          fetchedAt: T,
        });
        checkSnapshot(s);
        assertEquals(s.last_price, (m._last_price as number) / 100);
        n++;
      }
    }
  }
  assert(n >= 10);
  const first = load("kalshi/legacy_cents_demo_env/market_data_truncated10.json")[0].EUCLIMATE[0];
  const p = kalshiPayload(first).payload;
  assertEquals([p.last_price, p.bid, p.ask, p.question], [0.35, 0.35, 0.44, "By 2030"]);
  let books = 0;
  for (const entry of load("kalshi/legacy_cents_demo_env/orderbook_data.json")) {
    for (const b of Object.values(entry)) {
      const book = kalshiBook(b);
      assert(isSortedBook(book));
      assert([...book.bids, ...book.asks].every(([p]) => p >= 0 && p <= 1));
      books++;
    }
  }
  assertEquals(books, 100);
  const apr = kalshiBook(
    load("kalshi/legacy_cents_demo_env/orderbook_data.json")[0]["APRPOTUS-24JUL19-T40.8"],
  );
  assertEquals(apr.bids[0], [0.07, 100]);
  assertEquals(apr.asks[0], [0.12, 100]);
});

Deno.test(`golden: Kalshi web v1 events are not Trade API payloads (no volume_24h)${why}`, {
  ignore: NO_FIXTURES,
}, () => {
  const events = load("kalshi/kalshi_web_v1_events_nested_markets_2026-02_truncated10.json").events;
  let n = 0;
  for (const ev of events) {
    for (const m of ev.markets) {
      const e = assertThrows(() => kalshiPayload(m, m.ticker_name), MalformedPayloadError);
      assertEquals(e.field, "volume_24h");
      n++;
    }
  }
  assertEquals(n, 40);
  const m = { ...events[0].markets[0], volume_24h: 10 };
  const { payload } = kalshiPayload(m);
  assertEquals([payload.last_price, payload.bid, payload.ask], [0.08, 0.07, 0.08]);
});
