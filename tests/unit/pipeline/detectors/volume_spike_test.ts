import {
  applyVolumeSpikeFdr,
  VolumeSpikeDetector,
} from "../../../../pipeline/detectors/volume_spike.ts";
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "../../../helpers/assert.ts";
import { SEC, T0 } from "../../../helpers/detector_inputs.ts";
import {
  assertRoundTrip,
  feed,
  type Tick,
  tickSeries,
} from "../../../helpers/detector_roundtrip.ts";

function ticks(
  ratios: number[],
  over: { closes_at?: number | null; volume_24h?: number } = {},
): Tick[] {
  return tickSeries(ratios, (r) => ({
    feature: { volume_ratio_1h: r },
    snapshot: { closes_at: over.closes_at ?? null, volume_24h: over.volume_24h ?? 300_000 },
  }));
}

const spikeAt = (k: number, n = 60) => Array.from({ length: n }, (_, i) => (i === k ? 5 : 1));

Deno.test("volume_spike: a 5× ratio after a flat baseline fires once with the §5.2 math", () => {
  const fired = feed(new VolumeSpikeDetector(), ticks(spikeAt(40)));
  assertEquals(fired.map(([i]) => i), [40]);
  const s = fired[0][1];
  // By hand: v = 0.25·0.95^40 before; d = 4; m = 1.2; v' = 0.95(v + 0.05·16); z = 3.8/√v'.
  const v = 0.95 * (0.25 * 0.95 ** 40 + 0.05 * 16);
  const z = 3.8 / Math.sqrt(v);
  assertAlmostEquals(s.raw_features.z_score as number, z, 1e-9);
  assertAlmostEquals(s.raw_features.ewma_mean as number, 1.2, 1e-12);
  assertAlmostEquals(s.magnitude, (z - 1.65) / 6, 1e-9);
  assertEquals([s.direction, s.window_seconds, s.liquidity_tier], [1, 3600, "high"]);
  assertEquals(s.raw_features.calibration_provenance, "volume_spike_ewma_z_v1@identity_v0");
});

Deno.test("volume_spike: a constant ratio never fires", () => {
  assertEquals(feed(new VolumeSpikeDetector(), ticks(Array(300).fill(1.3))), []);
});

Deno.test("volume_spike: below min_absolute_volume ⇒ null and state untouched", () => {
  const d = new VolumeSpikeDetector();
  assertEquals(feed(d, ticks(spikeAt(40), { volume_24h: 9_999 })), []);
  assertEquals(d.state("m1"), null);
});

Deno.test("volume_spike: never inside the resolution window", () => {
  const closes = T0 + 40 * 60 * SEC + 21_599 * SEC;
  assertEquals(feed(new VolumeSpikeDetector(), ticks(spikeAt(40), { closes_at: closes })), []);
  const later = T0 + 40 * 60 * SEC + 21_600 * SEC; // exactly 6 h ⇒ not excluded
  assertEquals(
    feed(new VolumeSpikeDetector(), ticks(spikeAt(40), { closes_at: later })).map(([i]) => i),
    [40],
  );
});

Deno.test("volume_spike: warm-up of 30 vectors is respected", () => {
  assertEquals(feed(new VolumeSpikeDetector(), ticks(spikeAt(10))), []);
  assertEquals(feed(new VolumeSpikeDetector({ warmup: 5 }), ticks(spikeAt(10))).length, 1);
});

Deno.test("volume_spike: state round-trip mid-stream gives identical outputs", () => {
  const ratios = Array.from(
    { length: 120 },
    (_, i) => 1 + ((i * 37) % 11) / 20 + (i % 50 === 49 ? 4 : 0),
  );
  assertRoundTrip(() => new VolumeSpikeDetector(), ticks(ratios), 60);
});

Deno.test("volume_spike: optional BH keeps strong spikes, drops weak, sets fdr_adjusted", () => {
  const d = new VolumeSpikeDetector();
  const strong = feed(d, ticks(spikeAt(40)))[0][1];
  const weak = { ...strong, raw_features: { ...strong.raw_features, z_score: 1.7 } };
  // Every candidate has p ≤ tail(1.65) < 0.05, so at q = 0.05 BH keeps all of them.
  assertEquals(applyVolumeSpikeFdr([weak, strong], { target_fdr_q: 0.05 }).length, 2);
  const out = applyVolumeSpikeFdr([weak, strong], { target_fdr_q: 0.01 });
  assertEquals(out.length, 1);
  assertEquals(out[0].signal_id, strong.signal_id);
  assert(out[0].fdr_adjusted);
});

Deno.test("volume_spike: invalid options name the key", () => {
  assertThrows(() => new VolumeSpikeDetector({ ewma_alpha: 0 }), Error, "ewma_alpha");
});
