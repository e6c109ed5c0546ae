import { assert, assertEquals, assertThrows } from "../../helpers/assert.ts";
import {
  decodeToken,
  encodeToken,
  partitionWidth,
  SUBJECT_FAMILIES,
  SubjectError,
  Subjects,
} from "../../../runtime/subjects.ts";
import { partitionOf } from "../../../pipeline/partition.ts";

const s = new Subjects({ prefix: "augur", partitions: 60 });

Deno.test("builders follow the DESIGN §10 grammar", () => {
  assertEquals(s.snapshots(7, "kalshi", "kalshi_fed"), "augur.snapshots.07.kalshi.kalshi_fed");
  assertEquals(s.features(0, "kalshi_fed"), "augur.features.00.kalshi_fed");
  assertEquals(
    s.candidates(59, "price_velocity_bocpd_beta_v1"),
    "augur.candidates.59.price_velocity_bocpd_beta_v1",
  );
  assertEquals(s.flagged(7), "augur.flagged_signals.07");
  assertEquals(s.calibrated(7), "augur.calibrated_signals.07");
  assertEquals(s.divergence(), "augur.divergence");
  assertEquals(s.ticks("polymarket"), "augur.ticks.polymarket");
  assertEquals(s.signals(), "augur.signals");
  assertEquals(s.contexts(), "augur.contexts");
  assertEquals(s.briefs("markdown"), "augur.briefs.markdown");
  assertEquals(s.writes("snapshots"), "augur.writes.snapshots");
  assertEquals(s.opsEvents(), "augur.ops.events");
  assertEquals(s.opsDlq(), "augur.ops.dlq");
  assertEquals(new Subjects({ prefix: "x" }).signals(), "x.signals");
});

Deno.test("partition token width follows P", () => {
  assertEquals(partitionWidth(1), 2);
  assertEquals(partitionWidth(60), 2);
  assertEquals(partitionWidth(100), 2);
  assertEquals(partitionWidth(101), 3);
  assertEquals(new Subjects({ partitions: 1000 }).flagged(7), "augur.flagged_signals.007");
  assertThrows(() => s.flagged(60), SubjectError, "0..59");
  assertThrows(() => s.flagged(-1), SubjectError);
  assertThrows(() => s.flagged(1.5), SubjectError);
});

Deno.test("partitionOf is FNV-1a 64 mod P", () => {
  assertEquals(s.partitionOf("kalshi_fed"), partitionOf("kalshi_fed", 60));
  assertEquals(new Subjects({ partitions: 7 }).partitionOf("kalshi_fed"), 2); // DOMAIN §14
});

Deno.test("patterns: one filter per partition, one per family", () => {
  assertEquals(s.partitionPattern("snapshots", 7), "augur.snapshots.07.>");
  assertEquals(s.partitionPattern("features", 7), "augur.features.07.>");
  assertEquals(s.partitionPattern("candidates", 7), "augur.candidates.07.>");
  assertEquals(s.partitionPattern("flagged_signals", 7), "augur.flagged_signals.07");
  assertEquals(s.familyPattern("snapshots"), "augur.snapshots.>");
  assertEquals(s.familyPattern("flagged_signals"), "augur.flagged_signals.>");
  assertEquals(s.familyPattern("ticks"), "augur.ticks.>");
  assertEquals(s.familyPattern("signals"), "augur.signals");
  assertEquals(s.familyPattern("ops.dlq"), "augur.ops.dlq");
  assertEquals(s.marker("snapshots", 7), "augur.snapshots.07.~tick");
  assertEquals(s.marker("calibrated_signals", 7), "augur.calibrated_signals.07");
});

Deno.test("market ids: plain ids pass, every other byte is ~XX", () => {
  assertEquals(encodeToken("kalshi_fed-2"), "kalshi_fed-2");
  assertEquals(encodeToken("FED.26JUN"), "FED~2E26JUN");
  assertEquals(encodeToken("a*b>c d"), "a~2Ab~3Ec~20d");
  assertEquals(encodeToken("~"), "~7E");
  assertEquals(encodeToken("é"), "~C3~A9");
  assertEquals(encodeToken("🦉"), "~F0~9F~A6~89");
  assertThrows(() => encodeToken(""), SubjectError);
});

