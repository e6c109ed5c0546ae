import { checkDrift, ksTest, psi } from "../../../../pipeline/calibration/drift.ts";
import { assertAlmostEquals, assertEquals } from "../../../helpers/assert.ts";

const base = [0.1, 0.2, 0.3, 0.4, 0.5];
const cur = [0.5, 0.6, 0.7, 0.8, 0.9];

Deno.test("drift: DOMAIN §14 reference — PSI 19.5296, D 0.8, p 0.081524", () => {
  assertAlmostEquals(psi(base, cur), 19.5296, 5e-5);
  const ks = ksTest(base, cur);
  assertAlmostEquals(ks.statistic, 0.8, 1e-12);
  assertAlmostEquals(ks.p_value, 0.081524, 5e-7);
});

Deno.test("drift: degenerate inputs and the trigger rule", () => {
  assertEquals(psi([], cur), 0);
  assertEquals(psi([0.5, 0.5], [0.5]), 0);
  assertEquals(ksTest([], cur), { statistic: 0, p_value: 1 });
  assertEquals(ksTest([0.3], [0.3]).p_value, 1);
  const r = checkDrift(base, cur, { detector_id: "volume_spike_ewma_z_v1", now: 42 });
  assertEquals([r.triggered, r.triggered_metrics, r.checked_at], [true, ["psi"], 42]);
  const same = checkDrift(base, base, { detector_id: "volume_spike_ewma_z_v1", now: 1 });
  assertEquals([same.psi, same.ks_statistic, same.triggered], [0, 0, false]);
  const big = Array.from({ length: 400 }, (_, i) => i / 400);
  const shifted = big.map((v) => v + 0.5);
  assertEquals(
    checkDrift(big, shifted, { detector_id: "regime_shift_cusum_v1", now: 0 }).triggered_metrics,
    ["psi", "ks"],
  );
});
