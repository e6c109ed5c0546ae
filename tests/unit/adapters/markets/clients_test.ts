import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertRejects,
} from "../../../helpers/assert.ts";
import { fixture, haveFixtures, startFakeHttp } from "../../../helpers/fake_http.ts";
import { kalshiAt, polymarketAt } from "../../../helpers/fake_market_clients.ts";
import { VirtualClock } from "../../../../adapters/markets/clock.ts";
import { NotFoundError, RetryExhaustedError } from "../../../../adapters/markets/http.ts";
import { LivePollerSource } from "../../../../adapters/markets/poller.ts";
import { rawPollOf, type Tick } from "../../../../adapters/markets/source.ts";
import { normalizePoll } from "../../../../pipeline/normalizer.ts";
import { MetricsRegistry } from "../../../../adapters/observability/metrics.ts";
import { createLogger } from "../../../../adapters/observability/logger.ts";
import { ConfigError } from "../../../../config/errors.ts";
import type { SchedulerEvent } from "../../../../pipeline/scheduler.ts";

const NO_FIXTURES = !haveFixtures();
const why = NO_FIXTURES ? " (SKIPPED: ../shared/fixtures/markets absent)" : "";
const silent = createLogger({ sink: () => {} });
// deno-lint-ignore no-explicit-any
const load = (p: string): any => JSON.parse(Deno.readTextFileSync(fixture(p)));
const T0 = Date.UTC(2026, 1, 13, 0, 5); // ms

const GAMMA = "polymarket/gamma_markets_list_2026-02-13.json";
const BOOK = "polymarket/clob_ws_book_snapshot_full_depth_captured.json";
const TRADES = "polymarket/data_api_trades_2026-02-07.json";

function polymarket(url: string, clock: VirtualClock, registry = new MetricsRegistry()) {
  return polymarketAt(url, { clock, registry, http: { random: () => 0, timeoutMs: 300 } });
}

Deno.test(`polymarket client: real Gamma/CLOB/Data-API bodies → snapshot${why}`, {
  ignore: NO_FIXTURES,
}, async () => {
  const server = startFakeHttp();
  try {
    const list = load(GAMMA);
    const trades = load(TRADES);
    const cid = trades[0].conditionId;
    server.route("/markets", { file: fixture(GAMMA) }, { condition_ids: list[0].conditionId });
    server.route("/markets", { json: [{ ...list[0], conditionId: cid }] }, { condition_ids: cid });
    server.route("/book", { file: fixture(BOOK) });
    server.route("/trades", { file: fixture(TRADES) });
    const clock = new VirtualClock(T0);
    const client = polymarket(server.url, clock);
    const poll = await client.fetchPoll(
      { id: "deport", platform: "polymarket", platform_market_id: list[0].conditionId },
      0,
    );
    assertEquals(poll.responses.map((r) => r.kind), ["market", "book", "trades"]);
    assertEquals(poll.fetchedAt, T0 * 1000);
    const token = JSON.parse(list[0].clobTokenIds)[0];
    const bookReq = server.requests.find((r) => r.path === "/book")!;
    assertEquals(bookReq.query.token_id, token);
    const msg = normalizePoll(rawPollOf(poll.responses), {
      platform: "polymarket",
      marketId: "deport",
      platformMarketId: list[0].conditionId,
      fetchedAt: poll.fetchedAt,
      now: poll.fetchedAt,
      since: 0,
    });
    assertEquals(msg.snapshot.question, list[0].question);
    assertEquals(msg.book!.bids[0][0], 0.07);
    assertEquals(msg.book!.asks[0][0], 0.08);
    assertEquals(msg.trades.length, 0); // the global feed has no trade of this market
    // a market present in the trade feed gets exactly its trades
    const poll2 = await client.fetchPoll(
      { id: "t", platform: "polymarket", platform_market_id: cid },
      0,
    );
    const msg2 = normalizePoll(rawPollOf(poll2.responses), {
      platform: "polymarket",
      marketId: "t",
      platformMarketId: cid,
      fetchedAt: poll2.fetchedAt,
      now: poll2.fetchedAt,
      since: 0,
    });
    const expected = trades.filter((t: { conditionId: string }) => t.conditionId === cid).length;
    assertEquals(msg2.trades.length, expected);
    assert(expected >= 1);
  } finally {
    await server.close();
  }
});

