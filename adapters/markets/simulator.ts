/**
 * Seeded, deterministic market simulator: a {@linkcode MarketSource} producing the same
 * {@linkcode SnapshotMessage}s the live pollers produce, for N markets on both platforms.
 * Each market's randomness comes from its own PRNG (sfc32 seeded by splitmix32 from
 * (seed, index)), so a seed reproduces every byte and adding markets never changes others.
 *
 * Model per market and tick (default {@linkcode SIMULATOR_TICK_SECONDS} = 300 s), by style
 * ({@linkcode simMarketStyle}, a cycle of six by index, independent of the scenario):
 * - `active`: a mean-reverting random walk of the logit fair value (bounded in (0, 1)); bid
 *   and ask 1–2 cents around it (0.01 tick on both venues); the last trade prints at the bid
 *   or the ask, switching side with probability 0.75 (bid-ask bounce is anti-persistent).
 * - `leader` + `follower`: one question cross-listed on Polymarket and Kalshi. The leader moves
 *   like an active market; arbitrage keeps the follower printing the leader's trade + 1 cent.
 *   {@linkcode simulatorWatchlist} relates them (positive, strength 1.0).
 * - `quiet`: a thinly traded market sitting at one cent level in [0.20, 0.50] until an event
 *   moves it.
 * Every market: USD volume per tick with a daily seasonality and log-normal noise
 * (`volume_24h` = the 24-h rolling sum), 5 book levels per side with per-side USD depth, a
 * handful of trades (the last one is the print). The simulator renders platform-shaped raw
 * bodies (Gamma/CLOB/Data-API or Kalshi v2) and runs them through the same
 * {@linkcode normalizePoll} as the live poller.
 *
 * Scripted events (times in seconds after `start`) and why they are shaped as they are — each
 * targets a property of DOMAIN §4/§5's exact math under the default config, so that its
 * detector fires on its market within {@linkcode SCRIPTED_DETECTION}'s bound and not before
 * (measured in tests/unit/pipeline/detection_delay_test.ts, with a control run without events):
 * - Cadence 300 s. `volume_ratio_1h` is the mean of `volume_24h` over the last hour of
 *   snapshots divided by an EWMA baseline with α = 0.05 PER SNAPSHOT (a ~20-snapshot memory).
 *   At 300 s the hour is 12 snapshots, the baseline lags the window and the ratio RISES with a
 *   burst; at 60 s (60 snapshots) it falls while volume rises. Warm-ups end at 4 h 05 (features,
 *   50 snapshots), 8 h 10 (price velocity, 50 more vectors) and 10 h 05 (regime shift: 6 h of
 *   dormancy from the first vector); every scripted event comes later.
 * - `news_jump` → price_velocity, on a quiet market. The BOCPD sees only x = [p > EWMA μ]: a
 *   flat price is a homogeneous run of x = 0, the jump starts a run of x = 1 and P(run < 5)
 *   passes 0.7 on the tick after (DOMAIN §14). Quiet levels stay in [0.20, 0.50] because for
 *   12 cent levels above 0.52 the floating-point EWMA of a constant settles one ulp BELOW it,
 *   so x = 1 all along and a jump up changes nothing; a jump down after a flat stretch is
 *   invisible for the same reason (x stays 0). On active markets the bounce makes x close to a
 *   fair coin, so the BOCPD is rarely sure of a change.
 * - `volume_spike` (×multiplier on per-tick volume). The detector's variance starts at 0.25 and
 *   shrinks by 5 % per vector: over the demo it stays above the ratio's natural noise (~0.003),
 *   so noise never reaches z 1.65, while a ×50 burst does within ~4 ticks.
 * - `book_imbalance`: bid depth × √ratio, ask depth ÷ √ratio, so the bid depth share is
 *   ratio/(ratio + 1) (0.857 for 6 ≥ 0.72) and fires on the 3rd snapshot; normal books sit
 *   near 0.5.
 * - `volatility_regime` (σ × factor and bounce), on a quiet market. While flat,
 *   `volatility_1h` is exactly 0, the CUSUM sums stay 0 and no breach re-arms the 6-h dormancy;
 *   the first volatile tick gives S⁺ ≈ x ≫ h = 4σ ≈ 4x/√n. (On a random walk the strongly
 *   autocorrelated `volatility_1h` breaches again and again, each breach pushing the dormancy
 *   on, so active markets practically never fire.)
 * - `divergence` (the follower's print + gap, ramped over 10 min). The test compares Spearman ρ
 *   over the last 240 points of a 60-s grid with historical_z, SE = 1/√237 = 0.065 in Fisher z;
 *   a sample of 48 distinct 300-s snapshots (or 240 autocorrelated 60-s ones) varies more than
 *   that, so a pair merely correlated ~0.9 "diverges" on 5–40 % of grid points. A cross-listed
 *   pair has identical ranks: ρ = 1, which equals the clamped strength 1.0, T = 0, p = 1 — it
 *   never fires until the gap reorders the follower's ranks (at once), and then fires on every
 *   grid point while the 4-h window holds diverged points. The diverging leg's volume rises
 *   ×6 so the activity floor (a leg with `volume_ratio_1h` > 1; a DOMAIN SHOULD the engine's
 *   divergence stage does not apply) is met as well. The leader's second print always changes
 *   side, so no early window is constant (zero variance gives ρ = 0, a divergence).
 * {@linkcode defaultScenario} scripts one event per detector plus a second jump with a volume
 * burst; a run without events has the same base dynamics (styles do not depend on events).
 *
 * @example
 * ```ts
 * import { SimulatorSource } from "./simulator.ts";
 * const sim = new SimulatorSource({ seed: 42, markets: 6, ticks: 3 });
 * for await (const tick of sim) console.log(tick.platform, tick.T, tick.messages.length);
 * ```
 * @module
 */

