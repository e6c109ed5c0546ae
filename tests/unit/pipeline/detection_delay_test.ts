/**
 * Detection delay on the simulator's scripted events (issue "Detection", Must show): the
 * SimulatorSource (seed 42, defaultScenario, 12 markets, 300-s ticks, 13 h — what
 * `deno task demo` runs) goes in-process through the FeaturePipeline, the four per-market
 * detectors (runPerMarketDetectors) and the cross-market divergence detector (observe every
 * snapshot, advanceTo each tick time on its 60-s grid), all with their DOMAIN §5 defaults
 * (= config/detectors.toml). The divergence detector runs as the engine's divergence stage
 * runs it (activity floor off) and, separately, with the DOMAIN SHOULD activity floor on.
 *
 * For every scripted event (bounds: SCRIPTED_DETECTION, minutes after the event start):
 * - its detector fires on its market (divergence: on the pair) within the bound;
 * - that detector never fires on that market (pair) at any time before the event;
 * - a control run with the same seed and no events never fires that detector there at all,
 *   so the detection is caused by the event, not background noise.
 * Why each event is shaped as it is: the module doc of adapters/markets/simulator.ts.
 */
import { assert, assertEquals } from "../../helpers/assert.ts";
import {
  DEFAULT_SCENARIO_SECONDS,
  defaultScenario,
  SCRIPTED_DETECTION,
  type SimEvent,
  SIMULATOR_TICK_SECONDS,
  SimulatorSource,
  simulatorWatchlist,
} from "../../../adapters/markets/simulator.ts";
import { FeaturePipeline } from "../../../pipeline/features.ts";
import { createDetectors, runPerMarketDetectors } from "../../../pipeline/detectors/mod.ts";
import type { SignalType } from "../../../pipeline/models.ts";

const MARKETS = 12;

interface Fire {
  market: string;
  type: SignalType;
  /** Minutes after the simulation start. */
  minute: number;
  related: readonly string[];
}

/** Run the simulator through features and all five detectors; every signal, in order. */
async function run(events: readonly SimEvent[], activityFloor: boolean): Promise<Fire[]> {
  const { relationships } = simulatorWatchlist({ markets: MARKETS });
  const detectors = createDetectors(
    { cross_market: { enforce_activity_floor: activityFloor } },
    { relationships },
  );
  assertEquals(detectors.skippedPairs, []);
  assertEquals(detectors.divergence.pairCount, 2);
  const pipeline = new FeaturePipeline();
  const sim = new SimulatorSource({
    seed: 42,
    markets: MARKETS,
    tickSeconds: SIMULATOR_TICK_SECONDS,
    ticks: Math.ceil(DEFAULT_SCENARIO_SECONDS / SIMULATOR_TICK_SECONDS),
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

/** Does signal `f` belong to event `e` (its detector, its market or pair)? */
function matches(e: SimEvent, f: Fire): boolean {
  if (f.type !== SCRIPTED_DETECTION[e.kind].signal_type) return false;
  if (e.kind === "divergence") {
    const legs = [e.market, e.other];
    return legs.includes(f.market) && f.related.some((r) => legs.includes(r) && r !== f.market);
  }
  return f.market === e.market;
}

interface Row {
  event: SimEvent;
  /** Minutes from the event start to the first matching signal at or after it (null: none). */
  delay: number | null;
  /** Matching signals before the event start. */
  before: number;
  /** Matching signals anywhere in the control run (no events). */
  control: number;
}

const measured = new Map<boolean, Promise<Row[]>>();
function measure(activityFloor: boolean): Promise<Row[]> {
  let rows = measured.get(activityFloor);
  if (rows) return rows;
  rows = (async () => {
    const scenario = defaultScenario();
    const withEvents = await run(scenario, activityFloor);
    const control = await run([], activityFloor);
    const out = scenario.map((event) => {
      const start = event.at_s / 60;
      const first = withEvents.find((f) => f.minute >= start && matches(event, f));
      return {
        event,
        delay: first ? first.minute - start : null,
        before: withEvents.filter((f) => f.minute < start && matches(event, f)).length,
        control: control.filter((f) => matches(event, f)).length,
      };
    });
    const fmt = (v: number | null) => (v === null ? "none" : `${v} min`);
    console.log(
      [
        "",
        `  activity floor ${activityFloor ? "on (DOMAIN SHOULD)" : "off (as the engine)"}; ` +
        `${withEvents.length} signals with events, ${control.length} in the control run`,
        "  event              market        detector                 start   bound    delay    before control",
        ...out.map((r) => {
          const e = r.event;
          const where = e.kind === "divergence" ? `${e.other}/${e.market}` : e.market;
          return `  ${e.kind.padEnd(18)} ${where.padEnd(13)} ${
            SCRIPTED_DETECTION[e.kind].signal_type.padEnd(24)
          } ${`${e.at_s / 3600}h`.padEnd(7)} ${
            `${SCRIPTED_DETECTION[e.kind].bound_s / 60} min`.padEnd(8)
          } ${fmt(r.delay).padEnd(8)} ${String(r.before).padEnd(6)} ${r.control}`;
        }),
        "",
      ].join("\n"),
    );
    return out;
  })();
  measured.set(activityFloor, rows);
  return rows;
}

function assertCaught(rows: Row[]): void {
  assertEquals(rows.length, defaultScenario().length);
  for (const r of rows) {
    const e = r.event;
    const detector = SCRIPTED_DETECTION[e.kind].signal_type;
    const bound = SCRIPTED_DETECTION[e.kind].bound_s / 60;
    const label = `${e.kind} on ${e.market} at ${e.at_s / 3600} h`;
    assert(r.delay !== null, `${label}: ${detector} never fired after it`);
    assert(r.delay <= bound, `${label}: delay ${r.delay} min > bound ${bound} min`);
    assertEquals(r.before, 0, `${label}: ${detector} fired there before the event`);
    assertEquals(r.control, 0, `${label}: ${detector} fires there without any event`);
  }
}

Deno.test("detection delay: every scripted event is caught within its bound, causally (engine config)", async () => {
  assertCaught(await measure(false));
});

Deno.test("detection delay: the same holds with the divergence activity floor on (DOMAIN SHOULD)", async () => {
  assertCaught(await measure(true));
});

Deno.test("detection delay: stated bounds fit the demo run and cover every event kind", () => {
  const kinds = new Set(defaultScenario().map((e) => e.kind));
  assertEquals(kinds.size, 5, "one event per detector");
  for (const e of defaultScenario()) {
    assert(
      e.at_s + SCRIPTED_DETECTION[e.kind].bound_s <= DEFAULT_SCENARIO_SECONDS,
      `${e.kind} at ${e.at_s} s: its bound ends after the run`,
    );
  }
});
