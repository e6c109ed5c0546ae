/**
 * FNV-1a 64-bit keyed partitioning (DOMAIN §1, DESIGN §10).
 *
 * `partition(key) = fnv1a64(utf8(key)) mod P`; replica i of N owns the partitions p with
 * p mod N = i (N divides P), so it handles exactly the keys whose hash mod N = i.
 * The hash runs on two 32-bit halves (no BigInt on the hot path).
 *
 * @example
 * ```ts
 * import { ownsPartition, partitionOf, shardOf } from "./partition.ts";
 * shardOf("kalshi_fed", 4); // 3
 * const p = partitionOf("kalshi_fed", 60);
 * ownsPartition(p, 3, 4); // true
 * ```
 * @module
 */

const TWO32 = 4294967296;

/** The hash as [hi, lo] unsigned 32-bit halves. */
function fnvHalves(key: string): [number, number] {
  hi = 0xcbf29ce4;
  lo = 0x84222325;
  const n = key.length;
  for (let i = 0; i < n; i++) {
    let c = key.charCodeAt(i);
    if (c < 0x80) {
      step(c);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = i + 1 < n ? key.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      } else {
        c = 0xfffd; // lone surrogate: replaced, as TextEncoder does
      }
    }
    if (c < 0x800) {
      step(0xc0 | (c >> 6));
      step(0x80 | (c & 0x3f));
    } else if (c < 0x10000) {
      step(0xe0 | (c >> 12));
      step(0x80 | ((c >> 6) & 0x3f));
      step(0x80 | (c & 0x3f));
    } else {
      step(0xf0 | (c >> 18));
      step(0x80 | ((c >> 12) & 0x3f));
      step(0x80 | ((c >> 6) & 0x3f));
      step(0x80 | (c & 0x3f));
    }
  }
  return [hi, lo];
}

let hi = 0;
let lo = 0;

/** h = (h XOR b) × 0x100000001b3 mod 2^64, with 0x100000001b3 = 2^40 + 0x1b3. */
function step(b: number): void {
  const x = (lo ^ b) >>> 0;
  const t = x * 0x1b3; // < 2^41, exact
  lo = t >>> 0;
  const carry = (t - lo) / TWO32;
  hi = (hi * 0x1b3 + carry + ((x << 8) >>> 0)) >>> 0;
}

/**
 * FNV-1a 64-bit hash of the UTF-8 bytes of `key`.
 *
 * @example
 * ```ts
 * import { fnv1a64 } from "./partition.ts";
 * fnv1a64(""); // 0xcbf29ce484222325n
 * fnv1a64("a"); // 0xaf63dc4c8601ec8cn
 * ```
 */
export function fnv1a64(key: string): bigint {
  const [hi, lo] = fnvHalves(key);
  return (BigInt(hi) << 32n) | BigInt(lo);
}

function checkCount(name: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new RangeError(`${name}: expected a positive integer, received ${n}`);
  }
}

/**
 * `fnv1a64(key) mod count`.
 *
 * @example
 * ```ts
 * import { partitionOf } from "./partition.ts";
 * partitionOf("kalshi_fed", 7); // 2
 * ```
 */
export function partitionOf(key: string, count: number): number {
  checkCount("partition count", count);
  const [hi, lo] = fnvHalves(key);
  if (count <= 2097152) {
    // (hi·2^32 + lo) mod n without BigInt; every product stays below 2^53.
    return ((hi % count) * (TWO32 % count) + (lo % count)) % count;
  }
  return Number(((BigInt(hi) << 32n) | BigInt(lo)) % BigInt(count));
}

/**
 * Shard of a key among `replicas` (DOMAIN §1): the same as {@linkcode partitionOf}.
 *
 * @example
 * ```ts
 * import { shardOf } from "./partition.ts";
 * shardOf("", 4); // 1
 * ```
 */
export function shardOf(key: string, replicas: number): number {
  return partitionOf(key, replicas);
}

/**
 * Whether replica `replica` of `replicas` owns `partition` (p mod N = i).
 *
 * @example
 * ```ts
 * import { ownsPartition } from "./partition.ts";
 * ownsPartition(7, 1, 2); // true
 * ```
 */
export function ownsPartition(partition: number, replica: number, replicas: number): boolean {
  checkCount("replica count", replicas);
  if (!Number.isSafeInteger(replica) || replica < 0 || replica >= replicas) {
    throw new RangeError(`replica: expected an integer in 0..${replicas - 1}, received ${replica}`);
  }
  return partition % replicas === replica;
}

/**
 * Partitions of `0..count-1` owned by replica `replica` of `replicas`, ascending.
 *
 * @example
 * ```ts
 * import { ownedPartitions } from "./partition.ts";
 * ownedPartitions(6, 1, 3); // [1, 4]
 * ```
 */
export function ownedPartitions(count: number, replica: number, replicas: number): number[] {
  checkCount("partition count", count);
  const out: number[] = [];
  for (let p = 0; p < count; p++) if (ownsPartition(p, replica, replicas)) out.push(p);
  return out;
}
