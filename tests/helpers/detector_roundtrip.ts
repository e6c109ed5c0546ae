/**
 * Shared property check for per-market detectors: saving the state mid-stream (through JSON)
 * and restoring it into a fresh detector gives the same future outputs as an uninterrupted run.
 *
 * @example
 * ```ts
 * import { assertRoundTrip } from "./detector_roundtrip.ts";
 * // assertRoundTrip(() => new VolumeSpikeDetector(), ticks, 40);
 * ```
 * @module
 */
import type { Detector } from "../../pipeline/detectors/detector.ts";
import type { FeatureVector, MarketSignal, MarketSnapshot } from "../../pipeline/models.ts";
import { assert, assertEquals } from "./assert.ts";
import { feature, SEC, snapshot, T0 } from "./detector_inputs.ts";

/** One input tick. */
export interface Tick {
  market_id: string;
  feature: FeatureVector;
  snapshot: MarketSnapshot;
  now: number;
}

/**
 * Fields of one tick of {@linkcode tickSeries} (the rest are the builders' defaults).
 *
 * @example
 * ```ts
 * import type { TickFields } from "./detector_roundtrip.ts";
 * const fields: TickFields = { feature: { bid_ask_ratio: 0.8 }, snapshot: { liquidity: 5000 } };
 * ```
 */
export interface TickFields {
  feature?: Partial<FeatureVector>;
  snapshot?: Partial<MarketSnapshot>;
}

/**
 * One tick of market "m1" per element of `values`, `stepSeconds` apart from T0: the feature
 * vector and snapshot have the fields `fields(value, index)` gives, stamped with the tick time.
 *
 * @example
 * ```ts
 * import { tickSeries } from "./detector_roundtrip.ts";
 * const ticks = tickSeries([1, 1, 4], (r) => ({ feature: { volume_ratio_1h: r } }));
 * ```
 */
export function tickSeries<V>(
  values: readonly V[],
  fields: (value: V, index: number) => TickFields,
  stepSeconds = 60,
): Tick[] {
  return values.map((v, i) => {
    const now = T0 + i * stepSeconds * SEC;
    const f = fields(v, i);
    return {
      market_id: "m1",
      now,
      feature: feature({ computed_at: now, ...f.feature }),
      snapshot: snapshot({ timestamp: now, ...f.snapshot }),
    };
  });
}

/** Feed ticks, returning (index, signal) for each non-null output. */
export function feed(d: Detector, ticks: readonly Tick[]): [number, MarketSignal][] {
  const out: [number, MarketSignal][] = [];
  ticks.forEach((t, i) => {
    const s = d.ingest(t.market_id, t.feature, t.snapshot, t.now);
    if (s !== null) out.push([i, s]);
  });
  return out;
}

/** Assert the round-trip property at `cut`; also asserts the stream fires after `cut`. */
export function assertRoundTrip(make: () => Detector, ticks: readonly Tick[], cut: number): void {
  const whole = feed(make(), ticks);
  const first = make();
  feed(first, ticks.slice(0, cut));
  const second = make();
  for (const m of first.markets()) {
    const saved = JSON.parse(JSON.stringify(first.state(m)));
    second.loadState(m, saved);
  }
  const rest = feed(second, ticks.slice(cut)).map(([i, s]) =>
    [i + cut, s] as [number, MarketSignal]
  );
  const expected = whole.filter(([i]) => i >= cut);
  assert(expected.length > 0, "the stream must fire after the cut for the check to mean anything");
  assertEquals(rest, expected);
}
