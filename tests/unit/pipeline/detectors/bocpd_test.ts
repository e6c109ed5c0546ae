import { Bocpd, BocpdError } from "../../../../pipeline/detectors/bocpd.ts";
import { assertAlmostEquals, assertEquals, assertThrows } from "../../../helpers/assert.ts";

Deno.test("bocpd: DOMAIN §14 reference vector (60 zeros, then ones)", () => {
  const m = new Bocpd();
  const zeros: [number, number][] = [];
  for (let i = 1; i <= 60; i++) {
    const r = m.update(0);
    zeros.push([r.p_change, r.expected_run_length]);
  }
  assertAlmostEquals(zeros[0][0], 1.0, 1e-9);
  assertAlmostEquals(zeros[0][1], 0.996, 1e-9);
  assertAlmostEquals(zeros[4][0], 0.012757, 5e-7);
  assertAlmostEquals(zeros[4][1], 4.958, 5e-4);
  assertAlmostEquals(zeros[59][0], 0.009318, 5e-7);
  assertAlmostEquals(zeros[59][1], 58.894, 5e-4);
  const p5 = [0.16556, 0.71944, 0.88248, 0.80034, 0.03118];
  const er = [48.98, 14.45, 4.48, 4.37, 5.20];
  for (let i = 0; i < 5; i++) {
    const r = m.update(1);
    assertAlmostEquals(r.p_change, p5[i], 5e-6);
    assertAlmostEquals(r.expected_run_length, er[i], 5e-3);
  }
});

Deno.test("bocpd: rejects x outside [0, 1] and says what it received", () => {
  const m = new Bocpd();
  assertThrows(() => m.update(1.5), BocpdError, "received 1.5");
  assertThrows(() => m.update(NaN), BocpdError, "[0, 1]");
});

Deno.test("bocpd: run-length cap keeps R + 1 entries and stays normalized", () => {
  const m = new Bocpd({ run_length_cap: 8 });
  for (let i = 0; i < 50; i++) m.update(i % 3 === 0 ? 1 : 0);
  const s = m.state();
  assertEquals(s.pi.length, 9);
  assertAlmostEquals(s.pi.reduce((a, b) => a + b, 0), 1, 1e-12);
});

Deno.test("bocpd: state round-trip (through JSON) gives identical future outputs", () => {
  const a = new Bocpd({ run_length_cap: 30 });
  const xs = Array.from({ length: 80 }, (_, i) => ((i * 7919) % 13 < 6 ? 1 : 0));
  for (const x of xs.slice(0, 40)) a.update(x);
  const b = Bocpd.fromState(JSON.parse(JSON.stringify(a.state())), { run_length_cap: 30 });
  for (const x of xs.slice(40)) assertEquals(b.update(x), a.update(x));
  assertThrows(() => Bocpd.fromState({ pi: [], alpha: [], beta: [] }), BocpdError, "equal length");
});
