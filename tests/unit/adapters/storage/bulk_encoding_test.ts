/**
 * The hot-path encoders behind the stores' bulk writes: PostgreSQL array literals (built in
 * augur instead of by the driver), binary COPY streams, key dedupe/sort of prepared rows,
 * and stable JSON.
 */
import { assert, assertEquals, assertThrows } from "../../../helpers/assert.ts";
import { arrayLiteral } from "../../../../adapters/storage/timescale_store.ts";
import { copyBinary } from "../../../../adapters/storage/pg_copy.ts";
import type { TableSpec } from "../../../../adapters/storage/schema.ts";
import { prepareRows, stableJson, type WireValue } from "../../../../adapters/storage/codec.ts";

/** Read a binary COPY stream back: header checked, one value list per tuple. */
function readCopy(bytes: Uint8Array, types: string[]): unknown[][] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // "PGCOPY\n\xff\r\n\0", then flags and header-extension length (both 0).
  const header = [..."PGCOPY\n\xff\r\n\0"].map((c) => c.charCodeAt(0));
  assertEquals([...bytes.subarray(0, 19)], [...header, 0, 0, 0, 0, 0, 0, 0, 0]);
  let at = 19;
  const rows: unknown[][] = [];
  while (true) {
    const fields = view.getInt16(at);
    at += 2;
    if (fields === -1) break;
    assertEquals(fields, types.length);
    const row: unknown[] = [];
    for (const type of types) {
      const len = view.getInt32(at);
      at += 4;
      if (len === -1) {
        row.push(null);
        continue;
      }
      const field = bytes.subarray(at, at + len);
      at += len;
      if (type === "bigint") row.push(view.getBigInt64(at - len));
      else if (type === "double") row.push(view.getFloat64(at - len));
      else if (type === "int") row.push(view.getInt32(at - len));
      else if (type === "bool") row.push(field[0] === 1);
      else if (type === "bytes") row.push([...field]);
      else row.push(new TextDecoder().decode(field));
    }
    rows.push(row);
  }
  assertEquals(at, bytes.length, "nothing after the trailer");
  return rows;
}

const concat = (chunks: Uint8Array[]) => {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
};

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

Deno.test("copyBinary writes exact int8/float8/int4/bool/bytea/UTF-8 fields, nulls, chunked", () => {
  const spec: TableSpec = {
    name: "t",
    key: ["s"],
    columns: [
      { name: "s", type: "text" },
      { name: "b", type: "bigint" },
      { name: "d", type: "double" },
      { name: "i", type: "int" },
      { name: "f", type: "bool" },
      { name: "x", type: "bytes" },
      { name: "a", type: "text_array" },
    ],
  };
  const rows: WireValue[][] = [
    ["plain", 1773532800000000, 0.1, 7, true, new Uint8Array([0, 255]), '["m1"]'],
    ["", -1, -0, -2147483648, false, new Uint8Array(), "[]"],
    ['ü \\ \t\n 😀 "q"', Number.MAX_SAFE_INTEGER, NaN, 2147483647, null, null, null],
    [null, Number.MIN_SAFE_INTEGER, -Infinity, null, true, null, '["a\\"b"]'],
    ["x".repeat(5000), null, 5e-324, 0, false, new Uint8Array(3000).fill(9), "[]"],
  ];
  const types = spec.columns.map((c) => c.type);
  const whole = copyBinary(spec, rows);
  assertEquals(whole.length, 1);
  const back = readCopy(whole[0], types);
  assertEquals(back.length, rows.length);
  rows.forEach((row, r) =>
    row.forEach((v, i) => {
      const got = back[r][i];
      if (types[i] === "bigint") assertEquals(got, v === null ? null : BigInt(v as number));
      else if (types[i] === "double") assert(Object.is(got, v), `row ${r}: ${got} vs ${v}`);
      else if (types[i] === "bytes") {
        assertEquals(got, v === null ? null : [...(v as Uint8Array)]);
      } else assertEquals(got, v);
    })
  );
  // Small chunks split the same stream, never a value.
  const chunks = copyBinary(spec, rows, { chunkBytes: 64 });
  assert(chunks.length > 3, `expected several chunks, got ${chunks.length}`);
  assertEquals([...concat(chunks)], [...whole[0]]);
  assertEquals(readCopy(copyBinary(spec, [])[0], types), []);
});

Deno.test("copyBinary rejects a value of the wrong kind, naming table.column", () => {
  const spec: TableSpec = {
    name: "snapshots",
    key: ["t"],
    columns: [{ name: "t", type: "bigint" }, { name: "n", type: "int" }, {
      name: "q",
      type: "text",
    }],
  };
  assertThrows(
    () => copyBinary(spec, [[2 ** 60, 1, "a"]]),
    TypeError,
    "snapshots.t: expected a safe integer, received number 1152921504606847000",
  );
  assertThrows(() => copyBinary(spec, [[1.5, 1, "a"]]), TypeError, "snapshots.t");
  assertThrows(() => copyBinary(spec, [[1, 2 ** 31, "a"]]), TypeError, "snapshots.n");
  assertThrows(() => copyBinary(spec, [[1, 1, 5]]), TypeError, "snapshots.q: expected a string");
  assertThrows(
    () => copyBinary(spec, [[1, 1, undefined as unknown as WireValue]]),
    TypeError,
    "received undefined",
  );
});