Deno.test("polymarket client: book 404 ⇒ no book; 429/500/HTML retried; budget respected", async () => {
  const server = startFakeHttp();
  try {
    const market = {
      conditionId: "0xc1",
      question: "Q?",
      outcomes: '["Yes","No"]',
      outcomePrices: '["0.25","0.75"]',
      clobTokenIds: '["111","222"]',
      bestBid: 0.24,
      bestAsk: 0.26,
      volume24hr: 5000,
      endDate: "2026-12-31T00:00:00Z",
    };
    server.route("/markets", [
      { status: 429, headers: { "retry-after": "3" } },
      { status: 500, body: "<html>oops</html>" },
      { body: JSON.stringify([market]), truncate: 20 },
      { json: [market] },
    ]);
    server.route("/book", { status: 404, body: '{"error":"No orderbook exists"}' });
    server.route("/trades", { json: [] });
    const clock = new VirtualClock(T0);
    const registry = new MetricsRegistry();
    const client = polymarket(server.url, clock, registry);
    const poll = await client.fetchPoll(
      { id: "m", platform: "polymarket", platform_market_id: "0xc1" },
      0,
    );
    assertEquals(clock.sleeps.slice(0, 3), [3000, 2000, 4000]);
    assertEquals(poll.responses.find((r) => r.kind === "book")?.status, 404);
    const msg = normalizePoll(rawPollOf(poll.responses), {
      platform: "polymarket",
      marketId: "m",
      platformMarketId: "0xc1",
      fetchedAt: poll.fetchedAt,
      now: poll.fetchedAt,
      since: 0,
    });
    assertEquals([msg.book, msg.bid_depth, msg.snapshot.liquidity], [null, null, 0]);
    assertEquals([msg.snapshot.last_price, msg.snapshot.bid, msg.snapshot.ask], [0.25, 0.24, 0.26]);
    assertEquals(server.requests.length, 6);
  } finally {
    await server.close();
  }
});

Deno.test("polymarket client: market 404 surfaces as NotFoundError; exhausted 5xx as RetryExhausted", async () => {
  const server = startFakeHttp();
  try {
    server.route("/markets", { status: 404 }, { condition_ids: "0xgone" });
    server.route("/markets", { status: 503 }, { condition_ids: "0xdown" });
    const clock = new VirtualClock(T0);
    const client = polymarket(server.url, clock);
    await assertRejects(
      () => client.fetchPoll({ id: "g", platform: "polymarket", platform_market_id: "0xgone" }, 0),
      NotFoundError,
    );
    await assertRejects(
      () => client.fetchPoll({ id: "d", platform: "polymarket", platform_market_id: "0xdown" }, 0),
      RetryExhaustedError,
    );
  } finally {
    await server.close();
  }
});

Deno.test(`kalshi client: real v2 bodies → snapshot in probabilities, key lazily read${why}`, {
  ignore: NO_FIXTURES,
}, async () => {
  const server = startFakeHttp();
  try {
    const ticker = "KXNFLGAME-26OCT08TBDAL-DAL";
    server.route(`/trade-api/v2/markets/${ticker}`, {
      file: fixture("kalshi/markets_KXNFLGAME-26OCT08TBDAL_2026-10-06.json"),
    });
    server.route(`/trade-api/v2/markets/${ticker}/orderbook`, {
      file: fixture("kalshi/orderbook_fp_KXNFLGAME-26OCT08TBDAL-DAL_depth3_2026-10-06.json"),
    });
    server.route("/trade-api/v2/markets/trades", {
      file: fixture("kalshi/trades_KXNFLGAME-26OCT08TBDAL-DAL_2026-10-06.json"),
    }, { ticker });
    const clock = new VirtualClock(Date.UTC(2026, 9, 6, 6, 40));
    let reads = 0;
    const client = kalshiAt(`${server.url}/trade-api/v2`, {
      apiKeyEnv: "TEST_KALSHI_KEY",
      env: (name) => {
        reads++;
        return name === "TEST_KALSHI_KEY" ? "sekrit-key-123" : undefined;
      },
      clock,
    });
    assertEquals(reads, 0); // lazy
    const since = Date.UTC(2026, 9, 6, 6, 38) * 1000;
    const poll = await client.fetchPoll({
      id: "dal",
      platform: "kalshi",
      platform_market_id: ticker,
    }, since);
    assertEquals(reads, 1);
    assertEquals(server.requests[0].headers.authorization, "Bearer sekrit-key-123");
    const tradesReq = server.requests.find((r) => r.path.endsWith("/markets/trades"))!;
    assertEquals(tradesReq.query.min_ts, String(since / 1_000_000));
    const msg = normalizePoll(rawPollOf(poll.responses), {
      platform: "kalshi",
      marketId: "dal",
      platformMarketId: ticker,
      fetchedAt: poll.fetchedAt,
      now: poll.fetchedAt,
      since,
    });
    assertEquals([msg.snapshot.last_price, msg.snapshot.bid, msg.snapshot.ask], [0.81, 0.8, 0.81]);
    assertEquals(msg.book!.asks.map((l) => l[0]), [0.81, 0.82, 0.83]);
    assertAlmostEquals(
      msg.ask_depth!,
      0.81 * 375864.43 + 0.82 * 2630402.87 + 0.83 * 2897298.68,
      1e-3,
    );
    assertEquals(msg.trades.length, 2); // only trades after `since`
  } finally {
    await server.close();
  }
});

