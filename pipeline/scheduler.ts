/**
 * Adaptive polling scheduler (DOMAIN §3.6, `polling.toml`): a deterministic state machine
 * over the markets of one platform. Pure: it never reads the clock — every call takes `now`
 * (integer epoch microseconds) — and it returns operational events as data.
 *
 * Per market it keeps the tier (hot/warm/cool/cold), the latest `volume_ratio_1h` r (default
 * 1.0), the close time, the last signal time and failure counters. After each successful
 * poll the tier moves at most one step along the hysteresis table; the new tier sets the
 * interval to the next poll. A promotion that would push the planned request rate above
 * `budget_safety_pct` of the platform cap is held. {@linkcode PollingScheduler.applyBudget}
 * handles pressure (> 0.80 of cap: demote hot markets, lowest r first, until < 0.70; still
 * pressured: cold interval 600 s). 10 consecutive failures force cold, 50 remove the market
 * (`market_unreachable`); `delistAfterNotFound` consecutive 404s remove it (`market_delisted`).
 *
 * @example
 * ```ts
 * import { PollingScheduler } from "./scheduler.ts";
 * const s = new PollingScheduler("polymarket", [{ id: "m1" }], { now: 0 });
 * const due = s.due(0); // ["m1"]
 * s.recordSuccess("m1", 0, { volumeRatio1h: 1.6 });
 * console.log(s.market("m1")?.tier); // "warm"
 * ```
 * @module
 */

/** Polling tiers, hottest first. */
export type Tier = "hot" | "warm" | "cool" | "cold";
/** Watchlist `poll_priority`. */
export type PollPriority = Tier | "normal";

/** All tiers in canonical order. */
export const TIERS: readonly Tier[] = ["hot", "warm", "cool", "cold"];

const US = 1_000_000;

/** Scheduler settings (defaults from `polling.toml` / DOMAIN §3.6). */
export interface SchedulerConfig {
  /** Poll interval per tier, seconds (15/30/60/300). */
  intervals: Record<Tier, number>;
  /** Hysteresis thresholds on r. */
  hysteresis: {
    hot_promote: number;
    hot_demote: number;
    warm_promote: number;
    warm_demote: number;
    cool_promote: number;
    cool_demote: number;
  };
  /** Published cap, requests per minute. */
  capPerMinute: number;
  /** Fraction of the cap to plan to (0.7). */
  safetyPct: number;
  /** Requests one poll of one market costs (market + book + trades = 3). */
  requestsPerPoll: number;
  /** Utilization that triggers pressure (0.80). */
  pressureHigh: number;
  /** Cold interval while still pressured after demoting every hot market, seconds (600). */
  pressuredColdIntervalS: number;
  /** Consecutive failures that force cold (10). */
  demoteAfterFailures: number;
  /** Consecutive failures that remove the market (50). */
  removeAfterFailures: number;
  /** Consecutive not-found polls that delist the market (3). */
  delistAfterNotFound: number;
  /** How long a signal keeps a market hot, seconds (4 h). */
  signalMemoryS: number;
  /** "Closing soon" horizon, seconds (86 400). */
  closeSoonS: number;
}

/** Defaults of {@linkcode SchedulerConfig} (Polymarket cap). */
export const DEFAULT_SCHEDULER_CONFIG: SchedulerConfig = {
  intervals: { hot: 15, warm: 30, cool: 60, cold: 300 },
  hysteresis: {
    hot_promote: 2.2,
    hot_demote: 1.8,
    warm_promote: 1.5,
    warm_demote: 1.3,
    cool_promote: 1.1,
    cool_demote: 0.9,
  },
  capPerMinute: 600,
  safetyPct: 0.7,
  requestsPerPoll: 3,
  pressureHigh: 0.8,
  pressuredColdIntervalS: 600,
  demoteAfterFailures: 10,
  removeAfterFailures: 50,
  delistAfterNotFound: 3,
  signalMemoryS: 4 * 3600,
  closeSoonS: 86_400,
};

/** Per-market scheduling state (a plain, JSON-serializable record). */
export interface MarketPollState {
  readonly market_id: string;
  readonly tier: Tier;
  /** Latest `volume_ratio_1h` (1.0 until a feature vector arrives). */
  readonly r: number;
  /** Close time, epoch µs, or null. */
  readonly closes_at: number | null;
  /** Last signal on this market, epoch µs, or null. */
  readonly last_signal_at: number | null;
  readonly consecutive_failures: number;
  readonly consecutive_not_found: number;
  /** Next poll due, epoch µs. */
  readonly next_due_at: number;
}