import type { Platform, SignalType, SnapshotMessage } from "../../pipeline/models.ts";
import { normalizePoll, type RawPoll } from "../../pipeline/normalizer.ts";
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
  /** Start time, epoch µs (default {@linkcode SIMULATOR_START}, 2026-01-05T00:00:00Z). */
  start?: number;
  /** Seconds between ticks (default {@linkcode SIMULATOR_TICK_SECONDS}, 300). */
  tickSeconds?: number;
  /** Number of ticks per platform; null = endless (default null). */
  ticks?: number | null;
  /** Scripted events (default {@linkcode defaultScenario}). */
  events?: readonly SimEvent[];
  /** "fast" (default) or "realtime" (sleeps tickSeconds on the clock between ticks). */
  pace?: "fast" | "realtime";
  /**
   * Wall-clock milliseconds from one tick to the next, on a fixed schedule counted from the
   * first tick (tick k is due at first + k × intervalMs on the clock); overrides `pace`. A
   * consumer that falls behind gets the overdue ticks at once, so the offered rate
   * (markets ÷ intervalMs) holds on average for as long as it keeps up. Data time still
   * advances `tickSeconds` per tick.
   */
  intervalMs?: number;
  /**
   * Render (and yield) only these platforms' markets (default both). Every market still
   * steps, so a follower copies its leader exactly and a platform's messages are the same
   * bytes as in a run of both: a poller serving one platform skips the other half's work.
   */
  platforms?: readonly Platform[];
  /**
   * Besides `events`, a seeded event every this many seconds of simulation (first at this
   * offset) on a seeded market: alternately a book imbalance (ratio 6 for 20 min) and a
   * volume burst (×50 for 30 min) — the two shapes whose detectors fire on any market style
   * (module doc) — so a long or large run carries a steady flow of signals (load tests).
   * 0 or absent: none.
   */
  eventEverySeconds?: number;
  clock?: Clock;
  /**
   * Called with each market's rendered raw bodies before they are normalized (tests record
   * them as a replay file, exactly as the recorder stores live responses).
   */
  onRawPoll?: (poll: SimRawPoll) => void;
}

/** One market's rendered raw poll (see {@linkcode SimulatorOptions.onRawPoll}). */
export interface SimRawPoll {
  readonly market: WatchedMarket;
  /** Trades strictly after this time (epoch µs) are in the poll. */
  readonly since: number;
  /** Tick time T (epoch µs). */
  readonly fetchedAt: number;
  readonly raw: RawPoll;
}

