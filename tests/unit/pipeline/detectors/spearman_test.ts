import {
  averageRanks,
  divergenceTest,
  erfc,
  normalUpperTail,
  spearman,
} from "../../../../pipeline/detectors/spearman.ts";
import { assertAlmostEquals, assertEquals } from "../../../helpers/assert.ts";

Deno.test("spearman: DOMAIN §14 reference vector (ρ, z, T, p)", () => {
  const xs = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];
  const ys = [0.2, 0.1, 0.4, 0.3, 0.6, 0.5, 0.8, 0.7, 1.0, 0.9];
  const rho = spearman(xs, ys);
  assertAlmostEquals(rho, 0.939394, 5e-7);
  const t = divergenceTest(rho, 10, Math.atanh(0.6));
  assertAlmostEquals(t.z, 1.732868, 5e-7);
  assertAlmostEquals(t.t, 2.750843, 5e-7);
  assertAlmostEquals(t.p, 0.005944, 5e-7);
});

Deno.test("spearman: ties get average ranks; degenerate inputs give 0", () => {
  assertEquals(Array.from(averageRanks([3, 1, 3, 2])), [3.5, 1, 3.5, 2]);
  assertEquals(spearman([1, 2], [1, 2]), 0);
  assertEquals(spearman([1, 2, 3], [1, 2]), 0);
  assertEquals(spearman([1, 1, 1], [1, 2, 3]), 0);
  assertAlmostEquals(spearman([1, 2, 3, 4], [40, 30, 20, 10]), -1, 1e-12);
});

Deno.test("erfc: matches known values across both branches", () => {
  assertEquals(erfc(0), 1);
  assertAlmostEquals(erfc(0.5), 0.4795001221869535, 1e-15);
  assertAlmostEquals(erfc(1), 0.15729920705028513, 1e-15);
  assertAlmostEquals(erfc(2.4999) / 0.0004071699003334514, 1, 1e-11);
  assertAlmostEquals(erfc(3) / 2.2090496998585438e-05, 1, 1e-12);
  assertAlmostEquals(erfc(6) / 2.1519736712498916e-17, 1, 1e-12);
  assertAlmostEquals(erfc(2.5) / 4.069520174449590e-4, 1, 1e-12);
  assertAlmostEquals(erfc(4) / 1.541725790028002e-8, 1, 1e-12);
  assertAlmostEquals(erfc(-1), 2 - 0.15729920705028513, 1e-15);
  assertAlmostEquals(normalUpperTail(1.65), 0.04947146803, 1e-10);
});

Deno.test("RollingSpearman equals spearman() on the window bit for bit (ties, eviction)", async () => {
  const { RollingSpearman } = await import("../../../../pipeline/detectors/spearman.ts");
  const { Prng } = await import("../../../helpers/prng.ts");
  const r = new Prng(3);
  const roll = new RollingSpearman(25);
  const a: number[] = [], b: number[] = [];
  for (let i = 0; i < 300; i++) {
    const x = Math.round(r.next() * 8) / 8, y = Math.round(r.next() * 5) / 5; // many ties
    roll.push(x, y);
    a.push(x);
    b.push(y);
    if (a.length > 25) (a.shift(), b.shift());
    assertEquals(roll.rho(), spearman(a, b));
    assertEquals(roll.values(), { a, b });
  }
});
