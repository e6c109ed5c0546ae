/**
 * `augur record`: real recorded API bodies served by a local fake HTTP server are polled live,
 * written to NDJSON (gzip and plain), and replayed through ReplaySource to the same snapshots;
 * base URLs come from --base-url or the AUGUR_*_URL variables; a bad platform exits 2; SIGINT
 * stops a running recorder cleanly with a complete, flushed gzip file.
 */
import { assert, assertEquals, assertStringIncludes } from "../../helpers/assert.ts";
import { fixture, haveFixtures, startFakeHttp } from "../../helpers/fake_http.ts";
import { spawnAugur } from "../../helpers/augur_process.ts";
import { baseUrlsFor, recordCommand, recordWatchlist } from "../../../cli/record.ts";
import { main } from "../../../cli/main.ts";
import { readNdjson, ReplaySource } from "../../../adapters/markets/replay.ts";
import type { MarketSource, Tick } from "../../../adapters/markets/source.ts";
import { MetricsRegistry } from "../../../adapters/observability/metrics.ts";

const NO_FIXTURES = !haveFixtures();
const why = NO_FIXTURES ? " (SKIPPED: ../shared/fixtures/markets absent)" : "";

const GAMMA = "polymarket/gamma_markets_list_2026-02-13.json";
const BOOK = "polymarket/clob_ws_book_snapshot_full_depth_captured.json";
const TRADES = "polymarket/data_api_trades_2026-02-07.json";
const TICKER = "KXNFLGAME-26OCT08TBDAL-DAL";
const K_MARKET = "kalshi/markets_KXNFLGAME-26OCT08TBDAL_2026-10-06.json";
const K_BOOK = "kalshi/orderbook_fp_KXNFLGAME-26OCT08TBDAL-DAL_depth3_2026-10-06.json";
const K_TRADES = "kalshi/trades_KXNFLGAME-26OCT08TBDAL-DAL_2026-10-06.json";

// deno-lint-ignore no-explicit-any
const load = (p: string): any => JSON.parse(Deno.readTextFileSync(fixture(p)));

async function collect(source: MarketSource): Promise<Tick[]> {
  const out: Tick[] = [];
  for await (const t of source) out.push(t);
  await source.close();
  return out;
}

function replay(path: string): Promise<Tick[]> {
  return collect(new ReplaySource(path, { registry: new MetricsRegistry() }));
}

function servePolymarket(server: ReturnType<typeof startFakeHttp>): string {
  const list = load(GAMMA);
  server.route("/markets", { file: fixture(GAMMA) }, { condition_ids: list[0].conditionId });
  server.route("/book", { file: fixture(BOOK) });
  server.route("/trades", { file: fixture(TRADES) });
  return list[0].conditionId;
}

function serveKalshi(server: ReturnType<typeof startFakeHttp>): void {
  server.route(`/markets/${TICKER}`, { file: fixture(K_MARKET) });
  server.route(`/markets/${TICKER}/orderbook`, { file: fixture(K_BOOK) });
  server.route("/markets/trades", { file: fixture(K_TRADES) });
}

/** A config dir whose markets.toml watches the fixture markets. */
async function configDir(conditionId: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "augur-record-" });
  await Deno.writeTextFile(
    `${dir}/markets.toml`,
    [
      "[[markets]]",
      'id = "poly_fixture"',
      'platform = "polymarket"',
      `platform_market_id = "${conditionId}"`,
      "",
      "[[markets]]",
      'id = "kalshi_dal"',
      'platform = "kalshi"',
      `platform_market_id = "${TICKER}"`,
      'poll_priority = "hot"',
      "",
    ].join("\n"),
  );
  return dir;
}

for (const gzip of [true, false]) {
  Deno.test(
    `record: real Polymarket bodies → file → replay gives the live snapshots (gzip=${gzip})${why}`,
    {
      ignore: NO_FIXTURES,
    },
    async () => {
      const server = startFakeHttp();
      const out = await Deno.makeTempFile({ suffix: gzip ? ".ndjson.gz" : ".ndjson" });
      try {
        const cid = servePolymarket(server);
        const live: Tick[] = [];
        const summary = await recordWatchlist({
          platform: "polymarket",
          out,
          markets: [
            { id: "poly_fixture", platform: "polymarket", platform_market_id: cid },
            { id: "other", platform: "kalshi", platform_market_id: "IGNORED" },
          ],
          urls: baseUrlsFor("polymarket", server.url),
          once: true,
          registry: new MetricsRegistry(),
          onTick: (tick) => live.push(tick),
        });
        assertEquals(summary.ticks, 1);
        assertEquals(summary.polls, 1);
        const bytes = await Deno.readFile(out);
        assertEquals(bytes[0] === 0x1f && bytes[1] === 0x8b, gzip, "gzip iff .gz");
        const lines: { type: string; [k: string]: unknown }[] = [];
        for await (const l of readNdjson(out)) lines.push(l as { type: string });
        assertEquals(lines.map((l) => l.type), ["header", "poll", "tick"]);
        assertEquals(summary.lines, 3);
        assertEquals((lines[0].markets as unknown[]).length, 1, "only the platform's markets");
        const poll = lines[1] as unknown as {
          fetched_at: number;
          responses: { kind: string; status: number; received_at: number; body: string }[];
        };
        assertEquals(poll.responses.map((r) => r.kind), ["market", "book", "trades"]);
        assert(poll.responses.every((r) => Number.isInteger(r.received_at) && r.received_at > 0));
        assertEquals(poll.responses[1].body, await Deno.readTextFile(fixture(BOOK)), "raw body");
        const replayed = await replay(out);
        assertEquals(JSON.stringify(replayed), JSON.stringify(live));
        const snap = replayed[0].messages[0].snapshot;
        assertEquals(snap.question, load(GAMMA)[0].question);
        assertEquals(replayed[0].messages[0].book!.bids[0][0], 0.07);
      } finally {
        await server.close();
        await Deno.remove(out);
      }
    },
  );
}

