import { assert, assertEquals, assertThrows } from "../../helpers/assert.ts";
import {
  fnv1a64,
  ownedPartitions,
  ownsPartition,
  partitionOf,
  shardOf,
} from "../../../pipeline/partition.ts";

/** Straightforward BigInt reference over TextEncoder bytes. */
function reference(key: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of new TextEncoder().encode(key)) {
    h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h;
}

Deno.test("fnv1a64 matches the published vectors", () => {
  assertEquals(fnv1a64(""), 0xcbf29ce484222325n);
  assertEquals(fnv1a64("a"), 0xaf63dc4c8601ec8cn);
  assertEquals(fnv1a64("foobar"), 0x85944171f73967e8n);
});

Deno.test("fnv1a64 equals a BigInt reference on ASCII, BMP, astral and lone surrogates", () => {
  const keys = [
    "kalshi_fed",
    "polymarket_0xabc",
    "é",
    "漢字",
    "😀x",
    "\ud800",
    "a\udc00b",
    "~!@#$%^&*()",
    "x".repeat(300),
  ];
  let seed = 7;
  for (let i = 0; i < 500; i++) {
    let k = "";
    const len = i % 17;
    for (let j = 0; j < len; j++) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      k += String.fromCharCode(seed % (j % 3 === 0 ? 0x10000 : 128));
    }
    keys.push(k);
  }
  for (const k of keys) assertEquals(fnv1a64(k), reference(k), JSON.stringify(k));
});

Deno.test("shardOf reproduces the DOMAIN §14 vectors", () => {
  assertEquals([1, 2, 3, 4, 7].map((n) => shardOf("kalshi_fed", n)), [0, 1, 2, 3, 2]);
  assertEquals([1, 2, 3, 4, 7].map((n) => shardOf("", n)), [0, 1, 2, 1, 2]);
});

Deno.test("partitionOf equals hash mod P, including BigInt path for huge P", () => {
  for (const key of ["kalshi_fed", "", "m-17", "😀"]) {
    for (const p of [1, 2, 60, 64, 1000, 2097152, 2097153, 4294967311]) {
      assertEquals(partitionOf(key, p), Number(reference(key) % BigInt(p)), `${key} ${p}`);
    }
  }
  assertThrows(() => partitionOf("x", 0), RangeError);
  assertThrows(() => partitionOf("x", 1.5), RangeError);
});

Deno.test("replica i of N owning p mod N = i handles exactly keys with hash mod N = i", () => {
  const P = 60;
  for (const N of [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60]) {
    for (let k = 0; k < 200; k++) {
      const key = `market_${k}`;
      const p = partitionOf(key, P);
      const owners = [];
      for (let i = 0; i < N; i++) if (ownsPartition(p, i, N)) owners.push(i);
      assertEquals(owners, [shardOf(key, N)]);
    }
  }
  assertEquals(ownedPartitions(6, 1, 3), [1, 4]);
  assertThrows(() => ownsPartition(0, 3, 3), RangeError);
  assert(ownsPartition(59, 3, 4));
});
