/**
 * Fuzz: platform API responses (real Polymarket / Kalshi fixture bodies, mutated) through the
 * normalizer. Each case yields a SnapshotMessage that validates against its schema and encodes
 * on the wire, or a NormalizeError — never another exception, a hang or an invalid value.
 * Skips when ../shared/fixtures/markets is absent.
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
import { fixture, haveFixtures } from "../helpers/fake_http.ts";
import { decode, encode, KINDS } from "../../pipeline/canonical_json.ts";
import { SnapshotMessageSchema } from "../../pipeline/models.ts";
import { NormalizeError, normalizePoll, type RawPoll } from "../../pipeline/normalizer.ts";

const BUDGET_MS = 250;
const NO_FIXTURES = !haveFixtures();
const why = NO_FIXTURES ? " (SKIPPED: ../shared/fixtures/markets absent)" : "";
const T = Date.UTC(2026, 9, 6, 12, 0, 0) * 1000;

// deno-lint-ignore no-explicit-any
const load = (p: string): any => JSON.parse(Deno.readTextFileSync(fixture(p)));

interface Base {
  platform: "polymarket" | "kalshi";
  platformMarketId: string;
  raw: RawPoll;
}

function bases(): Base[] {
  const gamma = load("polymarket/gamma_markets_list_2026-02-13.json");
  const gammaList = Array.isArray(gamma) ? gamma : gamma.markets ?? gamma.data ?? [];
  const out: Base[] = [];
  for (const market of gammaList.slice(0, 5)) {
    out.push({
      platform: "polymarket",
      platformMarketId: market.conditionId ?? "",
      raw: {
        market: [market],
        book: load("polymarket/clob_book_messi_ballondor_2026_trimmed3_2026-10-06.json"),
        trades: load("polymarket/data_api_trades_2026-02-07.json"),
      },
    });
  }
  out.push({
    platform: "kalshi",
    platformMarketId: "KXNFLGAME-26OCT08TBDAL-DAL",
    raw: {
      market: load("kalshi/markets_KXNFLGAME-26OCT08TBDAL_2026-10-06.json"),
      book: load("kalshi/orderbook_fp_KXNFLGAME-26OCT08TBDAL-DAL_depth3_2026-10-06.json"),
      trades: load("kalshi/trades_KXNFLGAME-26OCT08TBDAL-DAL_2026-10-06.json"),
    },
  });
  for (
    const m of load("kalshi/markets_KXHIGHNY-26SEP06_textfields_truncated_by_author.json").markets
  ) {
    out.push({
      platform: "kalshi",
      platformMarketId: m.ticker,
      raw: {
        market: { market: m },
        book: load("kalshi/orderbook_fp_full_depth_KXHIGHNY-26SEP06-T73.json"),
        trades: null,
      },
    });
  }
  const legacy = load("kalshi/legacy_cents_demo_env/market_data_truncated10.json");
  for (const ev of legacy.slice(0, 3)) {
    for (const list of Object.values(ev) as Record<string, unknown>[][]) {
      const m = list[0];
      out.push({
        platform: "kalshi",
        platformMarketId: String(m._ticker ?? m.ticker ?? ""),
        raw: { market: m, book: null, trades: null },
      });
    }
  }
  return out;
}

function mutate(f: Fuzz, base: Base): RawPoll {
  const raw = structuredClone(base.raw);
  const part = f.pick(["market", "market", "book", "trades"] as const);
  const r = f.int(10);
  if (r === 0) return raw; // unmodified
  if (r <= 6) {
    // keep mutations local: structured mutations of one body (several rounds)
    let body: unknown = raw[part];
    for (let i = 0; i < 1 + f.int(3); i++) body = f.mutateValue(body);
    return { ...raw, [part]: body };
  }
  if (r <= 8) {
    const text = f.mutateText(JSON.stringify(raw[part]) ?? "null");
    try {
      return { ...raw, [part]: JSON.parse(text) };
    } catch {
      return { ...raw, [part]: text }; // a body that is not JSON: the client hands the string
    }
  }
  return { ...raw, [part]: f.json(4) };
}

Deno.test(
  `fuzz platform responses: normalizePoll yields a valid SnapshotMessage or a NormalizeError${why}`,
  {
    ignore: NO_FIXTURES,
  },
  () => {
    const plan = fuzzPlan("platform_responses", { seed: 0x5eed_0101, cases: 3000 });
    const f = new Fuzz(plan.seed);
    const all = bases();
    assert(all.length >= 8);
    const tally = new FuzzTally();
    for (let i = 0; i < plan.cases; i++) {
      const base = all[i % all.length];
      const raw = mutate(f, base);
      const context = {
        platform: base.platform,
        marketId: "m",
        platformMarketId: base.platformMarketId,
        fetchedAt: T,
        now: T + 5,
        since: f.chance(0.5) ? 0 : T - 86_400_000_000,
      };
      const outcome = runSync(() => normalizePoll(raw, context), BUDGET_MS);
      if (!outcome.ok) {
        expectTypedError(outcome.error, [NormalizeError], raw);
        tally.add(`${base.platform}_${(outcome.error as Error).name}`);
        continue;
      }
      const message = outcome.value;
      const parsed = SnapshotMessageSchema.safeParse(message);
      assert(
        parsed.success,
        `invalid SnapshotMessage (${parsed.error?.issues[0]?.path.join(".")}: ${
          parsed.error?.issues[0]?.message
        }) from ${describeInput(raw)}`,
      );
      // It must travel: encode, decode back to the same bytes.
      const bytes = encode(message, KINDS.snapshotMessage);
      assertEquals(encode(decode(bytes, KINDS.snapshotMessage), KINDS.snapshotMessage), bytes);
      assertEquals(message.snapshot.timestamp, T);
      tally.add(`${base.platform}_ok`);
    }
    console.log(tally.summary("platform_responses"));
    assertEquals(tally.total, plan.cases);
  },
);
