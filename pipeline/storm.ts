/**
 * Storm controller (DOMAIN §8), pure: time is an input, state is serializable so a failover
 * resumes without re-emitting a start/end event.
 *
 * Per update: `raw_count` (pre-dedup signals this tick/window), `queue_depth`, `now` (epoch µs).
 * In the windowed dedup (engine and distributed, DESIGN §10) the inputs are data: the
 * window's raw count, its post-merge count as the depth, and the window end as `now`
 * ({@linkcode StormController.updateWindow}).
 *
 * - Rate trackers of 30 s and 60 s: add `count` at now, evict entries older than now − window,
 *   rate = total / window.
 * - Enter when rate₃₀ > 20/s, or depth% > 0.75 held continuously ≥ 10 s.
 * - Exit when rate₆₀ < 5/s and depth% < 0.25 have both held ≥ 30 s (one shared timer).
 *
 * @example
 * ```ts
 * import { StormController } from "./storm.ts";
 * const storm = new StormController({}, { capacity: 256 });
 * const event = storm.update({ raw_count: 700, queue_depth: 0, now: 0 });
 * event?.type; // "storm_start" (700 / 30 s > 20/s)
 * const resumed = StormController.fromState(storm.state(), {}, { capacity: 256 });
 * resumed.inStorm; // true
 * ```
 * @module
 */
import { z } from "zod";
import type { StormState } from "./models.ts";

/** `config.dedup.storm` (any subset; omitted keys take the DOMAIN §12 defaults). */
export interface StormSettings {
  trigger_signal_rate_per_sec?: number;
  trigger_signal_rate_window_sec?: number;
  trigger_queue_depth_pct?: number;
  trigger_queue_depth_window_sec?: number;
  recovery_signal_rate_per_sec?: number;
  recovery_signal_rate_window_sec?: number;
  recovery_queue_depth_pct?: number;
  recovery_queue_depth_window_sec?: number;
}

/** Options of {@linkcode StormController}. */
export interface StormOptions {
  /** Queue capacity for depth% (`config.dedup.bus.queue_capacity`, default 256). */
  capacity?: number;
}

/** One controller update. */
export interface StormInput {
  /** Raw (pre-dedup) signal count since the previous update. */
  raw_count: number;
  /** Queue depth (windowed mode: the window's post-merge count). */
  queue_depth: number;
  /** Update time, epoch µs. */
  now: number;
}

/** Emitted when a storm starts. */
export interface StormStartEvent {
  type: "storm_start";
  /** Epoch µs. */
  started_at: number;
  /** What tripped it. */
  reason: "signal_rate" | "queue_depth";
  /** Signals/s over the trigger window at entry. */
  trigger_rate: number;
  /** depth / capacity at entry. */
  depth_pct: number;
}

/** Emitted when a storm ends. */
export interface StormEndEvent {
  type: "storm_end";
  /** Epoch µs. */
  started_at: number;
  /** Epoch µs. */
  ended_at: number;
  /** Signals/s over the recovery window at exit. */
  recovery_rate: number;
  /** depth / capacity at exit. */
  depth_pct: number;
}

/** A storm transition. */
export type StormEvent = StormStartEvent | StormEndEvent;

/** Serializable controller state (plain JSON; times epoch µs). */
export const StormControllerStateSchema = z.strictObject({
  in_storm: z.boolean(),
  started_at: z.int().nullable(),
  ended_at: z.int().nullable(),
  /** `[time, count]` entries of the trigger-rate tracker, oldest first. */
  trigger_rate: z.array(z.tuple([z.int(), z.number().min(0)])),
  /** `[time, count]` entries of the recovery-rate tracker, oldest first. */
  recovery_rate: z.array(z.tuple([z.int(), z.number().min(0)])),
  /** When depth% first exceeded the trigger (null = not breaching). */
  depth_breach_since: z.int().nullable(),
  /** When both recovery conditions first held (null = not holding). */
  recovery_since: z.int().nullable(),
  /** Last update time (updates must not go back in time). */
  last_now: z.int().nullable(),
});
/** Serializable controller state. */
export type StormControllerState = z.infer<typeof StormControllerStateSchema>;

/** Invalid input or state. */
export class StormError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StormError";
  }
}

const MICROS = 1_000_000;

