import { assertEquals } from "../../helpers/assert.ts";
import { matchScriptedEvents } from "../../../cli/run_engine.ts";
import type { SimEvent } from "../../../adapters/markets/simulator.ts";
import type { MarketSignal, SignalType } from "../../../pipeline/models.ts";

const S = 1_000_000;

function signal(
  id: string,
  type: SignalType,
  market: string,
  atS: number,
  related: string[] = [],
): MarketSignal {
  return {
    signal_id: id,
    market_id: market,
    signal_type: type,
    detected_at: atS * S,
    related_market_ids: related,
  } as unknown as MarketSignal;
}

Deno.test("demo report: an event counts only with its signal type on its market within [start, start + bound]", () => {
  const jump: SimEvent = { kind: "news_jump", market: "m1", at_s: 1000, delta: 0.1 };
  const match = (signals: MarketSignal[]) => matchScriptedEvents([jump], signals, 0)[0];
  // bound for news_jump is 600 s
  assertEquals(match([signal("a", "price_velocity", "m1", 999)]).signal, null, "before start");
  assertEquals(match([signal("a", "price_velocity", "m1", 1601)]).signal, null, "after bound");
  assertEquals(match([signal("a", "volume_spike", "m1", 1100)]).signal, null, "wrong type");
  assertEquals(match([signal("a", "price_velocity", "m2", 1100)]).signal, null, "wrong market");
  const hit = match([
    signal("late", "price_velocity", "m1", 1600),
    signal("early", "price_velocity", "m1", 1000),
  ]);
  assertEquals([hit.signal?.signal_id, hit.delay_s], ["early", 0], "the first in the window");
});

Deno.test("demo report: a divergence counts on market_a or a related leg of the pair", () => {
  const div: SimEvent = {
    kind: "divergence",
    market: "b",
    other: "a",
    at_s: 0,
    duration_s: 60,
    gap: 0.1,
  };
  const type = "cross_market_divergence";
  const match = (s: MarketSignal) => matchScriptedEvents([div], [s], 0)[0].signal?.signal_id;
  assertEquals(match(signal("x", type, "a", 60, ["b"])), "x");
  assertEquals(match(signal("y", type, "c", 60, ["b"])), "y");
  assertEquals(match(signal("z", type, "c", 60, ["d"])), undefined);
});
