/**
 * Replay of the real time series in ../shared/fixtures/markets/timeseries through the feature
 * pipeline and all detectors (per-market + cross-market). Asserts determinism only (two runs ⇒
 * identical signals) and prints what fired and when.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { FeaturePipeline } from "../../../../pipeline/features.ts";
import { createDetectors, runPerMarketDetectors } from "../../../../pipeline/detectors/mod.ts";
import type { MarketSignal, MarketSnapshot } from "../../../../pipeline/models.ts";
import { assert, assertEquals } from "../../../helpers/assert.ts";

const ROOT = join(
  fileURLToPath(new URL("../../../../", import.meta.url)),
  "../shared/fixtures/markets/timeseries",
);
const PRESENT = (() => {
  try {
    return Deno.statSync(join(ROOT, "election2024")).isDirectory;
  } catch {
    return false;
  }
})();

function csv(path: string): string[][] {
  return Deno.readTextFileSync(path).trim().split("\n").map((line) => {
    const out: string[] = [];
    for (const m of line.matchAll(/("([^"]*)"|[^,]*)(,|$)/g)) {
      out.push(m[2] ?? m[1]);
      if (m[3] === "") break;
    }
    return out;
  });
}

interface Tick {
  snapshot: MarketSnapshot;
}

const base = (market_id: string, platform: "kalshi" | "polymarket", timestamp: number) => ({
  market_id,
  platform,
  timestamp,
  bid: null,
  ask: null,
  spread: null,
  question: market_id,
  resolution_source: null,
  resolution_criteria: null,
  closes_at: null,
  raw_json: {},
  schema_version: "1.0.0" as const,
});

function kalshi(file: string, id: string): Tick[] {
  const [head, ...rows] = csv(join(ROOT, "election2024", file));
  const col = (n: string) => head.indexOf(n);
  const out: Tick[] = [];
  const hourly: number[] = [];
  let last = 0.5;
  for (const r of rows) {
    const ts = Date.parse(r[col("timestamp")].replace(" ", "T") + "Z") * 1000;
    if (r[col("price_close")] !== "") last = Number(r[col("price_close")]) / 100;
    const bid = Number(r[col("bid_close")]) / 100, ask = Number(r[col("ask_close")]) / 100;
    hourly.push(Number(r[col("volume")]) * last);
    if (hourly.length > 24) hourly.shift();
    const ok = bid > 0 && ask > 0 && ask <= 1 && bid <= ask;
    out.push({
      snapshot: {
        ...base(id, "kalshi", ts),
        last_price: Math.min(1, Math.max(0, last)),
        bid: ok ? bid : null,
        ask: ok ? ask : null,
        spread: ok ? ask - bid : null,
        volume_24h: hourly.reduce((a, b) => a + b, 0),
        liquidity: Number(r[col("open_interest")]) * last,
      },
    });
  }
  return out;
}

function polymarket(file: string, column: string, id: string): Tick[] {
  const [head, ...rows] = csv(join(ROOT, "election2024", file));
  const c = head.indexOf(column), t = head.indexOf("Timestamp (UTC)");
  return rows.filter((r) => r[c] !== "" && r[c] !== undefined).map((r) => ({
    snapshot: {
      ...base(id, "polymarket", Number(r[t]) * 1_000_000),
      last_price: Number(r[c]),
      volume_24h: 100_000,
      liquidity: 50_000,
    },
  }));
}

function load(): Tick[] {
  const ticks = [
    ...kalshi("kalshi_PRES-2024-DJT_candlesticks_hourly.csv", "kalshi_djt"),
    ...kalshi("kalshi_PRES-2024-KH_candlesticks_hourly.csv", "kalshi_kh"),
    ...polymarket("polymarket_presidential_winner_2024_hourly.csv", "Donald Trump", "poly_trump"),
    ...polymarket("polymarket_presidential_winner_2024_hourly.csv", "Kamala Harris", "poly_harris"),
  ];
  for (const st of ["PA", "MI", "WI", "GA", "AZ", "NV", "NC"]) {
    ticks.push(
      ...polymarket(`polymarket_states_minutely/${st}_minutely.csv`, "Donald Trump", `poly_${st}`),
    );
  }
  return ticks.sort((a, b) =>
    a.snapshot.timestamp - b.snapshot.timestamp ||
    (a.snapshot.market_id < b.snapshot.market_id ? -1 : 1)
  );
}

function replay(ticks: readonly Tick[]): MarketSignal[] {
  const features = new FeaturePipeline();
  const set = createDetectors({}, {
    relationships: [
      { market_a: "kalshi_djt", market_b: "poly_trump", type: "positive", strength: 0.95 },
      { market_a: "kalshi_kh", market_b: "poly_harris", type: "positive", strength: 0.95 },
      { market_a: "kalshi_djt", market_b: "kalshi_kh", type: "inverse", strength: 0.95 },
      { market_a: "poly_PA", market_b: "poly_MI", type: "positive", strength: 0.9 },
      { market_a: "poly_PA", market_b: "poly_WI", type: "positive", strength: 0.9 },
    ],
  });
  const out: MarketSignal[] = [];
  for (const { snapshot } of ticks) {
    const now = snapshot.timestamp;
    out.push(...set.divergence.advanceTo(now - 1));
    const f = features.update(snapshot, null);
    set.divergence.observe(snapshot, f);
    if (f === null) continue;
    out.push(
      ...runPerMarketDetectors(set.perMarket, {
        market_id: snapshot.market_id,
        feature: f,
        snapshot,
        now,
      }),
    );
  }
  return out;
}

Deno.test({
  name: "fixtures replay: real election time series ⇒ deterministic signals (report printed)",
  ignore: !PRESENT,
  fn() {
    const ticks = load();
    const a = replay(ticks);
    const b = replay(ticks);
    assertEquals(a, b);
    assert(new Set(a.map((s) => s.signal_id)).size === a.length, "signal ids are unique");
    console.log(
      `replayed ${ticks.length} snapshots of ${
        new Set(ticks.map((t) => t.snapshot.market_id)).size
      } markets; ${a.length} signals`,
    );
    const by = new Map<string, MarketSignal[]>();
    for (const s of a) {
      const k = `${s.signal_type} ${s.market_id}`;
      by.set(k, [...(by.get(k) ?? []), s]);
    }
    for (const [k, list] of [...by].sort()) {
      const iso = (s: MarketSignal) => new Date(s.detected_at / 1000).toISOString().slice(0, 16);
      const shown = list.slice(0, 3).map((s) =>
        `${iso(s)} d=${s.direction} m=${s.magnitude.toFixed(3)}`
      );
      console.log(
        `  ${k.padEnd(40)} ${String(list.length).padStart(4)}  first: ${shown.join("; ")}`,
      );
    }
  },
});

if (!PRESENT) console.log(`fixtures replay skipped: ${ROOT} is absent`);
