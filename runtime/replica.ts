/**
 * `--replica i/N` parsing and partition ownership (DESIGN §10): partition(key) = FNV-1a 64
 * mod P; replica i of N owns the partitions p with p mod N = i; N must divide P.
 *
 * @example
 * ```ts
 * import { ownedPartitions, parseReplica } from "./replica.ts";
 * const replica = parseReplica("1/4", { partitions: 60 });
 * ownedPartitions(replica, 60); // [1, 5, 9, …, 57]
 * ```
 * @module
 */
import { UsageError } from "../config/errors.ts";

/** Replica i of N. */
export interface ReplicaSpec {
  readonly index: number;
  readonly count: number;
}

/**
 * Parse `i/N`. Throws UsageError (exit 2) for malformed input, i ≥ N, or N not dividing
 * the deployment's partition count P.
 */
export function parseReplica(text: string, options: { partitions: number }): ReplicaSpec {
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!match) {
    throw new UsageError(
      `--replica: expected "i/N" with 0 <= i < N (e.g. "0/4"), received "${text}"`,
    );
  }
  const index = Number(match[1]);
  const count = Number(match[2]);
  if (count < 1 || index >= count) {
    throw new UsageError(
      `--replica: expected 0 <= i < N, received i=${index} N=${count} ("${text}")`,
    );
  }
  if (options.partitions % count !== 0) {
    throw new UsageError(
      `--replica: N=${count} must divide bus.backend.partitions=${options.partitions} (try one of ${
        divisors(options.partitions).join(", ")
      })`,
    );
  }
  return { index, count };
}

/** The partitions replica `spec` owns among `partitions`, ascending. */
export function ownedPartitions(spec: ReplicaSpec, partitions: number): number[] {
  const owned: number[] = [];
  for (let p = spec.index; p < partitions; p += spec.count) owned.push(p);
  return owned;
}

function divisors(n: number): number[] {
  const out: number[] = [];
  for (let d = 1; d <= n; d++) if (n % d === 0) out.push(d);
  return out;
}
