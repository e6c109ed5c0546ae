import { assert, assertEquals } from "../../../helpers/assert.ts";
import { fixture, haveFixtures, startFakeHttp } from "../../../helpers/fake_http.ts";
import { kalshiAt, polymarketAt } from "../../../helpers/fake_market_clients.ts";
import { VirtualClock } from "../../../../adapters/markets/clock.ts";
import { type LivePollerOptions, LivePollerSource } from "../../../../adapters/markets/poller.ts";
import { Recorder } from "../../../../adapters/markets/recorder.ts";
import { readNdjson, ReplaySource } from "../../../../adapters/markets/replay.ts";
import type { MarketSource, Tick } from "../../../../adapters/markets/source.ts";
import { MetricsRegistry } from "../../../../adapters/observability/metrics.ts";
import { createLogger } from "../../../../adapters/observability/logger.ts";
import { SnapshotMessageSchema } from "../../../../pipeline/models.ts";

const silent = createLogger({ sink: () => {} });
const NO_FIXTURES = !haveFixtures();
const why = NO_FIXTURES ? " (SKIPPED: ../shared/fixtures/markets absent)" : "";

async function collect(source: MarketSource, max = Infinity): Promise<Tick[]> {
  const out: Tick[] = [];
  for await (const t of source) {
    out.push(t);
    if (out.length >= max) break;
  }
  await source.close();
  return out;
}

/** Poll live for `ticks` ticks while `options.recorder` records them, then close it. */
async function recordLive(
  options: Pick<LivePollerOptions, "client" | "markets" | "clock"> & { recorder: Recorder },
  ticks: number,
): Promise<Tick[]> {
  const live = await collect(
    new LivePollerSource({ ...options, registry: new MetricsRegistry(), logger: silent }),
    ticks,
  );
  await options.recorder.close();
  return live;
}

/** Two replays of `path` yield the same ticks, and those are exactly the `live` ones. */
async function assertReplaysAs(path: string, live: Tick[]): Promise<void> {
  const replay = () =>
    collect(new ReplaySource(path, { registry: new MetricsRegistry(), logger: silent }));
  const r1 = await replay();
  const r2 = await replay();
  assertEquals(JSON.stringify(r1), JSON.stringify(r2));
  assertEquals(JSON.stringify(r1), JSON.stringify(live));
}

function gamma(cid: string, price: number, t: number) {
  return [{
    conditionId: cid,
    question: `Market ${cid}?`,
    outcomes: '["Yes","No"]',
    outcomePrices: JSON.stringify([String(price), String(1 - price)]),
    clobTokenIds: `["tok${cid}","no${cid}"]`,
    bestBid: price - 0.01,
    bestAsk: price + 0.01,
    volume24hr: 1000 + t,
    endDate: "2027-01-01T00:00:00Z",
  }];
}

for (const gzip of [false, true]) {
  Deno.test(`record → replay twice gives identical snapshots equal to live (gzip=${gzip})`, async () => {
    const server = startFakeHttp();
    const path = await Deno.makeTempFile({ suffix: gzip ? ".ndjson.gz" : ".ndjson" });
    try {
      const clock = new VirtualClock(Date.UTC(2026, 0, 1));
      const t0 = clock.now() / 1000;
      server.route(
        "/markets",
        Array.from({ length: 20 }, (_, i) => ({ json: gamma("0xa", 0.3 + i / 100, i) })),
        { condition_ids: "0xa" },
      );
      server.route(
        "/markets",
        Array.from({ length: 20 }, (_, i) => ({ json: gamma("0xb", 0.6 - i / 100, i) })),
        { condition_ids: "0xb" },
      );
      server.route("/book", {
        json: {
          bids: [{ price: "0.2", size: "10" }, { price: "0.29", size: "5" }],
          asks: [{ price: "0.4", size: "7" }, { price: "0.31", size: "3" }],
        },
      });
      server.route(
        "/trades",
        Array.from({ length: 40 }, (_, i) => ({
          json: [{
            timestamp: t0 + i * 30,
            price: 0.3,
            size: 1 + i,
            side: "BUY",
            proxyWallet: `0x${i}`,
            conditionId: "0xa",
          }, {
            timestamp: t0 + i * 30,
            price: 0.6,
            size: 2,
            side: "SELL",
            proxyWallet: "0xz",
            conditionId: "0xb",
          }],
        })),
      );
      const markets = [
        {
          id: "a",
          platform: "polymarket" as const,
          platform_market_id: "0xa",
          poll_priority: "warm" as const,
        },
        { id: "b", platform: "polymarket" as const, platform_market_id: "0xb" },
      ];
      const recorder = await Recorder.open(path, { platform: "polymarket", markets, gzip });
      const client = polymarketAt(server.url, { clock });
      const live = await recordLive({ client, markets, clock, recorder }, 8);
      const bytes = await Deno.readFile(path);
      assertEquals(bytes[0] === 0x1f && bytes[1] === 0x8b, gzip);
      const lines = [];
      for await (const l of readNdjson(path)) lines.push(l as { type: string });
      assertEquals(lines[0].type, "header");
      assertEquals(lines.filter((l) => l.type === "tick").length, 8);
      for (const t of live) for (const m of t.messages) SnapshotMessageSchema.parse(m);
      assert(live.some((t) => t.messages.some((m) => m.trades.length > 0)), "trades flow");
      await assertReplaysAs(path, live);
      // recorded pace sleeps the recorded gaps on the injected clock
      const paceClock = new VirtualClock(0);
      await collect(
        new ReplaySource(path, {
          pace: "recorded",
          clock: paceClock,
          registry: new MetricsRegistry(),
          logger: silent,
        }),
      );
      assertEquals(paceClock.sleeps.length, 7);
      assertEquals(paceClock.sleeps.reduce((a, b) => a + b, 0), (live[7].T - live[0].T) / 1000);
    } finally {
      await server.close();
      await Deno.remove(path);
    }
  });
}

Deno.test(`record → replay of real Kalshi bodies${why}`, { ignore: NO_FIXTURES }, async () => {
  const server = startFakeHttp();
  const path = await Deno.makeTempFile({ suffix: ".ndjson.gz" });
  try {
    const ticker = "KXNFLGAME-26OCT08TBDAL-DAL";
    server.route(`/markets/${ticker}`, {
      file: fixture("kalshi/markets_KXNFLGAME-26OCT08TBDAL_2026-10-06.json"),
    });
    server.route(`/markets/${ticker}/orderbook`, {
      file: fixture("kalshi/orderbook_fp_KXNFLGAME-26OCT08TBDAL-DAL_depth3_2026-10-06.json"),
    });
    server.route("/markets/trades", {
      file: fixture("kalshi/trades_KXNFLGAME-26OCT08TBDAL-DAL_2026-10-06.json"),
    });
    const clock = new VirtualClock(Date.UTC(2026, 9, 6, 6, 40));
    const markets = [{ id: "dal", platform: "kalshi" as const, platform_market_id: ticker }];
    const recorder = await Recorder.open(path, { platform: "kalshi", markets });
    const client = kalshiAt(server.url, { clock });
    const live = await recordLive({ client, markets, clock, recorder }, 3);
    assertEquals(live[0].messages[0].trades.length, 3);
    assertEquals(live[1].messages[0].trades.length, 0); // nothing newer than the last seen trade
    await assertReplaysAs(path, live);
  } finally {
    await server.close();
    await Deno.remove(path);
  }
});
