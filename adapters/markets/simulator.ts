/**
 * Seeded, deterministic market simulator: a {@linkcode MarketSource} producing the same
 * {@linkcode SnapshotMessage}s the live pollers produce, for N markets on both platforms.
 * Each market's randomness comes from its own PRNG (sfc32 seeded by splitmix32 from
 * (seed, index)), so a seed reproduces every byte and adding markets never changes others.
 *
 * Model per market and tick (default 60 s): a mean-reverting random walk of the logit price
 * (bounded in (0, 1)), bid/ask a tick-rounded half-spread around it, USD volume with a daily
 * seasonality and log-normal noise (24-h rolling sum as `volume_24h`), 5 book levels per side
 * with per-side USD depth, and a handful of trades. Odd-indexed markets follow their even
 * neighbour (a related pair, see {@linkcode simulatorWatchlist}). The simulator renders
 * platform-shaped raw bodies (Gamma/CLOB/Data-API or Kalshi v2) and runs them through the
 * same {@linkcode normalizePoll} as the live poller.
 *
 * Scripted events (times in seconds after `start`): `news_jump` (price step →
 * price_velocity), `volume_spike` (volume_spike), `book_imbalance` (persistent depth ratio →
 * book_imbalance), `volatility_regime` (σ × factor → regime_shift), `divergence` (a related
 * market drifts away from its partner → cross_market_divergence). {@linkcode defaultScenario}
 * scripts one of each.
 *
 * @example
 * ```ts
 * import { SimulatorSource } from "./simulator.ts";
 * const sim = new SimulatorSource({ seed: 42, markets: 6, ticks: 3 });
 * for await (const tick of sim) console.log(tick.platform, tick.T, tick.messages.length);
 * ```
 * @module
 */

import type { Platform, SnapshotMessage } from "../../pipeline/models.ts";
import { normalizePoll } from "../../pipeline/normalizer.ts";
import { type Clock, systemClock } from "./clock.ts";
import type { MarketSource, Tick, WatchedMarket } from "./source.ts";

/** A scripted event. `at_s`/`duration_s` are seconds after the simulation start. */
export type SimEvent =
  | { kind: "news_jump"; market: string; at_s: number; delta: number }
  | { kind: "volume_spike"; market: string; at_s: number; duration_s: number; multiplier: number }
  | { kind: "book_imbalance"; market: string; at_s: number; duration_s: number; ratio: number }
  | { kind: "volatility_regime"; market: string; at_s: number; duration_s: number; factor: number }
  | {
    kind: "divergence";
    market: string;
    other: string;
    at_s: number;
    duration_s: number;
    gap: number;
  };

/** Options of {@linkcode SimulatorSource}. */
export interface SimulatorOptions {
  /** PRNG seed (default 42). */
  seed?: number;
  /** Number of markets (default 12); ids `sim-00`…; even → polymarket, odd → kalshi. */
  markets?: number;
  /** Start time, epoch µs (default 2026-01-05T00:00:00Z). */
  start?: number;
  /** Seconds between ticks (default 60). */
  tickSeconds?: number;
  /** Number of ticks per platform; null = endless (default null). */
  ticks?: number | null;
  /** Scripted events (default {@linkcode defaultScenario}). */
  events?: readonly SimEvent[];
  /** "fast" (default) or "realtime" (sleeps tickSeconds on the clock between ticks). */
  pace?: "fast" | "realtime";
  clock?: Clock;
}

/** A related pair of simulated markets (for markets.toml `[[relationships]]`). */
export interface SimRelationship {
  market_a: string;
  market_b: string;
  type: "positive";
  strength: number;
}

const DEFAULT_START = Date.UTC(2026, 0, 5) * 1000;
const US = 1_000_000;

/** Id of simulated market i. */
export function simMarketId(i: number): string {
  return `sim-${String(i).padStart(2, "0")}`;
}

/**
 * One scripted event of each kind on the first six markets, from 4 h in (after feature
 * warm-up at 60-s ticks).
 *
 * @example
 * ```ts
 * import { defaultScenario } from "./simulator.ts";
 * console.log(defaultScenario().map((e) => e.kind));
 * ```
 */
