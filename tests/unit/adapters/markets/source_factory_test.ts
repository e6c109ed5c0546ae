import { assertEquals, assertThrows } from "../../../helpers/assert.ts";
import {
  createMarketSource,
  parseSourceSpec,
  schedulerConfigOf,
  simulatorOptionsOf,
} from "../../../../adapters/markets/source_factory.ts";
import { UsageError } from "../../../../config/errors.ts";
import { MetricsRegistry } from "../../../../adapters/observability/metrics.ts";

Deno.test("source spec: live, simulator[:seed], replay:FILE[@recorded], errors", () => {
  assertEquals(parseSourceSpec("live"), { kind: "live" });
  assertEquals(parseSourceSpec("simulator"), { kind: "simulator", seed: 42 });
  assertEquals(parseSourceSpec("simulator:7"), { kind: "simulator", seed: 7 });
  assertEquals(parseSourceSpec("replay:a.ndjson.gz"), {
    kind: "replay",
    path: "a.ndjson.gz",
    pace: "fast",
  });
  assertEquals(parseSourceSpec("replay:a@recorded"), {
    kind: "replay",
    path: "a",
    pace: "recorded",
  });
  assertThrows(
    () => parseSourceSpec("simulator:x"),
    UsageError,
    "simulator:<non-negative integer seed>",
  );
  assertThrows(
    () => parseSourceSpec("kafka"),
    UsageError,
    "expected live, simulator[:seed] or replay:FILE",
  );
});

Deno.test("source factory: polling.toml maps to scheduler settings; sources build", async () => {
  const cfg = schedulerConfigOf("kalshi", {
    hot_interval_s: 10,
    platform_caps: { kalshi_per_min: 900, budget_safety_pct: 0.6 },
    backoff: { demote_after_consecutive_failures: 3 },
  });
  assertEquals([
    cfg.intervals!.hot,
    cfg.intervals!.cold,
    cfg.capPerMinute,
    cfg.safetyPct,
    cfg.demoteAfterFailures,
  ], [10, 300, 900, 0.6, 3]);
  assertEquals(schedulerConfigOf("polymarket").capPerMinute, 600);
  const sim = createMarketSource("simulator:3", {
    platform: "polymarket",
    markets: [],
    simulator: { markets: 2, ticks: 1 },
  });
  const ticks = [];
  for await (const t of sim) ticks.push(t);
  // A poller serves one platform: the simulator renders only it.
  assertEquals(ticks.map((t) => t.platform), ["polymarket"]);
  // [polling.simulator] shapes the source; options.simulator overrides it.
  assertEquals(
    simulatorOptionsOf({ simulator: { markets: 500, tick_seconds: 60, interval_ms: 0 } }),
    { markets: 500, tickSeconds: 60, intervalMs: undefined, eventEverySeconds: undefined },
  );
  const shaped = createMarketSource("simulator:3", {
    platform: "kalshi",
    markets: [],
    polling: { simulator: { markets: 6, tick_seconds: 60 } },
    simulator: { ticks: 2 },
  });
  const shapedTicks = [];
  for await (const t of shaped) shapedTicks.push(t);
  assertEquals(shapedTicks.map((t) => [t.platform, t.messages.length]), [["kalshi", 3], [
    "kalshi",
    3,
  ]]);
  assertEquals(shapedTicks[1].T - shapedTicks[0].T, 60_000_000);
  const live = createMarketSource("live", {
    platform: "kalshi",
    markets: [],
    registry: new MetricsRegistry(),
  });
  assertEquals(live.description, "live:kalshi");
  await live.close();
});