/** A related pair of simulated markets (for markets.toml `[[relationships]]`). */
export interface SimRelationship {
  market_a: string;
  market_b: string;
  type: "positive";
  strength: number;
}

/**
 * How a simulated market's price moves (see the module doc): `leader` and `follower` are one
 * question cross-listed on both venues, `quiet` sits at one price until an event moves it,
 * `active` is a bounded random walk printing at the bid or the ask.
 */
export type SimMarketStyle = "leader" | "follower" | "quiet" | "active";

/** Default simulation start: 2026-01-05T00:00:00Z (epoch µs). */
export const SIMULATOR_START: number = Date.UTC(2026, 0, 5) * 1000;
/** Default seconds between ticks: the cadence {@linkcode defaultScenario} is shaped for. */
export const SIMULATOR_TICK_SECONDS = 300;
const US = 1_000_000;
/** Volume multiplier on the diverging leg during a divergence event. */
const DIVERGENCE_VOLUME = 6;

/** Id of simulated market i. */
export function simMarketId(i: number): string {
  return `sim-${String(i).padStart(2, "0")}`;
}

/**
 * The style of market `index` among `markets` (cycle of six: leader, follower, quiet, active,
 * quiet, active; a leader without a follower is active). Independent of the scenario, so a
 * run without events has the same base dynamics.
 *
 * @example
 * ```ts
 * import { simMarketStyle } from "./simulator.ts";
 * console.log([0, 1, 2, 3].map((i) => simMarketStyle(i, 12))); // leader follower quiet active
 * ```
 */
export function simMarketStyle(index: number, markets: number): SimMarketStyle {
  switch (index % 6) {
    case 0:
      return index + 1 < markets ? "leader" : "active";
    case 1:
      return "follower";
    case 2:
    case 4:
      return "quiet";
    default:
      return "active";
  }
}

/**
 * The demo scenario at {@linkcode SIMULATOR_TICK_SECONDS}-s ticks on 12 markets: one event
 * for each detector, each after that detector can fire on its market (module doc), plus a
 * second news jump with a volume burst. Every event is detected within
 * {@linkcode SCRIPTED_DETECTION}'s bound by its detector on its market, which does not fire
 * there before the event (or in a run without events).
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
    { kind: "book_imbalance", market: simMarketId(3), at_s: 9 * h, duration_s: h, ratio: 6 },
    { kind: "news_jump", market: simMarketId(2), at_s: 10 * h, delta: 0.15 },
    {
      kind: "volatility_regime",
      market: simMarketId(4),
      at_s: 11 * h,
      duration_s: h,
      factor: 8,
    },
    {
      kind: "volume_spike",
      market: simMarketId(5),
      at_s: 11.5 * h,
      duration_s: 1800,
      multiplier: 50,
    },
    { kind: "news_jump", market: simMarketId(8), at_s: 12 * h, delta: 0.1 },
    {
      kind: "volume_spike",
      market: simMarketId(8),
      at_s: 12 * h,
      duration_s: 1200,
      multiplier: 50,
    },
    {
      kind: "divergence",
      market: simMarketId(1),
      other: simMarketId(0),
      at_s: 12.5 * h,
      duration_s: h,
      gap: 0.08,
    },
  ];
}

/** Seconds of simulation {@linkcode defaultScenario} needs (its last event + its bound). */
export const DEFAULT_SCENARIO_SECONDS = 13 * 3600;

/**
 * Which detector each event kind is shaped for and the bound (seconds after the event
 * start, at {@linkcode SIMULATOR_TICK_SECONDS}-s ticks) within which it fires on the event's
 * market (divergence: on the pair, market_a = the leader).
 *
 * @example
 * ```ts
 * import { SCRIPTED_DETECTION } from "./simulator.ts";
 * console.log(SCRIPTED_DETECTION.news_jump.signal_type); // price_velocity
 * ```
 */
export const SCRIPTED_DETECTION: Readonly<
  Record<SimEvent["kind"], { readonly signal_type: SignalType; readonly bound_s: number }>