/** Operational events the scheduler emits (published on `augur.ops.events`). */
export type SchedulerEvent =
  | {
    readonly type: "tier_changed";
    readonly platform: string;
    readonly market_id: string;
    readonly from: Tier;
    readonly to: Tier;
    readonly reason: "promote" | "demote" | "pressure" | "failures" | "outage";
    readonly at: number;
  }
  | {
    readonly type: "rate_limit_pressure";
    readonly platform: string;
    readonly utilization: number;
    readonly at: number;
  }
  | {
    readonly type: "market_unreachable";
    readonly platform: string;
    readonly market_id: string;
    readonly consecutive_failures: number;
    readonly at: number;
  }
  | {
    readonly type: "market_delisted";
    readonly platform: string;
    readonly market_id: string;
    readonly at: number;
  }
  | { readonly type: "platform_outage"; readonly platform: string; readonly at: number };

/** Serializable scheduler state (checkpoint). */
export interface SchedulerState {
  readonly platform: string;
  readonly cold_stretched: boolean;
  readonly markets: readonly MarketPollState[];
}

/** Options of the {@linkcode PollingScheduler} constructor. */
export interface PollingSchedulerOptions {
  /** Time the markets become due (epoch µs). */
  now: number;
  /** Settings; missing keys take {@linkcode DEFAULT_SCHEDULER_CONFIG}. */
  config?: Partial<SchedulerConfig>;
}

/** A market to schedule. */
export interface ScheduledMarket {
  readonly id: string;
  /** Start tier (`normal` or absent ⇒ cool). */
  readonly pollPriority?: PollPriority;
  /** Close time, epoch µs. */
  readonly closesAt?: number | null;
}

/** Update carried by a successful poll. */
export interface PollSuccess {
  /** Latest volume_ratio_1h, when known. */
  volumeRatio1h?: number;
  /** Close time from the snapshot (epoch µs or null). */
  closesAt?: number | null;
}

/**
 * The adaptive polling state machine of one platform.
 *
 * @example
 * ```ts
 * import { PollingScheduler } from "./scheduler.ts";
 * const s = new PollingScheduler("kalshi", [{ id: "k1", pollPriority: "hot" }], { now: 0 });
 * s.recordFailure("k1", 0);
 * console.log(s.market("k1")?.consecutive_failures); // 1
 * ```
 */
export class PollingScheduler {
  readonly platform: string;
  readonly config: SchedulerConfig;
  readonly #markets = new Map<string, MarketPollState>();
  #coldStretched = false;

  constructor(
    platform: string,
    markets: readonly ScheduledMarket[],
    options: PollingSchedulerOptions,
  ) {
    this.platform = platform;
    this.config = {
      ...DEFAULT_SCHEDULER_CONFIG,
      ...options.config,
      intervals: { ...DEFAULT_SCHEDULER_CONFIG.intervals, ...options.config?.intervals },
      hysteresis: { ...DEFAULT_SCHEDULER_CONFIG.hysteresis, ...options.config?.hysteresis },
    };
    for (const m of markets) this.add(m, options.now);
  }

  /** Restore from {@linkcode PollingScheduler.state}. */
  static fromState(state: SchedulerState, config?: Partial<SchedulerConfig>): PollingScheduler {
    const s = new PollingScheduler(state.platform, [], { now: 0, config });
    for (const m of state.markets) s.#markets.set(m.market_id, { ...m });
    s.#coldStretched = state.cold_stretched;
    return s;
  }

