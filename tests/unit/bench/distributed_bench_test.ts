/**
 * The pure parts of the end-to-end distributed benchmark (bench/distributed_bench.ts): its
 * command line, the offered load → markets mapping, and the rows of a measured point — a
 * missed throughput target is SHORT, never a gross regression that would fail the CI smoke.
 */
import { assert, assertEquals, assertThrows } from "../../helpers/assert.ts";
import {
  marketsFor,
  parseArgs,
  type PointResult,
  pointRows,
} from "../../../bench/distributed_bench.ts";
import { assertBenchRows, verdict } from "../../../bench/bench_row.ts";
import { UsageError } from "../../../config/errors.ts";

Deno.test("distributed bench: command line", () => {
  assertEquals(parseArgs([]), {
    quick: false,
    buses: undefined,
    loads: undefined,
    seconds: undefined,
  });
  assertEquals(parseArgs(["--quick", "--bus", "redis", "--loads=1k,2500", "--seconds", "4"]), {
    quick: true,
    buses: ["redis"],
    loads: [1000, 2500],
    seconds: 4,
  });
  assertThrows(() => parseArgs(["--bus", "kafka"]), UsageError, "nats or redis");
  assertThrows(() => parseArgs(["--loads", "0"]), UsageError, "positive");
  assertThrows(() => parseArgs(["--loads"]), UsageError, "expected a value");
  assertThrows(() => parseArgs(["--fast"]), UsageError, "unknown argument");
});

Deno.test("distributed bench: markets per load at 4 ticks/s, half per platform", () => {
  assertEquals(marketsFor(1000), 250);
  assertEquals(marketsFor(5000), 1250);
  assertEquals(marketsFor(20_000), 5000);
  assertEquals(marketsFor(1), 2, "at least one market per platform");
  assertEquals(marketsFor(1000, 100) % 2, 0);
});

const point: PointResult = {
  bus: "nats",
  offered: 20_000,
  markets: 5000,
  published: 30_000,
  pollerRate: 2_000,
  throughput: 900,
  windowSeconds: 20,
  featureLatency: { n: 300, p50: 4_000, p99: 9_000, max: 9_500 },
  contextLatency: { n: 0, p50: NaN, p99: NaN, max: NaN },
  signals: 0,
  drained: false,
  drainSeconds: 15,
  processes: [
    { name: "store-0", kind: "store", cpuSeconds: 6, peakRssBytes: 500 * 1024 * 1024 },
    { name: "feature-0", kind: "feature", cpuSeconds: 3, peakRssBytes: 300 * 1024 * 1024 },
  ],
  loadSeconds: 35,
  serverCpu: { bus: 3, postgres: 4 },
  wallSeconds: 50,
};

Deno.test("distributed bench: rows of a point; far below the offered load is SHORT, not gross", () => {
  const rows = pointRows(point);
  assertBenchRows(rows, "distributed");
  const throughput = rows[0];
  assertEquals(throughput.augur, 900);
  assertEquals(throughput.baseline, 20_000);
  assertEquals(throughput.ratio, 0.045);
  assertEquals(verdict(throughput), "short");
  assert(throughput.name.includes("pollers sent 2000/s"), throughput.name);
  // Latencies say when the drain was cut short; no context rows without contexts.
  const latency = rows.filter((r) => r.unit === "ms");
  assertEquals(latency.map((r) => r.augur), [4_000, 9_000]);
  assert(latency.every((r) => r.name.includes("lower bound") && verdict(r) === "info"));
  assertEquals(rows.find((r) => r.unit === "CPU s")?.augur, 0.3, "9 CPU s per 30 000 snapshots");
  const rss = rows.find((r) => r.unit === "MB")!;
  assertEquals([rss.augur, rss.name.includes("store-0")], [500, true]);
  const full = pointRows({ ...point, throughput: 19_000, drained: true });
  assertEquals(verdict(full[0]), "pass");
  assert(!full[1].name.includes("lower bound"));
});