Deno.test("encoding round-trips, including unicode and . * > ~", () => {
  const ids = [
    "kalshi_fed",
    "KXCPIYOY-26MAY-T3.0",
    "0x6a0f4d1b6c5e7f2a",
    "a.b.c",
    "*",
    ">",
    "a.*.>",
    "~41",
    "~~",
    "spaces and\ttabs",
    "Ünïcödé — 市場 🦉",
    "%2E/\\:",
  ];
  for (const id of ids) {
    const token = encodeToken(id);
    assert(/^[A-Za-z0-9_~-]+$/.test(token), token);
    assertEquals(decodeToken(token), id);
    const subject = s.snapshots(3, "polymarket", id);
    assertEquals(subject.split(".").length, 5, subject);
    const parsed = s.parse(subject);
    assertEquals(parsed?.market, id);
    assertEquals(parsed?.platform, "polymarket");
    assertEquals(parsed?.partition, 3);
  }
});

Deno.test("decoding accepts only the canonical encoding", () => {
  assertThrows(() => decodeToken("~41"), SubjectError, "plain character"); // 'A' escaped
  assertThrows(() => decodeToken("~2e"), SubjectError, "uppercase hex");
  assertThrows(() => decodeToken("~2"), SubjectError);
  assertThrows(() => decodeToken("a.b"), SubjectError, "unexpected character");
  assertThrows(() => decodeToken("~C3"), SubjectError, "not UTF-8");
  assertThrows(() => decodeToken("~tick"), SubjectError);
});

Deno.test("parse and family extraction", () => {
  assertEquals(s.parse("augur.features.07.FED~2E26JUN"), {
    family: "features",
    partition: 7,
    marker: false,
    market: "FED.26JUN",
  });
  assertEquals(s.parse("augur.candidates.07.~tick"), {
    family: "candidates",
    partition: 7,
    marker: true,
  });
  assertEquals(s.parse("augur.briefs.json")?.format, "json");
  assertEquals(s.parse("augur.writes.signals")?.table, "signals");
  assertEquals(s.familyOf("augur.ops.dlq"), "ops.dlq");
  assertEquals(s.familyOf("augur.snapshots.07.kalshi.x"), "snapshots");
  assertEquals(s.familyOf("other.snapshots.07.kalshi.x"), undefined);
  assertEquals(s.familyOf("augur.snapshots.7.kalshi.x"), undefined); // unpadded
  assertEquals(s.familyOf("augur.snapshots.60.kalshi.x"), undefined); // out of range
  assertEquals(s.familyOf("augur.snapshots.07.kalshi"), undefined); // missing market
  assertEquals(s.familyOf("augur.signals.extra"), undefined);
  assertEquals(s.familyOf("augur.nope"), undefined);
  for (const family of SUBJECT_FAMILIES) {
    const pattern = s.familyPattern(family);
    assert(pattern.startsWith(`augur.${family}`), pattern);
  }
});

Deno.test("Redis stream keys: one per (family, partition), else per family", () => {
  assertEquals(s.redisStreamKey("augur.snapshots.07.kalshi.kalshi_fed"), "augur:snapshots:07");
  assertEquals(s.redisStreamKey("augur.flagged_signals.07"), "augur:flagged_signals:07");
  assertEquals(s.redisStreamKey("augur.candidates.07.~tick"), "augur:candidates:07");
  assertEquals(s.redisPartitionKey("features", 7), "augur:features:07");
  assertEquals(s.redisStreamKey("augur.signals"), "augur:signals");
  assertEquals(s.redisStreamKey("augur.ticks.kalshi"), "augur:ticks");
  assertEquals(s.redisStreamKey("augur.ops.dlq"), "augur:ops");
  assertEquals(s.natsStreamName("snapshots"), "augur_snapshots");
  assertEquals(s.natsStreamName("ops.events", "prod"), "prod_ops");
  assertThrows(() => s.redisStreamKey("elsewhere.x"), SubjectError);
});

Deno.test("fromConfig takes the prefix and P from bus.toml", () => {
  const fromConfig = Subjects.fromConfig({
    bus: { nats: { subject_prefix: "aug" }, backend: { partitions: 120 } },
  });
  assertEquals(fromConfig.features(7, "m"), "aug.features.007.m");
  assertThrows(() => new Subjects({ prefix: "a.b" }), SubjectError);
  assertThrows(() => new Subjects({ partitions: 0 }), SubjectError);
});