class RateTracker {
  constructor(readonly windowSec: number, readonly entries: [number, number][] = []) {}
  #total = 0;
  init(): this {
    this.#total = this.entries.reduce((acc, [, c]) => acc + c, 0);
    return this;
  }
  add(now: number, count: number): void {
    if (count > 0) {
      const last = this.entries[this.entries.length - 1];
      if (last !== undefined && last[0] === now) last[1] += count;
      else this.entries.push([now, count]);
      this.#total += count;
    }
    const cutoff = now - this.windowSec * MICROS;
    let drop = 0;
    while (drop < this.entries.length && this.entries[drop][0] < cutoff) {
      this.#total -= this.entries[drop][1];
      drop++;
    }
    if (drop > 0) this.entries.splice(0, drop);
    if (this.entries.length === 0) this.#total = 0;
  }
  rate(): number {
    return this.#total / this.windowSec;
  }
}

function settings(s: StormSettings): Required<StormSettings> {
  return {
    trigger_signal_rate_per_sec: s.trigger_signal_rate_per_sec ?? 20,
    trigger_signal_rate_window_sec: s.trigger_signal_rate_window_sec ?? 30,
    trigger_queue_depth_pct: s.trigger_queue_depth_pct ?? 0.75,
    trigger_queue_depth_window_sec: s.trigger_queue_depth_window_sec ?? 10,
    recovery_signal_rate_per_sec: s.recovery_signal_rate_per_sec ?? 5,
    recovery_signal_rate_window_sec: s.recovery_signal_rate_window_sec ?? 60,
    recovery_queue_depth_pct: s.recovery_queue_depth_pct ?? 0.25,
    recovery_queue_depth_window_sec: s.recovery_queue_depth_window_sec ?? 30,
  };
}

/**
 * The storm state machine.
 *
 * @example
 * ```ts
 * import { StormController } from "./storm.ts";
 * const c = new StormController({ trigger_signal_rate_per_sec: 1 });
 * c.update({ raw_count: 31, queue_depth: 0, now: 1_000_000 })?.type; // "storm_start"
 * ```
 */
export class StormController {
  readonly #cfg: Required<StormSettings>;
  readonly #capacity: number;
  #inStorm = false;
  #startedAt: number | null = null;
  #endedAt: number | null = null;
  #trigger: RateTracker;
  #recovery: RateTracker;
  #depthSince: number | null = null;
  #recoverySince: number | null = null;
  #lastNow: number | null = null;

  constructor(config: StormSettings = {}, options: StormOptions = {}) {
    this.#cfg = settings(config);
    this.#capacity = options.capacity ?? 256;
    this.#trigger = new RateTracker(this.#cfg.trigger_signal_rate_window_sec);
    this.#recovery = new RateTracker(this.#cfg.recovery_signal_rate_window_sec);
  }