  /** Serializable copy of the whole state, markets sorted by id. */
  state(): SchedulerState {
    return {
      platform: this.platform,
      cold_stretched: this.#coldStretched,
      markets: [...this.#markets.values()].sort((a, b) => cmp(a.market_id, b.market_id)),
    };
  }

  /** Add a market (due at `now`); its start tier follows `pollPriority` (normal ⇒ cool). */
  add(market: ScheduledMarket, now: number): void {
    const priority = market.pollPriority ?? "normal";
    this.#markets.set(market.id, {
      market_id: market.id,
      tier: priority === "normal" ? "cool" : priority,
      r: 1.0,
      closes_at: market.closesAt ?? null,
      last_signal_at: null,
      consecutive_failures: 0,
      consecutive_not_found: 0,
      next_due_at: now,
    });
  }

  /** Current state of one market, or undefined when unknown/removed. */
  market(id: string): MarketPollState | undefined {
    return this.#markets.get(id);
  }

  /** Ids of scheduled markets, sorted. */
  ids(): string[] {
    return [...this.#markets.keys()].sort(cmp);
  }

  /** Poll interval of a tier in seconds, honouring the pressured cold interval. */
  intervalS(tier: Tier): number {
    if (tier === "cold" && this.#coldStretched) {
      return Math.max(this.config.intervals.cold, this.config.pressuredColdIntervalS);
    }
    return this.config.intervals[tier];
  }

  /** Markets due at `now` (next_due_at ≤ now), ordered by (next_due_at, id). */
  due(now: number): string[] {
    return [...this.#markets.values()]
      .filter((m) => m.next_due_at <= now)
      .sort((a, b) => a.next_due_at - b.next_due_at || cmp(a.market_id, b.market_id))
      .map((m) => m.market_id);
  }

  /** Earliest next_due_at over all markets (epoch µs), or null when none are scheduled. */
  nextDueAt(): number | null {
    let best: number | null = null;
    for (const m of this.#markets.values()) {
      if (best === null || m.next_due_at < best) best = m.next_due_at;
    }
    return best;
  }

  /** Planned request rate as a fraction of the cap, given the current tiers. */
  utilization(): number {
    let perMinute = 0;
    for (const m of this.#markets.values()) perMinute += 60 / this.intervalS(m.tier);
    return (perMinute * this.config.requestsPerPoll) / this.config.capPerMinute;
  }

  /** Remember the latest volume_ratio_1h of a market (from its feature vector). */
  observeFeatures(id: string, volumeRatio1h: number): void {
    const m = this.#markets.get(id);
    if (m && Number.isFinite(volumeRatio1h)) this.#markets.set(id, { ...m, r: volumeRatio1h });
  }

  /** Remember that a signal fired on a market at `at` (epoch µs). */
  recordSignal(id: string, at: number): void {
    const m = this.#markets.get(id);
    if (m && (m.last_signal_at === null || at > m.last_signal_at)) {
      this.#markets.set(id, { ...m, last_signal_at: at });
    }
  }

  /**
   * A poll of `id` succeeded at `now`: reset failure counters, take one hysteresis step and
   * schedule the next poll at now + interval(new tier).
   */
  recordSuccess(id: string, now: number, update: PollSuccess = {}): SchedulerEvent[] {
    const current = this.#markets.get(id);
    if (!current) return [];
    let m: MarketPollState = {
      ...current,
      r: update.volumeRatio1h !== undefined && Number.isFinite(update.volumeRatio1h)
        ? update.volumeRatio1h
        : current.r,
      closes_at: update.closesAt !== undefined ? update.closesAt : current.closes_at,
      consecutive_failures: 0,
      consecutive_not_found: 0,
    };
    const events: SchedulerEvent[] = [];
    const step = this.step(m, now);
    if (step && step.to !== m.tier) {
      const promote = TIERS.indexOf(step.to) < TIERS.indexOf(m.tier);
      if (!promote || this.#promotionFits(m.tier, step.to)) {
        events.push(this.#tierEvent(m, step.to, promote ? "promote" : "demote", now));
        m = { ...m, tier: step.to };
      }
    }
    this.#markets.set(id, { ...m, next_due_at: now + this.intervalS(m.tier) * US });
    return events;
  }

  /**
   * A poll of `id` failed at `now` (after retries). `notFound` marks a 404 / "not found"
   * market payload. Returns removal / demotion events.
   */
  recordFailure(id: string, now: number, options: { notFound?: boolean } = {}): SchedulerEvent[] {
    const current = this.#markets.get(id);
    if (!current) return [];
    const failures = current.consecutive_failures + 1;
    const notFound = options.notFound ? current.consecutive_not_found + 1 : 0;
    const base = { platform: this.platform, market_id: id, at: now };
    if (options.notFound && notFound >= this.config.delistAfterNotFound) {
      this.#markets.delete(id);
      return [{ type: "market_delisted", ...base }];
    }
    if (failures >= this.config.removeAfterFailures) {
      this.#markets.delete(id);
      return [{ type: "market_unreachable", ...base, consecutive_failures: failures }];
    }
    let m: MarketPollState = {
      ...current,
      consecutive_failures: failures,
      consecutive_not_found: notFound,
    };
    const events: SchedulerEvent[] = [];
    if (failures >= this.config.demoteAfterFailures && m.tier !== "cold") {
      events.push(this.#tierEvent(m, "cold", "failures", now));
      m = { ...m, tier: "cold" };
    }
    this.#markets.set(id, { ...m, next_due_at: now + this.intervalS(m.tier) * US });
    return events;
  }

  /** The whole platform is down: every market goes cold; one `platform_outage` event. */
  recordOutage(now: number): SchedulerEvent[] {
    const events: SchedulerEvent[] = [{
      type: "platform_outage",
      platform: this.platform,
      at: now,
    }];
    for (const id of this.ids()) {
      const m = this.#markets.get(id)!;
      if (m.tier !== "cold") {
        events.push(this.#tierEvent(m, "cold", "outage", now));
        this.#markets.set(id, { ...m, tier: "cold" });
      }
    }
    return events;
  }

  /** Remove a market (e.g. unwatched); true when it was scheduled. */
  remove(id: string): boolean {
    return this.#markets.delete(id);
  }

  /**
   * Budget control, once per tick: when the planned utilization exceeds `pressureHigh`, emit
   * `rate_limit_pressure` and demote hot markets to warm (lowest r first, ties by id) until it
   * is below `safetyPct`; if still at or above it, stretch the cold interval to
   * `pressuredColdIntervalS`. The stretch is lifted once the normal cold interval fits again.
   */
  applyBudget(now: number): SchedulerEvent[] {
    const events: SchedulerEvent[] = [];
    if (this.#coldStretched) {
      this.#coldStretched = false;
      if (this.utilization() >= this.config.safetyPct) this.#coldStretched = true;
    }
    const utilization = this.utilization();
    if (utilization <= this.config.pressureHigh) return events;
    events.push({ type: "rate_limit_pressure", platform: this.platform, utilization, at: now });
    const hot = [...this.#markets.values()]
      .filter((m) => m.tier === "hot")
      .sort((a, b) => a.r - b.r || cmp(a.market_id, b.market_id));
    for (const m of hot) {
      if (this.utilization() < this.config.safetyPct) break;
      events.push(this.#tierEvent(m, "warm", "pressure", now));
      this.#markets.set(m.market_id, { ...m, tier: "warm" });
    }
    if (this.utilization() >= this.config.safetyPct) this.#coldStretched = true;
    return events;
  }

  /** True while the cold interval is stretched by budget pressure. */
  get coldStretched(): boolean {
    return this.#coldStretched;
  }

  /**
   * The hysteresis step for a market state at `now` (pure; null = stay).
   */
  step(m: MarketPollState, now: number): { to: Tier } | null {
    const h = this.config.hysteresis;
    const r = m.r;
    const closesIn = m.closes_at === null ? null : (m.closes_at - now) / US;
    const close24 = closesIn !== null && closesIn > 0 && closesIn < this.config.closeSoonS;
    const sig = m.last_signal_at !== null && now - m.last_signal_at >= 0 &&
      now - m.last_signal_at <= this.config.signalMemoryS * US;
    switch (m.tier) {
      case "cold":
        return r > h.cool_promote ? { to: "cool" } : null;
      case "cool":
        if (r > h.warm_promote || close24) return { to: "warm" };
        return r < h.cool_demote ? { to: "cold" } : null;
      case "warm":
        if (r > h.hot_promote || sig) return { to: "hot" };
        return r < h.warm_demote && !close24 ? { to: "cool" } : null;
      case "hot":
        return r < h.hot_demote && !sig ? { to: "warm" } : null;
    }
  }

  #promotionFits(from: Tier, to: Tier): boolean {
    const delta = 60 / this.intervalS(to) - 60 / this.intervalS(from);
    const after = this.utilization() +
      (delta * this.config.requestsPerPoll) / this.config.capPerMinute;
    return after <= this.config.safetyPct;
  }

  #tierEvent(
    m: MarketPollState,
    to: Tier,
    reason: "promote" | "demote" | "pressure" | "failures" | "outage",
    at: number,
  ): SchedulerEvent {
    return {
      type: "tier_changed",
      platform: this.platform,
      market_id: m.market_id,
      from: m.tier,
      to,
      reason,
      at,
    };
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
