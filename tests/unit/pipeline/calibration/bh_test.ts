import { benjaminiHochberg } from "../../../../pipeline/calibration/bh.ts";
import { Prng } from "../../../helpers/prng.ts";
import { assertEquals, assertThrows } from "../../../helpers/assert.ts";

Deno.test("bh: DOMAIN §14 reference — all accepted except 0.3, in rank order", () => {
  const ps = [0.001, 0.04, 0.02, 0.3, 0.012];
  const keys = benjaminiHochberg(ps.map((p, i) => ({ key: `k${i}`, p })), 0.05);
  assertEquals(keys, ["k0", "k4", "k2", "k1"]);
});

/** Textbook reference: the step-up rule computed independently. */
function reference(ps: number[], q: number): number[] {
  const m = ps.length;
  const order = ps.map((p, i) => [p, i]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let k = -1;
  order.forEach(([p], i) => {
    if (p <= ((i + 1) * q) / m) k = i;
  });
  return order.slice(0, k + 1).map(([, i]) => i);
}

Deno.test("bh: matches a reference step-up on random p-values; edge cases", () => {
  const r = new Prng(7);
  for (let t = 0; t < 200; t++) {
    const m = 1 + r.int(40);
    const ps = Array.from({ length: m }, () => (r.next() < 0.3 ? r.next() * 0.01 : r.next()));
    const q = [0.01, 0.05, 0.1][t % 3];
    assertEquals(benjaminiHochberg(ps.map((p, i) => ({ key: i, p })), q), reference(ps, q));
  }
  assertEquals(benjaminiHochberg([], 0.05), []);
  // Ties keep input order (stable).
  assertEquals(benjaminiHochberg([{ key: "b", p: 0.01 }, { key: "a", p: 0.01 }]), ["b", "a"]);
  assertThrows(() => benjaminiHochberg([], 1), Error, "(0, 1)");
  assertThrows(() => benjaminiHochberg([{ key: "x", p: 2 }]), Error, "received 2");
});
