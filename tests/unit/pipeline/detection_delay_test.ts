/**
 * Detection delay on the simulator's scripted events (issue "Detection", Must show): the
 * SimulatorSource (seed 42, defaultScenario, 12 markets, 60-s ticks, 16 h) runs in-process
 * through the FeaturePipeline, the four per-market detectors (runPerMarketDetectors) and the
 * cross-market divergence detector (observe every snapshot, advanceTo each tick time on its
 * 60-s grid), all with their DOMAIN §5 defaults (= config/detectors.toml). For every scripted
 * event the delay is the time from the event start to the first signal of its detector on its
 * market. The same seed without any event (a control run) gives the delay at which the
 * detector would have fired anyway, so a "detection" that is only background noise is visible.
 *
 * Stated bounds (minutes after the event start, 60-s ticks):
 * - book_imbalance → book_imbalance ≤ 5 (persistence 3 snapshots ⇒ 2 expected)
 * - volume_spike → volume_spike ≤ 10
 * - divergence → cross_market_divergence on the pair (signal on market_a) ≤ 30 (the 240-point
 *   Spearman window must absorb the gap)
 * - news_jump → price_velocity ≤ 10 (BOCPD must see the change within 5 ticks)
 * - volatility_regime → regime_shift ≤ 60
 *
 * Outcome with the DOMAIN math (measured and printed as a table; the math is not changed here):
 * - book_imbalance: caught 2 min after the start (3-snapshot persistence), nothing before it,
 *   and the control run never fires — asserted against its bound.
 * - divergence: cross_market_divergence fires within its bound, but it fires on this pair in
 *   the control run at the same minute too (and ~70 times in the 2 h before the event): with
 *   n = 240 autocorrelated price LEVELS and SE = 1/√(n − 3), ρ of a null related pair differs
 *   "significantly" from atanh(0.9), so it fires whenever the activity floor lets it. Asserted
 *   within bound; not attributable to the event.
 * - news_jump → price_velocity: MISSED. §5.1 feeds the BOCPD only the sign x = [p > EWMA μ];
 *   a jump yields a run of x = 1 that is flagged within 5 ticks only after a long homogeneous
 *   run of x = 0. On a random walk the jump size is irrelevant (≈ 16 % recall for ±0.15 jumps
 *   at random times, the chance level of its ~1/h background rate).
 * - volume_spike → volume_spike: MISSED. §4 volume_ratio_1h = mean of volume_24h over the last
 *   60 snapshots / B, with B an EWMA of volume_24h of ≈ 20 snapshots: while volume_24h RISES,
 *   B rises faster than the 60-snapshot mean, so volume_ratio_1h FALLS (0.976 at the peak of
 *   the ×8 spike) and the one-sided z ≥ 1.65 cannot fire; it fires when volume_24h falls.
 * - volatility_regime → regime_shift: MISSED. Its input volatility_1h (a 60-snapshot rolling
 *   std) is strongly autocorrelated, so the CUSUM sums (never reset during dormancy) stay above
 *   h = 4σ from ~1.5 h on, and every breach re-arms the 6-h dormancy (§5.5): it never fires.
 * The misses are pinned (second test) so a change that fixes one is noticed: move the event
 * to CAUSAL with its bound then.
 */
import { assert, assertEquals } from "../../helpers/assert.ts";
import {
  defaultScenario,
  type SimEvent,
  SimulatorSource,
  simulatorWatchlist,
} from "../../../adapters/markets/simulator.ts";
import { FeaturePipeline } from "../../../pipeline/features.ts";
import { createDetectors, runPerMarketDetectors } from "../../../pipeline/detectors/mod.ts";
import type { SignalType } from "../../../pipeline/models.ts";

const MARKETS = 12;
const HOURS = 16;
const TICK_S = 60;

interface Fire {
  market: string;
  type: SignalType;
  /** Minutes after the simulation start. */
  minute: number;
  related: readonly string[];
}

/** Run the simulator through features and all five detectors; every signal, in order. */
async function run(events: readonly SimEvent[]): Promise<Fire[]> {
  const { relationships } = simulatorWatchlist({ markets: MARKETS });
  const detectors = createDetectors({}, { relationships });
  assertEquals(detectors.skippedPairs, []);
  const pipeline = new FeaturePipeline();
  const sim = new SimulatorSource({
    seed: 42,
    markets: MARKETS,
    tickSeconds: TICK_S,
    ticks: HOURS * 3600 / TICK_S,
    events,
  });
  const fires: Fire[] = [];
  const push = (
    s: {
      market_id: string;
      signal_type: SignalType;
      detected_at: number;
      related_market_ids: readonly string[];
    },
  ) =>
    fires.push({
      market: s.market_id,
      type: s.signal_type,
      minute: (s.detected_at - sim.start) / 60e6,
      related: s.related_market_ids,
    });
  let pendingT: number | null = null;
  for await (const tick of sim) {
    // both platforms' ticks of one T are observed before the divergence grid advances to T
    if (pendingT !== null && tick.T !== pendingT) {
      detectors.divergence.advanceTo(pendingT).forEach(push);
    }
    pendingT = tick.T;
    for (const m of tick.messages) {
      const feature = pipeline.update(m.snapshot, {
        bid_depth: m.bid_depth,
        ask_depth: m.ask_depth,
      });
      detectors.divergence.observe(m.snapshot, feature);
      if (!feature) continue;
      runPerMarketDetectors(detectors.perMarket, {
        market_id: m.snapshot.market_id,
        feature,
        snapshot: m.snapshot,
        now: tick.T,
      }).forEach(push);
    }
  }
  if (pendingT !== null) detectors.divergence.advanceTo(pendingT).forEach(push);
  return fires;
}