  /**
   * Restore a controller from {@linkcode StormController.state} output.
   *
   * @example
   * ```ts
   * import { StormController } from "./storm.ts";
   * const a = new StormController();
   * const b = StormController.fromState(JSON.parse(JSON.stringify(a.state())));
   * ```
   */
  static fromState(
    state: unknown,
    config: StormSettings = {},
    options: StormOptions = {},
  ): StormController {
    const parsed = StormControllerStateSchema.safeParse(state);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new StormError(
        `storm state: ${issue.path.join(".") || "<root>"}: ${issue.message}`,
        { cause: parsed.error },
      );
    }
    const s = structuredClone(parsed.data);
    const c = new StormController(config, options);
    c.#inStorm = s.in_storm;
    c.#startedAt = s.started_at;
    c.#endedAt = s.ended_at;
    c.#trigger = new RateTracker(c.#cfg.trigger_signal_rate_window_sec, s.trigger_rate).init();
    c.#recovery = new RateTracker(c.#cfg.recovery_signal_rate_window_sec, s.recovery_rate)
      .init();
    c.#depthSince = s.depth_breach_since;
    c.#recoverySince = s.recovery_since;
    c.#lastNow = s.last_now;
    return c;
  }

  /** Whether a storm is in progress. */
  get inStorm(): boolean {
    return this.#inStorm;
  }

  /** DOMAIN §2.7 StormState. */
  get stormState(): StormState {
    return { in_storm: this.#inStorm, started_at: this.#startedAt, ended_at: this.#endedAt };
  }

  /** Current rates (signals/s) of both trackers. */
  get rates(): { trigger: number; recovery: number } {
    return { trigger: this.#trigger.rate(), recovery: this.#recovery.rate() };
  }

  /** A plain-JSON copy of the whole state. */
  state(): StormControllerState {
    return {
      in_storm: this.#inStorm,
      started_at: this.#startedAt,
      ended_at: this.#endedAt,
      trigger_rate: this.#trigger.entries.map(([t, c]) => [t, c]),
      recovery_rate: this.#recovery.entries.map(([t, c]) => [t, c]),
      depth_breach_since: this.#depthSince,
      recovery_since: this.#recoverySince,
      last_now: this.#lastNow,
    };
  }

  /**
   * Feed one update; returns the transition it caused, if any.
   *
   * @example
   * ```ts
   * import { StormController } from "./storm.ts";
   * new StormController().update({ raw_count: 0, queue_depth: 0, now: 0 }); // null
   * ```
   */
  update(input: StormInput): StormEvent | null {
    const { raw_count: count, queue_depth: depth, now } = input;
    if (!Number.isSafeInteger(now)) {
      throw new StormError(`now: expected integer epoch microseconds, received ${now}`);
    }
    if (!(count >= 0) || !Number.isFinite(count)) {
      throw new StormError(`raw_count: expected a finite number ≥ 0, received ${count}`);
    }
    if (!(depth >= 0) || !Number.isFinite(depth)) {
      throw new StormError(`queue_depth: expected a finite number ≥ 0, received ${depth}`);
    }
    if (this.#lastNow !== null && now < this.#lastNow) {
      throw new StormError(
        `now: expected ≥ the previous update (${this.#lastNow}), received ${now}`,
      );
    }
    this.#lastNow = now;
    this.#trigger.add(now, count);
    this.#recovery.add(now, count);
    const depthPct = depth / Math.max(this.#capacity, 1);
    const cfg = this.#cfg;
    if (!this.#inStorm) {
      const rate = this.#trigger.rate();
      let reason: StormStartEvent["reason"] | null = null;
      if (rate > cfg.trigger_signal_rate_per_sec) reason = "signal_rate";
      if (depthPct > cfg.trigger_queue_depth_pct) {
        if (this.#depthSince === null) this.#depthSince = now;
        if (
          reason === null && now - this.#depthSince >= cfg.trigger_queue_depth_window_sec * MICROS
        ) reason = "queue_depth";
      } else this.#depthSince = null;
      if (reason === null) return null;
      this.#inStorm = true;
      this.#startedAt = now;
      this.#endedAt = null;
      this.#depthSince = null;
      this.#recoverySince = null;
      return {
        type: "storm_start",
        started_at: now,
        reason,
        trigger_rate: rate,
        depth_pct: depthPct,
      };
    }
    const rate = this.#recovery.rate();
    if (rate < cfg.recovery_signal_rate_per_sec && depthPct < cfg.recovery_queue_depth_pct) {
      if (this.#recoverySince === null) this.#recoverySince = now;
      if (now - this.#recoverySince >= cfg.recovery_queue_depth_window_sec * MICROS) {
        this.#inStorm = false;
        this.#endedAt = now;
        this.#depthSince = null;
        this.#recoverySince = null;
        return {
          type: "storm_end",
          started_at: this.#startedAt ?? now,
          ended_at: now,
          recovery_rate: rate,
          depth_pct: depthPct,
        };
      }
    } else this.#recoverySince = null;
    return null;
  }

  /**
   * Windowed form (DESIGN §10): raw count, post-merge count (as depth), window end (as now).
   *
   * @example
   * ```ts
   * import { StormController } from "./storm.ts";
   * new StormController().updateWindow({ raw_count: 3, post_merge_count: 2, window_end: 30_000_000 });
   * ```
   */
  updateWindow(
    window: { raw_count: number; post_merge_count: number; window_end: number },
  ): StormEvent | null {
    return this.update({
      raw_count: window.raw_count,
      queue_depth: window.post_merge_count,
      now: window.window_end,
    });
  }
}

/**
 * The storm publish queue: bounded, drop-oldest (DOMAIN §8, DESIGN §10 — the only place
 * besides websocket buffers where drop-oldest applies). `push` returns the dropped item so the
 * caller can count and log its id.
 *
 * @example
 * ```ts
 * import { DropOldestQueue } from "./storm.ts";
 * const q = new DropOldestQueue<string>(2);
 * q.push("a"); q.push("b");
 * q.push("c"); // "a"
 * q.shift(); // "b"
 * ```
 */
export class DropOldestQueue<T> {
  readonly #items: T[] = [];
  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`capacity: expected an integer ≥ 1, received ${capacity}`);
    }
  }
  /** Number of queued items. */
  get length(): number {
    return this.#items.length;
  }
  /** Enqueue; returns the oldest item if it had to be dropped. */
  push(item: T): T | undefined {
    this.#items.push(item);
    return this.#items.length > this.capacity ? this.#items.shift() : undefined;
  }
  /** Dequeue the oldest item. */
  shift(): T | undefined {
    return this.#items.shift();
  }
  /** Remove and return everything, oldest first. */
  drain(): T[] {
    return this.#items.splice(0, this.#items.length);
  }
}
