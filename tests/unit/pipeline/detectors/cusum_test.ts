import { Cusum } from "../../../../pipeline/detectors/cusum.ts";
import { assertAlmostEquals, assertEquals } from "../../../helpers/assert.ts";

Deno.test("cusum: DOMAIN §14 reference vector 1,1,1,1,5", () => {
  const c = new Cusum({ k_multiplier: 0.5, h_multiplier: 4 });
  const first = c.update(1);
  assertEquals(first.sigma, 1);
  for (let i = 0; i < 3; i++) {
    const s = c.update(1);
    assertEquals([s.positive, s.negative, s.sigma], [0, 0, 1e-9]);
  }
  const s = c.update(5);
  assertAlmostEquals(s.mean, 1.8, 1e-12);
  assertAlmostEquals(s.sigma, 1.78885, 5e-6);
  assertAlmostEquals(s.positive, 2.30557, 5e-6);
  assertAlmostEquals(s.threshold, 7.15542, 5e-6);
  assertEquals(s.negative, 0);
});

Deno.test("cusum: resetSums keeps μ and σ; state round-trip keeps M2", () => {
  const c = new Cusum();
  for (const x of [1, 2, 3, 10, 4]) c.update(x);
  c.resetSums();
  const st = c.state();
  assertEquals([st.positive, st.negative], [0, 0]);
  const d = Cusum.fromState(JSON.parse(JSON.stringify(st)));
  for (const x of [5, 9, 1]) assertEquals(d.update(x), c.update(x));
});
