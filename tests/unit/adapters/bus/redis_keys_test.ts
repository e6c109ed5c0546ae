import {
  partitionToken,
  streamKeyOf,
  streamKeysOf,
  subjectMatcher,
  subjectMatches,
} from "../../../../adapters/bus/redis_keys.ts";
import { assert, assertEquals, assertThrows } from "../../../helpers/assert.ts";

Deno.test("redis keys: a partitioned subject maps to its (family, partition) stream", () => {
  assertEquals(streamKeyOf("augur.snapshots.07.polymarket.m1", 60), "augur:snapshots:07");
  assertEquals(streamKeyOf("augur.snapshots.7.polymarket.m1", 60), "augur:snapshots:07");
  assertEquals(streamKeyOf("augur.features.123.m", 1000), "augur:features:123");
  assertEquals(partitionToken(5, 1000), "005");
});

Deno.test("redis keys: a subject without a numeric third token maps to its family stream", () => {
  assertEquals(streamKeyOf("augur.signals", 60), "augur:signals");
  assertEquals(streamKeyOf("augur.ops.dlq", 60), "augur:ops");
  assertEquals(streamKeyOf("augur.ticks.polymarket", 60), "augur:ticks");
  assertThrows(() => streamKeyOf("augur", 60), TypeError, "<prefix>.<family>");
  assertThrows(() => streamKeyOf("augur.signals.>", 60), TypeError, "without wildcards");
});

Deno.test("redis keys: patterns expand to the streams that may hold their subjects", () => {
  assertEquals(streamKeysOf("augur.snapshots.07.>", 60), ["augur:snapshots:07"]);
  assertEquals(streamKeysOf("augur.signals", 60), ["augur:signals"]);
  assertEquals(streamKeysOf("augur.ops.dlq", 60), ["augur:ops"]);
  const all = streamKeysOf("augur.snapshots.>", 16);
  assertEquals(all.length, 17);
  assertEquals(all[0], "augur:snapshots");
  assertEquals(all[16], "augur:snapshots:15");
  assertThrows(() => streamKeysOf("augur.>", 16), TypeError, "literal prefix and family");
});

Deno.test("redis keys: NATS wildcard matching", () => {
  assert(subjectMatches("augur.snapshots.07.>", "augur.snapshots.07.polymarket.m1"));
  assert(subjectMatches("augur.snapshots.7.>", "augur.snapshots.07.polymarket.m1"));
  assert(!subjectMatches("augur.snapshots.08.>", "augur.snapshots.07.polymarket.m1"));
  assert(subjectMatches("augur.*.07.*.m1", "augur.snapshots.07.polymarket.m1"));
  assert(!subjectMatches("augur.*.07.*", "augur.snapshots.07.polymarket.m1"));
  assert(!subjectMatches("augur.ops.>", "augur.ops"));
  assert(subjectMatches("augur.ops.dlq", "augur.ops.dlq"));
  assert(!subjectMatches("augur.ops.dlq", "augur.ops.events"));
  const match = subjectMatcher("augur.ticks.>");
  assert(match("augur.ticks.polymarket"));
  assert(!match("augur.tick.polymarket"));
  assert(subjectMatcher("augur.signals")("augur.signals"));
  assert(!subjectMatcher("augur.signals")("augur.signals.x"));
});