Deno.test("kalshi client: missing key with requireKey ⇒ ConfigError; book errors ⇒ no book", async () => {
  const server = startFakeHttp();
  try {
    const strict = kalshiAt(server.url, { requireKey: true });
    await assertRejects(
      () => strict.fetchPoll({ id: "k", platform: "kalshi", platform_market_id: "T" }, 0),
      ConfigError,
      "KALSHI_API_KEY",
    );
    server.route("/markets/T", {
      json: {
        market: {
          ticker: "T",
          title: "Q",
          last_price: 40,
          yes_bid: 39,
          yes_ask: 41,
          volume_24h: 10,
        },
      },
    });
    server.route("/markets/T/orderbook", { status: 500 });
    server.route("/markets/trades", { json: { trades: [] } });
    const clock = new VirtualClock(T0);
    const client = kalshiAt(server.url, { clock, http: { random: () => 0 } });
    const poll = await client.fetchPoll(
      { id: "k", platform: "kalshi", platform_market_id: "T" },
      0,
    );
    assertEquals(server.requests[server.requests.length - 1].headers.authorization, undefined);
    assertEquals(rawPollOf(poll.responses).book, null);
    assertEquals(clock.sleeps, [1000, 2000, 4000, 8000]);
  } finally {
    await server.close();
  }
});

Deno.test("live poller: failures demote, then remove with market_unreachable; ticks keep coming", async () => {
  const server = startFakeHttp();
  try {
    const good = {
      conditionId: "0xok",
      question: "ok?",
      outcomes: '["Yes","No"]',
      outcomePrices: '["0.5","0.5"]',
      clobTokenIds: '["1","2"]',
      volume24hr: 1,
    };
    server.route("/markets", { json: [good] }, { condition_ids: "0xok" });
    server.route("/markets", { status: 500 }, { condition_ids: "0xbad" });
    server.route("/markets", { json: [{ question: "no id" }] }, { condition_ids: "0xodd" });
    server.route("/book", { status: 404 });
    server.route("/trades", { json: [] });
    const clock = new VirtualClock(T0);
    const events: SchedulerEvent[] = [];
    const source = new LivePollerSource({
      client: polymarketAt(server.url, { clock, http: { random: () => 0, maxRetries: 1 } }),
      markets: [
        { id: "bad", platform: "polymarket", platform_market_id: "0xbad" },
        { id: "ok", platform: "polymarket", platform_market_id: "0xok" },
        { id: "odd", platform: "polymarket", platform_market_id: "0xodd" },
      ],
      scheduler: { demoteAfterFailures: 2, removeAfterFailures: 4, delistAfterNotFound: 3 },
      clock,
      registry: new MetricsRegistry(),
      logger: silent,
      onEvent: (e) => events.push(e),
    });
    const ticks: Tick[] = [];
    for await (const tick of source) {
      ticks.push(tick);
      if (ticks.length === 12) break;
    }
    await source.close();
    assert(ticks.every((t, i) => i === 0 || t.T > ticks[i - 1].T), "T increases");
    assertEquals(ticks[0].messages.map((m) => m.snapshot.market_id), ["ok"]);
    assert(
      events.some((e) => e.type === "tier_changed" && e.market_id === "bad" && e.to === "cold"),
    );
    assert(events.some((e) => e.type === "market_unreachable" && e.market_id === "bad"));
    assert(events.some((e) => e.type === "market_delisted" && e.market_id === "odd"));
    assertEquals(source.scheduler.ids(), ["ok"]);
  } finally {
    await server.close();
  }
});
