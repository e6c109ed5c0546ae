/**
 * The hot-path encoders behind the stores' bulk writes: PostgreSQL array literals (built in
 * augur instead of by the driver), key dedupe/sort of prepared rows, and stable JSON.
 */
import { assertEquals, assertThrows } from "../../../helpers/assert.ts";
import { arrayLiteral } from "../../../../adapters/storage/timescale_store.ts";
import { prepareRows, stableJson, type WireValue } from "../../../../adapters/storage/codec.ts";

Deno.test('arrayLiteral quotes every string, escapes only " and \\, spells NULL and numbers', () => {
  const rows: WireValue[][] = [
    ["plain"],
    [""],
    ["NULL"],
    [null],
    ['a "quoted" \\ back\\slash'],
    ["{braces}, commas; spaces  \n newline ✓"],
  ];
  assertEquals(
    arrayLiteral(rows, 0, "t", "c"),
    '{"plain","","NULL",NULL,"a \\"quoted\\" \\\\ back\\\\slash","{braces}, commas; spaces  \n newline ✓"}',
  );
  const numbers: WireValue[][] = [[0.1], [-0], [1773532800000000], [NaN], [-Infinity], [true], [
    false,
  ]];
  assertEquals(
    arrayLiteral(numbers, 0, "t", "c"),
    "{0.1,0,1773532800000000,NaN,-Infinity,true,false}",
  );
  assertEquals(arrayLiteral([], 0, "t", "c"), "{}");
  assertThrows(
    () => arrayLiteral([[undefined as unknown as WireValue]], 0, "snapshots", "bid"),
    TypeError,
    "snapshots.bid: expected a string, number, boolean or null, received undefined",
  );
});

Deno.test("prepareRows: last wins per key, sorted by key; typed keys never collide", () => {
  const row = (market: string, t: number, v: string): WireValue[] => [
    market,
    "kalshi",
    t,
    0.5,
    null,
    null,
    null,
    1,
    1,
    v,
    null,
    null,
    null,
    "{}",
    "1.0.0",
  ];
  const out = prepareRows("snapshots", [
    row("b", 2, "first"),
    row("a", 10, "x"),
    row("b", 2, "second"),
    row("a", 9, "y"),
    row("a\u0000kalshi", 1, "nul in key"),
  ]);
  assertEquals(out.map((r) => `${r[0]}/${r[2]}/${r[9]}`), [
    "a/9/y",
    "a/10/x",
    "a\u0000kalshi/1/nul in key",
    "b/2/second",
  ]);
  // Already sorted input keeps its order (no sort needed) and loses nothing.
  assertEquals(prepareRows("snapshots", out).map((r) => r[9]), out.map((r) => r[9]));
});

Deno.test("stableJson: sorted keys, undefined members dropped, holes as null", () => {
  assertEquals(
    stableJson({ b: 1, a: undefined, c: { z: [1, undefined], y: "ü" } }),
    '{"b":1,"c":{"y":"ü","z":[1,null]}}',
  );
  assertEquals(stableJson({ "10": 1, "9": 2, a: 3 }), '{"10":1,"9":2,"a":3}');
  assertEquals(stableJson(undefined), "null");
  assertEquals(stableJson([]), "[]");
  assertEquals(stableJson({}), "{}");
});