const DETECTOR_OF: Record<SimEvent["kind"], SignalType> = {
  news_jump: "price_velocity",
  volume_spike: "volume_spike",
  book_imbalance: "book_imbalance",
  volatility_regime: "regime_shift",
  divergence: "cross_market_divergence",
};

/** Stated delay bound per event kind, minutes. */
const BOUND_MIN: Record<SimEvent["kind"], number> = {
  news_jump: 10,
  volume_spike: 10,
  book_imbalance: 5,
  volatility_regime: 60,
  divergence: 30,
};

/** Caught by their detector, within bound, attributable to the event (module doc). */
const CAUSAL = new Set<SimEvent["kind"]>(["book_imbalance"]);
/** Their detector fires within bound, but as early in the control run (module doc). */
const NOISE_LEVEL = new Set<SimEvent["kind"]>(["divergence"]);
const DETECTABLE = new Set<SimEvent["kind"]>([...CAUSAL, ...NOISE_LEVEL]);

/** Does signal `f` belong to event `e` (its detector, its market or pair)? */
function matches(e: SimEvent, f: Fire): boolean {
  if (f.type !== DETECTOR_OF[e.kind]) return false;
  if (e.kind === "divergence") {
    const legs = [e.market, e.other];
    return legs.includes(f.market) && f.related.some((r) => legs.includes(r) && r !== f.market);
  }
  return f.market === e.market;
}

/** Minutes from the event start to the first matching signal at or after it (null: none). */
function delayOf(e: SimEvent, fires: readonly Fire[]): number | null {
  const start = e.at_s / 60;
  const first = fires.find((f) => f.minute >= start && matches(e, f));
  return first ? first.minute - start : null;
}

interface Row {
  event: SimEvent;
  delay: number | null;
  control: number | null;
  before: number;
}

let rows: Row[] | null = null;
async function measure(): Promise<Row[]> {
  if (rows) return rows;
  const scenario = defaultScenario();
  const [withEvents, control] = [await run(scenario), await run([])];
  rows = scenario.map((event) => ({
    event,
    delay: delayOf(event, withEvents),
    control: delayOf(event, control),
    // signals of the same detector on the same market/pair in the 2 h before the event
    before:
      withEvents.filter((f) =>
        matches(event, f) && f.minute < event.at_s / 60 && f.minute >= event.at_s / 60 - 120
      ).length,
  }));
  const fmt = (v: number | null) => (v === null ? "none" : `${v} min`);
  console.log(
    [
      "",
      "  event              market        detector                 start   bound    delay    control  2h-before outcome",
      ...rows.map((r) => {
        const where = r.event.kind === "divergence"
          ? `${r.event.other}/${r.event.market}`
          : r.event.market;
        return `  ${r.event.kind.padEnd(18)} ${where.padEnd(13)} ${
          DETECTOR_OF[r.event.kind].padEnd(24)
        } ${`${r.event.at_s / 3600}h`.padEnd(7)} ${`${BOUND_MIN[r.event.kind]} min`.padEnd(8)} ${
          fmt(r.delay).padEnd(8)
        } ${fmt(r.control).padEnd(8)} ${String(r.before).padEnd(4)} ${
          CAUSAL.has(r.event.kind)
            ? "caught"
            : NOISE_LEVEL.has(r.event.kind)
            ? "fires, not attributable (control too)"
            : "MISSED (DOMAIN math, see doc)"
        }`;
      }),
      "",
    ].join("\n"),
  );
  return rows;
}

Deno.test("detection delay: each detectable scripted event fires its detector within its bound", async () => {
  const measured = await measure();
  assertEquals(measured.length, defaultScenario().length);
  for (const r of measured.filter((x) => DETECTABLE.has(x.event.kind))) {
    const label = `${r.event.kind} on ${r.event.market} at ${r.event.at_s / 3600} h`;
    assert(r.delay !== null, `${label}: ${DETECTOR_OF[r.event.kind]} never fired after it`);
    assert(
      r.delay <= BOUND_MIN[r.event.kind],
      `${label}: delay ${r.delay} min > bound ${BOUND_MIN[r.event.kind]} min`,
    );
  }
  // causal detections: nothing in the 2 h before the event, nothing as early in the control run
  for (const r of measured.filter((x) => CAUSAL.has(x.event.kind))) {
    assertEquals(r.before, 0, `${r.event.kind} on ${r.event.market} fired before its event`);
    assert(
      r.control === null || r.control > r.delay!,
      `${r.event.kind} on ${r.event.market}: the control run fires as early (${r.control} min)`,
    );
  }
});

Deno.test("detection delay: the known misses are pinned (price velocity, volume spike, regime shift)", async () => {
  const measured = await measure();
  for (const r of measured.filter((x) => !DETECTABLE.has(x.event.kind))) {
    const label = `${r.event.kind} on ${r.event.market}`;
    assert(
      r.delay === null || r.delay > BOUND_MIN[r.event.kind],
      `${label}: ${DETECTOR_OF[r.event.kind]} now fires within ${r.delay} min — move it to CAUSAL`,
    );
  }
});
