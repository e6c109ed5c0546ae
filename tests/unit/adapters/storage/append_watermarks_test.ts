import { assert, assertEquals, assertThrows } from "../../../helpers/assert.ts";
import { AppendWatermarks } from "../../../../adapters/storage/append_watermarks.ts";
import { TABLES } from "../../../../adapters/storage/schema.ts";
import type { WireValue } from "../../../../adapters/storage/codec.ts";

/** A snapshot row with only the key columns set (market_id, platform, timestamp). */
function snap(market: string, platform: string, t: number): WireValue[] {
  const row: WireValue[] = TABLES.snapshots.columns.map(() => null);
  row[0] = market;
  row[1] = platform;
  row[2] = t;
  return row;
}

Deno.test("AppendWatermarks: a batch of new keys in time order per entity is fresh", () => {
  const marks = new AppendWatermarks(TABLES.snapshots);
  assertEquals(marks.entityColumns, ["market_id", "platform"]);
  marks.load([["a", "kalshi", 100]]);
  const batch = marks.inspect([
    snap("a", "kalshi", 101),
    snap("b", "kalshi", 5),
    snap("a", "kalshi", 102),
    snap("a", "polymarket", 50), // same market id, other platform: another entity
  ]);
  assert(batch.fresh);
  assertEquals([...batch.latest], [["a\u0000kalshi", 102], ["b\u0000kalshi", 5], [
    "a\u0000polymarket",
    50,
  ]]);
});

Deno.test("AppendWatermarks: stored, repeated or out-of-order keys are not fresh; marks take the maximum", () => {
  const marks = new AppendWatermarks(TABLES.snapshots);
  marks.load([["a", "kalshi", 100]]);
  assert(!marks.inspect([snap("a", "kalshi", 100)]).fresh, "key stored");
  assert(!marks.inspect([snap("a", "kalshi", 99)]).fresh, "older than stored");
  assert(!marks.inspect([snap("b", "kalshi", 7), snap("b", "kalshi", 7)]).fresh, "repeated");
  const unordered = marks.inspect([snap("b", "kalshi", 9), snap("b", "kalshi", 8)]);
  assert(!unordered.fresh, "out of order");
  assertEquals(unordered.latest.get("b\u0000kalshi"), 9);
  marks.commit(unordered);
  assert(!marks.inspect([snap("b", "kalshi", 9)]).fresh, "committed marks apply");
  assert(marks.inspect([snap("b", "kalshi", 10)]).fresh);
});

Deno.test("AppendWatermarks: marks rise only on commit, never fall, and reset forgets them", () => {
  const marks = new AppendWatermarks(TABLES.ticks);
  marks.load([]);
  const first = marks.inspect([["kalshi", 20, 1]]);
  assert(first.fresh);
  assert(marks.inspect([["kalshi", 20, 1]]).fresh, "not committed: still fresh");
  marks.commit(first);
  assert(!marks.inspect([["kalshi", 20, 1]]).fresh);
  marks.commit(marks.inspect([["kalshi", 10, 1]])); // an older correction
  assert(!marks.inspect([["kalshi", 15, 1]]).fresh, "the mark stays at 20");
  marks.reset();
  assert(!marks.loaded);
  assertThrows(() => marks.inspect([["kalshi", 30, 1]]), Error, "load()");
});

Deno.test("AppendWatermarks: only time-keyed tables", () => {
  assertThrows(() => new AppendWatermarks(TABLES.trades), TypeError, "trades");
  assertEquals(new AppendWatermarks(TABLES.features).entityColumns, ["market_id"]);
});