> = {
  news_jump: { signal_type: "price_velocity", bound_s: 600 },
  volume_spike: { signal_type: "volume_spike", bound_s: 1800 },
  book_imbalance: { signal_type: "book_imbalance", bound_s: 900 },
  volatility_regime: { signal_type: "regime_shift", bound_s: 600 },
  divergence: { signal_type: "cross_market_divergence", bound_s: 900 },
};

/**
 * The watchlist and relationships of a simulation: each leader and its follower (the same
 * question on the other venue) are a `positive` pair of strength 1.0.
 *
 * @example
 * ```ts
 * import { simulatorWatchlist } from "./simulator.ts";
 * const { markets, relationships } = simulatorWatchlist({ markets: 4 });
 * console.log(markets.length, relationships.length); // 4 1
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
  for (let i = 0; i + 1 < n; i++) {
    if (simMarketStyle(i, n) !== "leader") continue;
    relationships.push({
      market_a: simMarketId(i),
      market_b: simMarketId(i + 1),
      type: "positive",
      strength: 1.0,
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
/** Whole cents in [2, 98]. */
const clampCents = (c: number) => clamp(Math.round(c), 2, 98);
const price = (cents: number) => cents / 100;

interface SimMarket {
  index: number;
  id: string;
  platform: Platform;
  platformId: string;
  question: string;
  style: SimMarketStyle;
  rng: Prng;
  /** Latent fair value (logit) and its reversion level. */
  x: number;
  x0: number;
  /** Logit σ per √s. */
  sigma: number;
  /** Quiet markets: the price (cents) they sit at. */
  level: number;
  /** Followers: permanent offset (cents) from news jumps on them. */
  offset: number;
  leader: SimMarket | null;
  dailyUsd: number;
  depthUsd: number;
  volumes: Float64Array; // ring of per-tick USD volume over 24 h
  ring: number;
  vol24: number;
  closesAt: number;
  /** Texts of the rendered bodies that never change (made once, shared by every tick). */
  texts: MarketTexts;
  /** This tick's print: last trade price (cents), quotes (cents), trade side. */
  print: number;
  bid: number;
  ask: number;
  buy: boolean;
  /** Whether the market was in a volatility regime on the previous tick. */
  wasVolatile: boolean;
}

/** The texts of a market's bodies that are the same on every tick. */
interface MarketTexts {
  /** `closesAt` as ISO-8601 (Gamma `endDate`, Kalshi `close_time`). */
  readonly closesIso: string;
  readonly description: string;
  readonly rulesPrimary: string;
  readonly clobTokenIds: string;
}

/** The events of a market without any (shared, never written). */
const NONE: readonly SimEvent[] = Object.freeze([]);

const NO_TEXTS: MarketTexts = {
  closesIso: "",
  description: "",
  rulesPrimary: "",
  clobTokenIds: "",
};