Deno.test(`record: the command with AUGUR_KALSHI_URL, --once, replayed${why}`, {
  ignore: NO_FIXTURES,
}, async () => {
  const server = startFakeHttp();
  const dir = await configDir("0xunused");
  const out = `${dir}/kalshi.ndjson.gz`;
  const saved = Deno.env.get("AUGUR_KALSHI_URL");
  Deno.env.set("AUGUR_KALSHI_URL", server.url);
  try {
    serveKalshi(server);
    const code = await recordCommand.run([
      "--platform",
      "kalshi",
      "--out",
      out,
      "--once",
      "--config",
      dir,
    ]);
    assertEquals(code, 0);
    assert(server.requests.some((r) => r.path === `/markets/${TICKER}`), "env URL used");
    const ticks = await replay(out);
    assertEquals(ticks.length, 1);
    const msg = ticks[0].messages[0];
    assertEquals(msg.snapshot.market_id, "kalshi_dal");
    const market = load(K_MARKET).markets.find((m: { ticker: string }) => m.ticker === TICKER);
    assertEquals(msg.snapshot.question, market.title);
    assertEquals(msg.snapshot.last_price, Number(market.last_price_dollars));
    assert(msg.book !== null && msg.book.bids.length > 0, "recorded book replayed");
    assertEquals(JSON.stringify(await replay(out)), JSON.stringify(ticks), "replay deterministic");
  } finally {
    if (saved === undefined) Deno.env.delete("AUGUR_KALSHI_URL");
    else Deno.env.set("AUGUR_KALSHI_URL", saved);
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("record: base URLs from --base-url, else the environment, else defaults", () => {
  const env = (name: string) =>
    ({ AUGUR_POLYMARKET_CLOB_URL: "http://clob.local", AUGUR_KALSHI_URL: "" })[name];
  assertEquals(baseUrlsFor("polymarket", undefined, env), {
    gamma: undefined,
    clob: "http://clob.local",
    data: undefined,
  });
  assertEquals(baseUrlsFor("polymarket", "http://x", env), {
    gamma: "http://x",
    clob: "http://x",
    data: "http://x",
  });
  assertEquals(baseUrlsFor("kalshi", undefined, env), { kalshi: undefined });
  assertStringIncludes(recordCommand.usage, "AUGUR_POLYMARKET_GAMMA_URL");
  assertStringIncludes(recordCommand.usage, "--base-url");
});

Deno.test("record: unknown platform, missing --out, non-live source, no markets ⇒ exit 2", async () => {
  const dir = await configDir("0xabc");
  const errors: string[] = [];
  const original = console.error;
  console.error = (...a: unknown[]) => errors.push(a.join(" "));
  try {
    assertEquals(await main(["record", "--platform", "polymarkt", "--out", "/tmp/x"]), 2);
    assertStringIncludes(errors.join("\n"), 'did you mean "polymarket"');
    assertEquals(await main(["record", "--platform", "kalshi"]), 2);
    assertStringIncludes(errors.join("\n"), "missing --out");
    assertEquals(
      await main(["record", "--platform", "kalshi", "--out", "/tmp/x", "--source", "simulator"]),
      2,
    );
    assertStringIncludes(errors.join("\n"), "only live polls can be recorded");
    assertEquals(await main(["record", "--platfrom", "kalshi"]), 2);
    assertStringIncludes(errors.join("\n"), 'did you mean "--platform"');
    await Deno.writeTextFile(
      `${dir}/markets.toml`,
      '[[markets]]\nid = "k"\nplatform = "kalshi"\nplatform_market_id = "K"\n',
    );
    assertEquals(
      await main(["record", "--platform", "polymarket", "--out", `${dir}/x`, "--config", dir]),
      2,
    );
    assertStringIncludes(errors.join("\n"), "no active polymarket market");
  } finally {
    console.error = original;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(`record: SIGINT stops a running recorder; the gzip file is complete${why}`, {
  ignore: NO_FIXTURES,
}, async () => {
  const server = startFakeHttp();
  const dir = await configDir("0xunused");
  const out = `${dir}/live.ndjson.gz`;
  try {
    serveKalshi(server);
    const proc = spawnAugur([
      "record",
      "--platform",
      "kalshi",
      "--out",
      out,
      "--config",
      dir,
      "--base-url",
      server.url,
    ]);
    await proc.waitForLog("record: tick 1 ");
    proc.kill("SIGINT");
    assertEquals(await proc.exit(), 0, proc.stderr());
    assertStringIncludes(proc.stderr(), "flushing");
    assertStringIncludes(proc.stderr(), "record: done — 1 tick(s)");
    const types: string[] = [];
    for await (const l of readNdjson(out)) types.push((l as { type: string }).type);
    assertEquals(types, ["header", "poll", "tick"]);
    assertEquals((await replay(out))[0].messages[0].snapshot.market_id, "kalshi_dal");
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});