export function defaultScenario(): SimEvent[] {
  const h = 3600;
  return [
    { kind: "news_jump", market: simMarketId(0), at_s: 6 * h, delta: 0.15 },
    { kind: "volume_spike", market: simMarketId(2), at_s: 5 * h, duration_s: 1800, multiplier: 8 },
    { kind: "book_imbalance", market: simMarketId(3), at_s: 4 * h, duration_s: 2 * h, ratio: 6 },
    {
      kind: "volatility_regime",
      market: simMarketId(4),
      at_s: 8 * h,
      duration_s: 4 * h,
      factor: 5,
    },
    {
      kind: "divergence",
      market: simMarketId(1),
      other: simMarketId(0),
      at_s: 10 * h,
      duration_s: 2 * h,
      gap: 0.12,
    },
    { kind: "news_jump", market: simMarketId(5), at_s: 9 * h, delta: -0.12 },
    { kind: "volume_spike", market: simMarketId(5), at_s: 9 * h, duration_s: 1200, multiplier: 5 },
  ];
}

/**
 * The watchlist and relationships of a simulation (odd market follows its even neighbour).
 *
 * @example
 * ```ts
 * import { simulatorWatchlist } from "./simulator.ts";
 * const { markets, relationships } = simulatorWatchlist({ markets: 4 });
 * console.log(markets.length, relationships.length); // 4 2
 * ```
 */
export function simulatorWatchlist(
  options: Pick<SimulatorOptions, "markets"> = {},
): { markets: (WatchedMarket & { category: string })[]; relationships: SimRelationship[] } {
  const n = options.markets ?? 12;
  const categories = ["macro", "geopolitics", "crypto", "finance", "regulatory", "sports"];
  const markets = Array.from({ length: n }, (_, i) => ({
    id: simMarketId(i),
    platform: (i % 2 === 0 ? "polymarket" : "kalshi") as Platform,
    platform_market_id: i % 2 === 0 ? `0xsim${String(i).padStart(4, "0")}` : `KXSIM-${i}`,
    category: categories[Math.floor(i / 2) % categories.length],
  }));
  const relationships: SimRelationship[] = [];
  for (let i = 0; i + 1 < n; i += 2) {
    relationships.push({
      market_a: simMarketId(i),
      market_b: simMarketId(i + 1),
      type: "positive",
      strength: 0.9,
    });
  }
  return { markets, relationships };
}