function marketTexts(index: number, closesAt: number): MarketTexts {
  return {
    closesIso: new Date(closesAt / 1000).toISOString(),
    description: `Resolves YES if simulated event ${index} happens before the close.`,
    rulesPrimary:
      `If simulated event ${index} happens before the close, the market resolves to Yes.`,
    clobTokenIds: JSON.stringify([`${index}1`, `${index}2`]),
  };
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
  readonly #intervalMs: number | null;
  readonly #platforms: readonly Platform[];
  readonly #eventEvery: number;
  readonly #eventRng: Prng;
  #nextEventS: number;
  #eventCount = 0;
  readonly #clock: Clock;
  readonly #markets: SimMarket[];
  readonly #wallets: string[];
  readonly #onRawPoll?: (poll: SimRawPoll) => void;
  #closed = false;

  constructor(options: SimulatorOptions = {}) {
    this.seed = options.seed ?? 42;
    this.description = `simulator:${this.seed}`;
    this.start = options.start ?? SIMULATOR_START;
    this.tickSeconds = options.tickSeconds ?? SIMULATOR_TICK_SECONDS;
    if (!(this.tickSeconds > 0)) {
      throw new RangeError(`tickSeconds: expected > 0, received ${this.tickSeconds}`);
    }
    this.#ticks = options.ticks ?? null;
    this.#events = options.events ?? defaultScenario();
    this.#pace = options.pace ?? "fast";
    this.#intervalMs = options.intervalMs ?? null;
    if (this.#intervalMs !== null && !(this.#intervalMs >= 0)) {
      throw new RangeError(`intervalMs: expected >= 0, received ${this.#intervalMs}`);
    }
    this.#platforms = options.platforms ?? ["polymarket", "kalshi"];
    this.#eventEvery = options.eventEverySeconds ?? 0;
    if (!(this.#eventEvery >= 0)) {
      throw new RangeError(`eventEverySeconds: expected >= 0, received ${this.#eventEvery}`);
    }
    this.#eventRng = new Prng(this.seed, 2_000_003);
    this.#nextEventS = this.#eventEvery;
    this.#clock = options.clock ?? systemClock;
    this.#onRawPoll = options.onRawPoll;
    const walletRng = new Prng(this.seed, 1_000_003);
    this.#wallets = Array.from(
      { length: 40 },
      () =>
        "0x" +
        Array.from({ length: 5 }, () =>
          Math.floor(walletRng.next() * 2 ** 32).toString(16).padStart(8, "0")).join(""),
    );
    const n = options.markets ?? 12;
    const { markets } = simulatorWatchlist({ markets: n });
    const ringSize = Math.max(1, Math.round(86_400 / this.tickSeconds));
    this.#markets = [];
    for (const [i, w] of markets.entries()) {
      const rng = new Prng(this.seed, i);
      const style = simMarketStyle(i, n);
      const u = rng.next();
      // Quiet markets sit on a cent level in [0.20, 0.50] (see the module doc on why).
      const level = style === "quiet" ? 20 + Math.floor(31 * u) : Math.round(15 + 70 * u);
      const leader = style === "follower" ? this.#markets[i - 1] : null;
      const m: SimMarket = {
        index: i,
        id: w.id,
        platform: w.platform,
        platformId: w.platform_market_id,
        question: `Simulated market ${leader ? leader.index : i}: will event ${
          leader ? leader.index : i
        } happen?`,
        style,
        rng,
        x: logit(price(level)),
        x0: logit(price(level)),
        sigma: 0.0008 + 0.0008 * rng.next(),
        level,
        offset: 0,
        leader,
        dailyUsd: 20_000 * Math.exp(2.5 * rng.next()),
        depthUsd: 3_000 * Math.exp(1.5 * rng.next()),
        volumes: new Float64Array(ringSize),
        ring: 0,
        vol24: 0,
        closesAt: this.start + Math.round((20 + 60 * rng.next()) * 86_400) * US,
        texts: NO_TEXTS,
        print: level,
        bid: level - 1,
        ask: level + 1,
        buy: true,
        wasVolatile: false,
      };
      m.texts = marketTexts(i, m.closesAt);
      // warm history: the expected seasonal volume of the 24 h before start
      for (let k = 0; k < ringSize; k++) {
        const t = this.start - (ringSize - k) * this.tickSeconds * US;
        const v = (m.dailyUsd * this.tickSeconds / 86_400) * seasonality(t);
        m.volumes[k] = v;
        m.vol24 += v;
      }
      this.#markets.push(m);
    }
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
    const platforms = (["polymarket", "kalshi"] as const).filter((p) =>
      this.#platforms.includes(p)
    );
    let first = 0;
    for (let k = 0; this.#ticks === null || k < this.#ticks; k++) {
      if (this.#closed) return;
      if (this.#intervalMs !== null) {
        if (k === 0) first = this.#clock.now();
        const due = first + k * this.#intervalMs - this.#clock.now();
        if (due > 0) await this.#clock.sleep(due);
        if (this.#closed) return;
      } else if (k > 0 && this.#pace === "realtime") {
        await this.#clock.sleep(this.tickSeconds * 1000);
      }
      const T = this.start + k * this.tickSeconds * US;
      const messages = this.#step(k, T);
      for (const platform of platforms) {
        const own = messages.filter((m) => m.snapshot.platform === platform);
        if (own.length) yield { platform, T, messages: own };
      }
    }
  }

  /** Schedule the seeded events that start by `tS` (see `eventEverySeconds`). */
  #seedEvents(tS: number): void {
    if (this.#eventEvery <= 0) return;
    while (this.#nextEventS <= tS) {
      const market = simMarketId(Math.floor(this.#eventRng.next() * this.#markets.length));
      const at_s = this.#nextEventS;
      const event: SimEvent = this.#eventCount++ % 2 === 0
        ? { kind: "book_imbalance", market, at_s, duration_s: 1200, ratio: 6 }
        : { kind: "volume_spike", market, at_s, duration_s: 1800, multiplier: 50 };
      const list = this.#eventsOf.get(market) ?? [];
      list.push(event);
      this.#eventsOf.set(market, list);
      this.#nextEventS += this.#eventEvery;
    }
  }

  #active<K extends SimEvent["kind"]>(
    kind: K,
    market: string,
    tS: number,
  ): Extract<SimEvent, { kind: K }>[] {
    const events = this.#eventsOf.get(market);
    // Most markets have no events: no array per call (callers only read the result).
    if (events === undefined) return NONE as Extract<SimEvent, { kind: K }>[];
    return events.filter((e) =>
      e.kind === kind &&
      ("duration_s" in e ? tS >= e.at_s && tS < e.at_s + e.duration_s : false)
    ) as Extract<SimEvent, { kind: K }>[];
  }

  /** The news jumps of `market` in (prevS, tS]. */
  #jumps(market: string, prevS: number, tS: number): Extract<SimEvent, { kind: "news_jump" }>[] {
    const events = this.#eventsOf.get(market);
    if (events === undefined) return NONE as Extract<SimEvent, { kind: "news_jump" }>[];
    return events.filter((e) =>
      e.kind === "news_jump" && e.at_s > prevS && e.at_s <= tS
    ) as Extract<SimEvent, { kind: "news_jump" }>[];
  }

  #step(k: number, T: number): SnapshotMessage[] {
    const dt = this.tickSeconds;
    const tS = k * dt;
    const prevS = tS - dt;
    this.#seedEvents(tS);
    // Leaders come before their followers (index order), so a follower copies this tick's print.
    for (const m of this.#markets) {
      const regime = this.#active("volatility_regime", m.id, tS).reduce((f, e) => f * e.factor, 1);
      const volatile = regime !== 1;
      const jumps = this.#jumps(m.id, prevS, tS);
      if (m.style === "follower") {
        this.#follow(m, tS, jumps, regime);
      } else if (m.style === "quiet" && !volatile) {
        if (m.wasVolatile) m.level = m.print; // back to sleep at the last print
        for (const e of jumps) m.level = clampCents(m.level + e.delta * 100);
        m.x = m.x0 = logit(price(m.level));
        m.print = m.level;
        m.bid = m.level - 1;
        m.ask = m.level + 1;
        m.buy = !m.buy;
      } else {
        const kappa = 1 / (3 * 86_400);
        m.x += -kappa * (m.x - m.x0) * dt + m.sigma * regime * Math.sqrt(dt) * m.rng.normal();
        for (const e of jumps) {
          const target = logit(price(clampCents((sigmoid(m.x) + e.delta) * 100)));
          m.x0 += target - m.x;
          m.x = target;
        }
        m.x = clamp(m.x, -3.5, 3.5);
        this.#quote(m, k);
      }
      m.wasVolatile = volatile;
    }
    const out: SnapshotMessage[] = [];
    for (const m of this.#markets) {
      const message = this.#render(m, T, tS, this.#platforms.includes(m.platform));
      if (message) out.push(message);
    }
    return out;
  }

  /**
   * Quotes around the fair value and a print at the bid or the ask: the bounce is
   * anti-persistent (the next trade hits the other side with probability 0.75; always on the
   * second tick, so the first pair window is never constant).
   */
  #quote(m: SimMarket, k: number): void {
    const fair = sigmoid(m.x) * 100;
    const half = 0.4 + 0.4 * m.rng.next();
    m.bid = clamp(Math.floor(fair - half + 1e-9), 1, 97);
    m.ask = clamp(Math.ceil(fair + half - 1e-9), m.bid + 1, 99);
    if (k === 1 || m.rng.next() < 0.75) m.buy = !m.buy;
    m.print = clampCents(m.buy ? m.ask : m.bid);
  }

  /** A follower prints its leader's trade one cent higher (plus scripted offsets). */
  #follow(
    m: SimMarket,
    tS: number,
    jumps: Extract<SimEvent, { kind: "news_jump" }>[],
    regime: number,
  ): void {
    const leader = m.leader!;
    for (const e of jumps) m.offset += Math.round(e.delta * 100);
    let gap = 0;
    for (const e of this.#active("divergence", m.id, tS)) {
      gap += e.gap * 100 * Math.min(1, (tS - e.at_s + this.tickSeconds) / 600);
    }
    const noise = regime !== 1
      ? m.sigma * regime * Math.sqrt(this.tickSeconds) * 100 *
        m.rng.normal()
      : 0;
    m.buy = leader.buy;
    m.print = clampCents(leader.print + 1 + m.offset + gap + noise);
    const spread = Math.max(1, leader.ask - leader.bid);
    m.bid = m.buy ? m.print - spread : m.print;
    m.ask = m.buy ? m.print : m.print + spread;
    if (m.bid < 1) [m.bid, m.ask] = [1, Math.max(2, m.ask)];
    if (m.ask > 99) [m.bid, m.ask] = [Math.min(98, m.bid), 99];
  }

  /**
   * Draw the market's tick (volume, book, trades) and, when `emit`, render and normalize its
   * platform bodies. Every market draws every tick, so its PRNG stream — and a follower that
   * copies it — does not depend on which platforms are rendered.
   */
  #render(m: SimMarket, T: number, tS: number, emit: boolean): SnapshotMessage | null {
    const rng = m.rng;
    const p = price(m.print);
    const bid = price(m.bid);
    const ask = price(m.ask);
    // volume
    // A divergence is news on the follower's venue: its volume picks up too (×DIVERGENCE_VOLUME).
    const spike = this.#active("volume_spike", m.id, tS).reduce((f, e) => f * e.multiplier, 1) *
      (this.#active("divergence", m.id, tS).length ? DIVERGENCE_VOLUME : 1);
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
    const bids: [number, number][] = [];
    const asks: [number, number][] = [];
    for (let l = 0; l < 5; l++) {
      const bp = price(m.bid - l);
      const ap = price(m.ask + l);
      const w = (1 + 0.5 * l) * (0.7 + 0.6 * rng.next()) / 5;
      if (m.bid - l > 0) bids.push([bp, Number(((bidUsd * w) / bp).toFixed(2))]);
      if (m.ask + l < 100) asks.push([ap, Number(((askUsd * w) / ap).toFixed(2))]);
    }
    // trades in (T − tick, T], whole seconds; the last one is this tick's print
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
    const last = trades[trades.length - 1];
    last.buy = m.buy;
    last.price = p;
    if (!emit) return null;
    const raw = m.platform === "polymarket"
      ? this.#polymarketBodies(m, p, bid, ask, vol24, bids, asks, trades)
      : this.#kalshiBodies(m, p, bid, ask, vol24, bids, asks, trades);
    this.#onRawPoll?.({
      market: { id: m.id, platform: m.platform, platform_market_id: m.platformId },
      since: prevT,
      fetchedAt: T,
      raw,
    });
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
      description: m.texts.description,
      resolutionSource: "https://example.invalid/simulator",
      outcomes: '["Yes", "No"]',
      outcomePrices: JSON.stringify([String(p), String(Number((1 - p).toFixed(3)))]),
      clobTokenIds: m.texts.clobTokenIds,
      bestBid: bid,
      bestAsk: ask,
      volume24hr: vol24,
      endDate: m.texts.closesIso,
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
        rules_primary: m.texts.rulesPrimary,
        last_price_dollars: d(p),
        yes_bid_dollars: d(bid),
        yes_ask_dollars: d(ask),
        volume_24h_fp: (vol24 / p).toFixed(2),
        close_time: m.texts.closesIso,
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
