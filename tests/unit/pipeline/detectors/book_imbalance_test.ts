import { BookImbalanceDetector } from "../../../../pipeline/detectors/book_imbalance.ts";
import { assertAlmostEquals, assertEquals, assertThrows } from "../../../helpers/assert.ts";
import { SEC, T0 } from "../../../helpers/detector_inputs.ts";
import {
  assertRoundTrip,
  feed,
  type Tick,
  tickSeries,
} from "../../../helpers/detector_roundtrip.ts";

function ticks(
  ratios: (number | null)[],
  over: { closes_at?: number | null; liquidity?: number[] } = {},
): Tick[] {
  return tickSeries(ratios, (r, i) => ({
    feature: { bid_ask_ratio: r },
    snapshot: { closes_at: over.closes_at ?? null, liquidity: over.liquidity?.[i] ?? 20_000 },
  }));
}

Deno.test("book_imbalance: 3 bid-heavy snapshots fire bullish; ask-heavy fire bearish", () => {
  const bull = feed(new BookImbalanceDetector(), ticks([0.5, 0.8, 0.8, 0.8]));
  assertEquals(bull.map(([i]) => i), [3]);
  const s = bull[0][1];
  assertEquals([s.direction, s.window_seconds], [1, 180]);
  assertAlmostEquals(s.magnitude, 0.6, 1e-12);
  assertEquals(s.raw_features.liquidity, 20_000);
  const bear = feed(new BookImbalanceDetector(), ticks([0.2, 0.1, 0.28]));
  assertEquals(bear.map(([i]) => [i, bear[0][1].direction]), [[2, -1]]);
  assertAlmostEquals(bear[0][1].magnitude, 0.44, 1e-12);
});

Deno.test("book_imbalance: interrupted or balanced books never fire", () => {
  assertEquals(feed(new BookImbalanceDetector(), ticks([0.8, 0.8, 0.5, 0.8, 0.8, 0.2, 0.8])), []);
  assertEquals(feed(new BookImbalanceDetector(), ticks(Array(100).fill(0.6))), []);
});

Deno.test("book_imbalance: fires once per persistence run (counts reset after firing)", () => {
  const fired = feed(new BookImbalanceDetector(), ticks(Array(8).fill(0.9)));
  assertEquals(fired.map(([i]) => i), [2, 5]);
});

Deno.test("book_imbalance: thin book resets counts; null ratio keeps them", () => {
  const thin = ticks([0.8, 0.8, 0.8, 0.8], { liquidity: [20_000, 20_000, 4_999, 20_000] });
  assertEquals(feed(new BookImbalanceDetector(), thin), []);
  assertEquals(feed(new BookImbalanceDetector(), ticks([0.8, 0.8, null, 0.8])).map(([i]) => i), [
    3,
  ]);
});

Deno.test("book_imbalance: never inside the resolution window", () => {
  assertEquals(
    feed(new BookImbalanceDetector(), ticks(Array(6).fill(0.9), { closes_at: T0 + 3600 * SEC })),
    [],
  );
});

Deno.test("book_imbalance: warm-up = persistence_snapshots", () => {
  const d = new BookImbalanceDetector({ persistence_snapshots: 5 });
  assertEquals(d.warmupRequired(), 5);
  assertEquals(feed(d, ticks(Array(5).fill(0.9))).map(([i]) => i), [4]);
});

Deno.test("book_imbalance: state round-trip mid-stream gives identical outputs", () => {
  const rs = Array.from({ length: 40 }, (_, i) => (i % 7 < 4 ? 0.85 : i % 7 === 4 ? 0.5 : 0.1));
  assertRoundTrip(() => new BookImbalanceDetector(), ticks(rs), 9);
});

Deno.test("book_imbalance: thresholds are validated", () => {
  assertThrows(() => new BookImbalanceDetector({ bullish_threshold: 0.5 }), Error, "(0.5, 1]");
  assertThrows(() => new BookImbalanceDetector({ bearish_threshold: 0.5 }), Error, "[0, 0.5)");
});