// ---------------------------------------------------------------------------------------
// PRNG
// ---------------------------------------------------------------------------------------

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** sfc32 PRNG: uniform in [0, 1). */
export class Prng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;
  #spare: number | null = null;
  constructor(seed: number, stream = 0) {
    const init = splitmix32((seed >>> 0) ^ Math.imul(stream + 1, 0x632be5ab));
    this.#a = init();
    this.#b = init();
    this.#c = init();
    this.#d = init();
    for (let i = 0; i < 12; i++) this.next();
  }
  /** Uniform in [0, 1). */
  next(): number {
    const t = (((this.#a + this.#b) >>> 0) + this.#d) >>> 0;
    this.#d = (this.#d + 1) >>> 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) >>> 0;
    this.#c = ((this.#c << 21) | (this.#c >>> 11)) >>> 0;
    this.#c = (this.#c + t) >>> 0;
    return t / 4294967296;
  }
  /** Standard normal (Box–Muller). */
  normal(): number {
    if (this.#spare !== null) {
      const s = this.#spare;
      this.#spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.#spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

// ---------------------------------------------------------------------------------------
// Model
// ---------------------------------------------------------------------------------------

const logit = (p: number) => Math.log(p / (1 - p));
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

interface SimMarket {
  index: number;
  id: string;
  platform: Platform;
  platformId: string;
  question: string;
  rng: Prng;
  x: number;
  x0: number;
  offset: number; // follower: own OU offset to the leader's logit
  leader: number | null;
  sigma: number; // logit σ per √s
  dailyUsd: number;
  depthUsd: number;
  volumes: Float64Array; // ring of per-tick USD volume over 24 h
  ring: number;
  vol24: number;
  closesAt: number;
  lastPrice: number;
}

function seasonality(tMicros: number): number {
  const hour = (tMicros / US / 3600) % 24;
  return 1 + 0.5 * Math.sin((2 * Math.PI * (hour - 9)) / 24);
}

/**
 * The simulator {@linkcode MarketSource}.
 *
 * @example
 * ```ts
 * import { SimulatorSource } from "./simulator.ts";
 * const ticks = [];
 * for await (const t of new SimulatorSource({ seed: 7, markets: 2, ticks: 2 })) ticks.push(t);
 * console.log(ticks.length); // 4 (2 per platform)
 * ```
 */
export class SimulatorSource implements MarketSource {
  readonly description: string;
  readonly seed: number;
  readonly start: number;
  readonly tickSeconds: number;
  readonly #ticks: number | null;
  readonly #events: readonly SimEvent[];
  readonly #eventsOf = new Map<string, SimEvent[]>();
  readonly #pace: "fast" | "realtime";
  readonly #clock: Clock;
  readonly #markets: SimMarket[];
  readonly #byId = new Map<string, SimMarket>();
  readonly #wallets: string[];
  #closed = false;

  constructor(options: SimulatorOptions = {}) {
    this.seed = options.seed ?? 42;
    this.description = `simulator:${this.seed}`;
    this.start = options.start ?? DEFAULT_START;
    this.tickSeconds = options.tickSeconds ?? 60;
    if (!(this.tickSeconds > 0)) {
      throw new RangeError(`tickSeconds: expected > 0, received ${this.tickSeconds}`);
    }
    this.#ticks = options.ticks ?? null;
    this.#events = options.events ?? defaultScenario();
    this.#pace = options.pace ?? "fast";
    this.#clock = options.clock ?? systemClock;
    const walletRng = new Prng(this.seed, 1_000_003);
    this.#wallets = Array.from(
      { length: 40 },
      () =>
        "0x" +
        Array.from({ length: 5 }, () =>
          Math.floor(walletRng.next() * 2 ** 32).toString(16).padStart(8, "0")).join(""),
    );
    const { markets } = simulatorWatchlist({ markets: options.markets ?? 12 });
    const ringSize = Math.max(1, Math.round(86_400 / this.tickSeconds));
    this.#markets = markets.map((w, i) => {
      const rng = new Prng(this.seed, i);
      const p0 = 0.15 + 0.7 * rng.next();
      const m: SimMarket = {
        index: i,
        id: w.id,
        platform: w.platform,
        platformId: w.platform_market_id,
        question: `Simulated market ${i}: will event ${i} happen?`,
        rng,
        x: logit(p0),
        x0: logit(p0),
        offset: 0,
        leader: i % 2 === 1 ? i - 1 : null,
        sigma: 0.0008 + 0.0008 * rng.next(),
        dailyUsd: 20_000 * Math.exp(2.5 * rng.next()),
        depthUsd: 2_000 * Math.exp(2 * rng.next()),
        volumes: new Float64Array(ringSize),
        ring: 0,
        vol24: 0,
        closesAt: this.start + Math.round((20 + 60 * rng.next()) * 86_400) * US,
        lastPrice: p0,
      };
      // warm history: the expected seasonal volume of the 24 h before start
      for (let k = 0; k < ringSize; k++) {
        const t = this.start - (ringSize - k) * this.tickSeconds * US;
        const v = (m.dailyUsd * this.tickSeconds / 86_400) * seasonality(t);
        m.volumes[k] = v;
        m.vol24 += v;
      }
      return m;
    });
    for (const m of this.#markets) this.#byId.set(m.id, m);
    for (const e of this.#events) {
      const list = this.#eventsOf.get(e.market) ?? [];
      list.push(e);
      this.#eventsOf.set(e.market, list);
    }
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Tick> {
    const platforms: Platform[] = ["polymarket", "kalshi"];
    for (let k = 0; this.#ticks === null || k < this.#ticks; k++) {
      if (this.#closed) return;
      if (k > 0 && this.#pace === "realtime") await this.#clock.sleep(this.tickSeconds * 1000);
      const T = this.start + k * this.tickSeconds * US;
      const messages = this.#step(k, T);
      for (const platform of platforms) {
        const own = messages.filter((m) => m.snapshot.platform === platform);
        if (own.length) yield { platform, T, messages: own };
      }
    }
  }

  #active<K extends SimEvent["kind"]>(
    kind: K,
    market: string,
    tS: number,
  ): Extract<SimEvent, { kind: K }>[] {
    return (this.#eventsOf.get(market) ?? []).filter((e) =>
      e.kind === kind &&
      ("duration_s" in e ? tS >= e.at_s && tS < e.at_s + e.duration_s : false)
    ) as Extract<SimEvent, { kind: K }>[];
  }

  #step(k: number, T: number): SnapshotMessage[] {
    const dt = this.tickSeconds;
    const tS = k * dt;
    const prevS = tS - dt;
    // 1. latent prices (leaders before followers: even index first)
    for (const m of this.#markets) {
      const regime = this.#active("volatility_regime", m.id, tS).reduce((f, e) => f * e.factor, 1);
      const eps = m.rng.normal();
      if (m.leader === null) {
        const kappa = 1 / (3 * 86_400);
        m.x += -kappa * (m.x - m.x0) * dt + m.sigma * regime * Math.sqrt(dt) * eps;
      } else {
        const kappa = 1 / 3600;
        m.offset += -kappa * m.offset * dt + 0.5 * m.sigma * regime * Math.sqrt(dt) * eps;
        m.x = this.#markets[m.leader].x + m.offset;
      }
      for (const e of this.#eventsOf.get(m.id) ?? []) {
        if (e.kind === "news_jump" && e.market === m.id && e.at_s > prevS && e.at_s <= tS) {
          const p = clamp(sigmoid(m.x) + e.delta, 0.02, 0.98);
          if (m.leader === null) {
            m.x0 += logit(p) - m.x;
            m.x = logit(p);
          } else m.offset += logit(p) - m.x;
        }
      }
      m.x = clamp(m.x, -4.5, 4.5);
    }
    // 2. render each market
    return this.#markets.map((m) => this.#render(m, T, tS));
  }

  #render(m: SimMarket, T: number, tS: number): SnapshotMessage {
    const rng = m.rng;
    const tick = m.platform === "polymarket" ? 0.001 : 0.01;
    let p = sigmoid(m.x);
    for (const e of this.#eventsOf.get(m.id) ?? []) {
      if (
        e.kind === "divergence" && e.market === m.id && tS >= e.at_s && tS < e.at_s + e.duration_s
      ) {
        p += e.gap * Math.min(1, (tS - e.at_s) / 600);
      }
    }
    p = Math.round(clamp(p, 0.02, 0.98) / tick) * tick;
    p = Number(p.toFixed(3));
    const half = Math.max(tick, Number((0.004 + 0.004 * rng.next()).toFixed(3)));
    const bid = Number((Math.floor((p - half) / tick + 1e-9) * tick).toFixed(3));
    const ask = Number((Math.ceil((p + half) / tick - 1e-9) * tick).toFixed(3));
    // volume
    const spike = this.#active("volume_spike", m.id, tS).reduce((f, e) => f * e.multiplier, 1);
    const tickUsd = (m.dailyUsd * this.tickSeconds / 86_400) * seasonality(T) *
      Math.exp(0.3 * rng.normal() - 0.045) * spike;
    m.vol24 += tickUsd - m.volumes[m.ring];
    m.volumes[m.ring] = tickUsd;
    m.ring = (m.ring + 1) % m.volumes.length;
    const vol24 = Math.max(0, Math.round(m.vol24 * 100) / 100);
    // book
    const ratio = this.#active("book_imbalance", m.id, tS).reduce((f, e) => f * e.ratio, 1);
    const bidUsd = m.depthUsd * Math.sqrt(ratio);
    const askUsd = m.depthUsd / Math.sqrt(ratio);
    const step = Math.max(tick, 0.01);
    const bids: [number, number][] = [];
    const asks: [number, number][] = [];
    for (let l = 0; l < 5; l++) {
      const bp = Number((bid - l * step).toFixed(3));
      const ap = Number((ask + l * step).toFixed(3));
      const w = (1 + 0.5 * l) * (0.7 + 0.6 * rng.next()) / 5;
      if (bp > 0) bids.push([bp, Number(((bidUsd * w) / bp).toFixed(2))]);
      if (ap < 1) asks.push([ap, Number(((askUsd * w) / ap).toFixed(2))]);
    }
    // trades in (T − tick, T], whole seconds
    const count = Math.min(6, 1 + Math.floor(rng.next() * 3 * Math.min(spike, 2)));
    const prevT = T - this.tickSeconds * US;
    const trades: { ts: number; price: number; usd: number; buy: boolean; wallet: string }[] = [];
    for (let i = 0; i < count; i++) {
      const ts = Math.floor((prevT + 1 + rng.next() * (this.tickSeconds * US - 1)) / US);
      const buy = rng.next() < 0.5;
      trades.push({
        ts: Math.max(ts, Math.floor(prevT / US) + 1),
        price: buy ? ask : bid,
        usd: tickUsd / count,
        buy,
        wallet: this.#wallets[Math.floor(rng.next() * this.#wallets.length)],
      });
    }
    trades.sort((a, b) => a.ts - b.ts);
    m.lastPrice = p;
    const raw = m.platform === "polymarket"
      ? this.#polymarketBodies(m, p, bid, ask, vol24, bids, asks, trades)
      : this.#kalshiBodies(m, p, bid, ask, vol24, bids, asks, trades);
    return normalizePoll(raw, {
      platform: m.platform,
      marketId: m.id,
      platformMarketId: m.platformId,
      fetchedAt: T,
      now: T,
      since: prevT,
    });
  }

  #polymarketBodies(
    m: SimMarket,
    p: number,
    bid: number,
    ask: number,
    vol24: number,
    bids: [number, number][],
    asks: [number, number][],
    trades: { ts: number; price: number; usd: number; buy: boolean; wallet: string }[],
  ) {
    const market = [{
      conditionId: m.platformId,
      question: m.question,
      description: `Resolves YES if simulated event ${m.index} happens before the close.`,
      resolutionSource: "https://example.invalid/simulator",
      outcomes: '["Yes", "No"]',
      outcomePrices: JSON.stringify([String(p), String(Number((1 - p).toFixed(3)))]),
      clobTokenIds: JSON.stringify([`${m.index}1`, `${m.index}2`]),
      bestBid: bid,
      bestAsk: ask,
      volume24hr: vol24,
      endDate: new Date(m.closesAt / 1000).toISOString(),
      simulated: true,
    }];
    const book = {
      market: m.platformId,
      bids: [...bids].reverse().map(([price, size]) => ({
        price: String(price),
        size: String(size),
      })),
      asks: [...asks].reverse().map(([price, size]) => ({
        price: String(price),
        size: String(size),
      })),
    };
    const tradeBody = trades.map((t) => ({
      proxyWallet: t.wallet,
      side: t.buy ? "BUY" : "SELL",
      conditionId: m.platformId,
      outcomeIndex: 0,
      size: Number((t.usd / t.price).toFixed(2)),
      price: t.price,
      timestamp: t.ts,
    }));
    return { market, book, trades: tradeBody };
  }

  #kalshiBodies(
    m: SimMarket,
    p: number,
    bid: number,
    ask: number,
    vol24: number,
    bids: [number, number][],
    asks: [number, number][],
    trades: { ts: number; price: number; usd: number; buy: boolean; wallet: string }[],
  ) {
    const d = (x: number) => x.toFixed(4);
    const market = {
      market: {
        ticker: m.platformId,
        title: m.question,
        rules_primary:
          `If simulated event ${m.index} happens before the close, the market resolves to Yes.`,
        last_price_dollars: d(p),
        yes_bid_dollars: d(bid),
        yes_ask_dollars: d(ask),
        volume_24h_fp: (vol24 / p).toFixed(2),
        close_time: new Date(m.closesAt / 1000).toISOString(),
        status: "active",
        simulated: true,
      },
    };
    const book = {
      orderbook_fp: {
        yes_dollars: [...bids].reverse().map(([price, size]) => [d(price), size.toFixed(2)]),
        no_dollars: [...asks].reverse().map((
          [price, size],
        ) => [d(Number((1 - price).toFixed(4))), size.toFixed(2)]),
      },
    };
    const tradeBody = {
      trades: trades.map((t) => ({
        created_time: new Date(t.ts * 1000).toISOString(),
        yes_price_dollars: d(t.price),
        count_fp: (t.usd / t.price).toFixed(2),
        taker_side: t.buy ? "yes" : "no",
        ticker: m.platformId,
      })),
    };
    return { market, book, trades: tradeBody };
  }
}
