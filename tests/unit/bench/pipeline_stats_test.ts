/**
 * The arithmetic of the distributed benchmark (bench/pipeline_stats.ts): nearest-rank
 * percentiles, tick publish times per platform, the pollers' publish rate and throughput.
 */
import { assert, assertEquals, assertThrows } from "../../helpers/assert.ts";
import {
  percentile,
  summarize,
  throughputSince,
  TickTimes,
} from "../../../bench/pipeline_stats.ts";

Deno.test("percentile: nearest rank on an unsorted sample; NaN when empty; q checked", () => {
  const values = [50, 10, 40, 20, 30];
  assertEquals(percentile(values, 0), 10);
  assertEquals(percentile(values, 0.5), 30);
  assertEquals(percentile(values, 0.8), 40);
  assertEquals(percentile(values, 0.81), 50);
  assertEquals(percentile(values, 1), 50);
  assertEquals(values, [50, 10, 40, 20, 30], "the sample is not reordered");
  assert(Number.isNaN(percentile([], 0.5)));
  assertThrows(() => percentile(values, 1.5), RangeError);
  const hundred = Array.from({ length: 100 }, (_, i) => 100 - i);
  assertEquals(summarize(hundred), { n: 100, p50: 50, p99: 99, max: 100 });
  assertEquals(summarize([]).n, 0);
});

const T = 300_000_000; // one 300-s tick, µs
const ticks = new TickTimes([
  { platform: "kalshi", t: 2 * T, announced: 4, publishedAtMs: 1_600 },
  { platform: "polymarket", t: T, announced: 6, publishedAtMs: 1_000 },
  { platform: "kalshi", t: T, announced: 4, publishedAtMs: 1_300 },
  { platform: "polymarket", t: 2 * T, announced: 6, publishedAtMs: 1_500 },
  { platform: "polymarket", t: 3 * T, announced: 6, publishedAtMs: 2_000 },
]);

Deno.test("tick times: per platform by T; data published = latest platform's next tick", () => {
  assertEquals(ticks.platforms, ["kalshi", "polymarket"]);
  assertEquals(ticks.ticksOf("kalshi").map((t) => t.t), [T, 2 * T], "sorted by T");
  assertEquals(ticks.publishedAt("kalshi", 2 * T), 1_600);
  assertEquals(ticks.publishedAt("kalshi", 3 * T), undefined);
  assertEquals(ticks.publishedAt("kalshi", T + 1), undefined, "exact T only");
  // A signal at T waits for both platforms' tick T; one between ticks for the next ones.
  assertEquals(ticks.dataPublishedAt(T), 1_300);
  assertEquals(ticks.dataPublishedAt(T + 60_000_000), 1_600);
  // Past kalshi's last tick, only polymarket still has one.
  assertEquals(ticks.dataPublishedAt(3 * T), 2_000);
  assertEquals(ticks.dataPublishedAt(4 * T), undefined);
  assertEquals(ticks.allPublishedAt(0), 1_300);
  assertEquals(ticks.allPublishedAt(1), 1_600);
  assertEquals(ticks.allPublishedAt(2), undefined, "kalshi has two ticks");
});

Deno.test("publish rate: per platform after its first tick, summed; throughput since a start", () => {
  // polymarket: 12 snapshots over 1 s; kalshi: 4 over 0.3 s.
  assertEquals(ticks.publishRate(), 12 + 4 / 0.3);
  assert(Number.isNaN(new TickTimes([]).publishRate()));
  assert(
    Number.isNaN(
      new TickTimes([{ platform: "kalshi", t: T, announced: 1, publishedAtMs: 5 }]).publishRate(),
    ),
  );
  assertEquals(throughputSince(1_000, [1_200, 3_000, 2_000, 1_500]), 2);
  assert(Number.isNaN(throughputSince(1_000, [])));
  assert(Number.isNaN(throughputSince(1_000, [900])));
});
