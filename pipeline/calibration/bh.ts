/**
 * Benjamini–Hochberg false-discovery-rate control (DOMAIN.md §7.3).
 *
 * @example
 * ```ts
 * import { benjaminiHochberg } from "./bh.ts";
 * benjaminiHochberg([{ key: "a", p: 0.001 }, { key: "b", p: 0.3 }], 0.05); // ["a"]
 * ```
 * @module
 */

/** One hypothesis: a key and its p-value. */
export interface PValue<K = string> {
  key: K;
  p: number;
}

/** Error raised for an invalid q or p-value. */
export class FdrError extends Error {
  /** @param message what was expected and what was received */
  constructor(message: string) {
    super(message);
    this.name = "FdrError";
  }
}

/**
 * Benjamini–Hochberg: sort p ascending (stable), m = count; k = largest rank i with
 * p_(i) ≤ (i/m)·q; accept ranks ≤ k; return the accepted keys in rank order.
 *
 * @param items hypotheses (key, p)
 * @param q target FDR in (0, 1), default 0.05
 * @returns accepted keys, smallest p first (empty input ⇒ empty)
 *
 * @example
 * ```ts
 * import { benjaminiHochberg } from "./bh.ts";
 * const ps = [0.001, 0.04, 0.02, 0.3, 0.012].map((p, i) => ({ key: i, p }));
 * benjaminiHochberg(ps, 0.05); // [0, 4, 2, 1]
 * ```
 */
export function benjaminiHochberg<K>(items: readonly PValue<K>[], q = 0.05): K[] {
  if (!(q > 0 && q < 1)) throw new FdrError(`q: expected a number in (0, 1), received ${q}`);
  const m = items.length;
  if (m === 0) return [];
  for (const it of items) {
    if (!(it.p >= 0 && it.p <= 1)) {
      throw new FdrError(`p-value of ${String(it.key)}: expected [0, 1], received ${it.p}`);
    }
  }
  const idx = items.map((_, i) => i);
  idx.sort((a, b) => items[a].p - items[b].p || a - b);
  let k = 0;
  for (let i = 1; i <= m; i++) {
    if (items[idx[i - 1]].p <= (i / m) * q) k = i;
  }
  return idx.slice(0, k).map((i) => items[i].key);
}
