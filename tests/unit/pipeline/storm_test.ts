import { assert, assertEquals, assertThrows } from "../../helpers/assert.ts";
import {
  DropOldestQueue,
  StormController,
  StormError,
  type StormEvent,
} from "../../../pipeline/storm.ts";
import { S, T0 } from "./signal_fixtures.ts";

/** A fake clock: updates at T0 + seconds. */
const at = (seconds: number) => T0 + seconds * S;

Deno.test("storm entry by rate: rate₃₀ > 20/s (strict)", () => {
  const c = new StormController({}, { capacity: 256 });
  assertEquals(c.update({ raw_count: 600, queue_depth: 0, now: at(0) }), null); // exactly 20/s
  assert(!c.inStorm);
  const e = c.update({ raw_count: 1, queue_depth: 0, now: at(1) });
  assertEquals(e?.type, "storm_start");
  assertEquals(e && e.type === "storm_start" ? e.reason : null, "signal_rate");
  assertEquals(c.stormState, { in_storm: true, started_at: at(1), ended_at: null });
});

Deno.test("storm rate tracker evicts entries older than now − 30 s", () => {
  const c = new StormController();
  c.update({ raw_count: 500, queue_depth: 0, now: at(0) });
  // At t = 31 the first 500 are evicted: 200/30 < 20.
  assertEquals(c.update({ raw_count: 200, queue_depth: 0, now: at(31) }), null);
  // At t = 30 they would still count: (500 + 200)/30 > 20 (fresh controller).
  const d = new StormController();
  d.update({ raw_count: 500, queue_depth: 0, now: at(0) });
  assertEquals(d.update({ raw_count: 200, queue_depth: 0, now: at(30) })?.type, "storm_start");
});

Deno.test("storm entry by queue depth held ≥ 10 s; a dip resets the timer", () => {
  const c = new StormController({}, { capacity: 100 });
  assertEquals(c.update({ raw_count: 0, queue_depth: 76, now: at(0) }), null);
  assertEquals(c.update({ raw_count: 0, queue_depth: 80, now: at(9) }), null);
  assertEquals(c.update({ raw_count: 0, queue_depth: 75, now: at(9.5) }), null); // not > 0.75
  assertEquals(c.update({ raw_count: 0, queue_depth: 90, now: at(10) }), null); // timer restarted
  assertEquals(c.update({ raw_count: 0, queue_depth: 90, now: at(19) }), null);
  const e = c.update({ raw_count: 0, queue_depth: 90, now: at(20) });
  assertEquals(e?.type, "storm_start");
  assertEquals(e && e.type === "storm_start" ? e.reason : null, "queue_depth");
  assertEquals(e && e.type === "storm_start" ? e.depth_pct : null, 0.9);
});

Deno.test("storm exit: rate₆₀ < 5/s and depth < 25 % both held ≥ 30 s (shared timer)", () => {
  const c = new StormController({}, { capacity: 100 });
  c.update({ raw_count: 1000, queue_depth: 0, now: at(0) });
  assert(c.inStorm);
  // 1000/60 ≥ 5 until the burst leaves the 60 s window (evicted at t > 60).
  assertEquals(c.update({ raw_count: 0, queue_depth: 0, now: at(30) }), null);
  assertEquals(c.update({ raw_count: 0, queue_depth: 0, now: at(61) }), null); // timer starts
  assertEquals(c.update({ raw_count: 0, queue_depth: 30, now: at(70) }), null); // depth ≥ 25 %: reset
  assertEquals(c.update({ raw_count: 0, queue_depth: 10, now: at(71) }), null); // restart
  assertEquals(c.update({ raw_count: 0, queue_depth: 10, now: at(100) }), null); // 29 s
  const e = c.update({ raw_count: 0, queue_depth: 10, now: at(101) });
  assertEquals(e?.type, "storm_end");
  assertEquals(
    e && e.type === "storm_end" ? [e.started_at, e.ended_at] : null,
    [at(0), at(101)],
  );
  assertEquals(c.stormState, { in_storm: false, started_at: at(0), ended_at: at(101) });
  // A new storm can start again afterwards.
  assertEquals(c.update({ raw_count: 700, queue_depth: 0, now: at(102) })?.type, "storm_start");
});

Deno.test("storm does not end while the 60 s rate stays ≥ 5/s", () => {
  const c = new StormController();
  c.update({ raw_count: 1000, queue_depth: 0, now: at(0) });
  for (let t = 10; t <= 300; t += 10) {
    assertEquals(c.update({ raw_count: 50, queue_depth: 0, now: at(t) }), null); // 300/60 = 5
  }
  assert(c.inStorm);
});

Deno.test("storm thresholds come from config", () => {
  const c = new StormController({
    trigger_signal_rate_per_sec: 1,
    trigger_signal_rate_window_sec: 10,
    recovery_signal_rate_per_sec: 0.5,
    recovery_signal_rate_window_sec: 20,
    recovery_queue_depth_window_sec: 5,
  });
  assertEquals(c.update({ raw_count: 10, queue_depth: 0, now: at(0) }), null);
  assertEquals(c.update({ raw_count: 1, queue_depth: 0, now: at(1) })?.type, "storm_start");
  assertEquals(c.update({ raw_count: 0, queue_depth: 0, now: at(21) }), null);
  assertEquals(c.update({ raw_count: 0, queue_depth: 0, now: at(26) })?.type, "storm_end");
});

Deno.test("storm state round-trips through JSON: a resumed controller emits the same events", () => {
  const inputs = [
    [700, 0, 0],
    [10, 0, 30],
    [0, 0, 61],
    [0, 0, 80],
    [0, 0, 91],
    [800, 0, 95],
    [0, 200, 200],
    [0, 200, 205],
    [0, 200, 215],
  ].map(([raw_count, queue_depth, t]) => ({ raw_count, queue_depth, now: at(t) }));
  const straight = new StormController();
  const expected: (StormEvent | null)[] = inputs.map((i) => straight.update(i));
  assertEquals(expected.filter((e) => e !== null).map((e) => e!.type), [
    "storm_start",
    "storm_end",
    "storm_start",
  ]);
  // Fail over after every update.
  let c = new StormController();
  const got: (StormEvent | null)[] = [];
  for (const i of inputs) {
    got.push(c.update(i));
    c = StormController.fromState(JSON.parse(JSON.stringify(c.state())));
  }
  assertEquals(got, expected);
  assertEquals(c.state(), straight.state());
  assertThrows(() => StormController.fromState({ in_storm: "yes" }), StormError, "in_storm");
});

Deno.test("storm windowed form: raw count, post-merge count as depth, window end as now", () => {
  const c = new StormController({}, { capacity: 10 });
  assertEquals(c.updateWindow({ raw_count: 3, post_merge_count: 8, window_end: at(30) }), null);
  const e = c.updateWindow({ raw_count: 3, post_merge_count: 8, window_end: at(60) });
  assertEquals(e?.type, "storm_start"); // 80 % held 30 s ≥ 10 s
  assertThrows(() => c.update({ raw_count: 0, queue_depth: 0, now: at(59) }), StormError, "now");
  assertThrows(() => c.update({ raw_count: -1, queue_depth: 0, now: at(61) }), StormError);
});

Deno.test("DropOldestQueue drops and returns the oldest when full", () => {
  const q = new DropOldestQueue<number>(2);
  assertEquals(q.push(1), undefined);
  assertEquals(q.push(2), undefined);
  assertEquals(q.push(3), 1);
  assertEquals(q.length, 2);
  assertEquals(q.drain(), [2, 3]);
  assertThrows(() => new DropOldestQueue(0), RangeError);
});
