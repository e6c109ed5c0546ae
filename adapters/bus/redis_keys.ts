/**
 * Subject ↔ Redis stream key mapping for the Redis Streams bus (DESIGN §10): one stream per
 * (family, partition) — `augur.snapshots.07.polymarket.m1` → `augur:snapshots:07` — or per
 * family when the subject carries no numeric partition token (`augur.signals` →
 * `augur:signals`, `augur.ops.dlq` → `augur:ops`). The full subject travels in each entry, so
 * patterns are matched client-side with NATS wildcard semantics.
 *
 * @example
 * ```ts
 * import { streamKeyOf, streamKeysOf, subjectMatches } from "./redis_keys.ts";
 * streamKeyOf("augur.snapshots.7.polymarket.m1", 60); // "augur:snapshots:07"
 * streamKeysOf("augur.snapshots.07.>", 60); // ["augur:snapshots:07"]
 * subjectMatches("augur.snapshots.*.polymarket.>", "augur.snapshots.07.polymarket.m1"); // true
 * ```
 * @module
 */

const NUMERIC = /^\d+$/;

/**
 * The zero-padded partition token of `partition` for a deployment of `partitions` partitions
 * (at least two digits: `7` → `"07"`).
 *
 * @example
 * ```ts
 * import { partitionToken } from "./redis_keys.ts";
 * partitionToken(7, 60); // "07"
 * ```
 */
export function partitionToken(partition: number, partitions: number): string {
  const width = Math.max(2, String(Math.max(0, partitions - 1)).length);
  return String(partition).padStart(width, "0");
}

function tokensOf(subject: string, what: string): string[] {
  const tokens = subject.split(".");
  if (tokens.length < 2 || tokens.some((t) => t === "")) {
    throw new TypeError(
      `redis bus: expected a ${what} "<prefix>.<family>[.<pp>][.…]" (e.g. "augur.signals"), received "${subject}"`,
    );
  }
  return tokens;
}

/**
 * The stream key a concrete subject is stored in. The partition token is re-padded to the
 * deployment's width so `augur.x.7` and `augur.x.07` land in the same stream.
 *
 * @example
 * ```ts
 * import { streamKeyOf } from "./redis_keys.ts";
 * streamKeyOf("augur.ops.dlq", 60); // "augur:ops"
 * ```
 */
export function streamKeyOf(subject: string, partitions: number): string {
  const tokens = tokensOf(subject, "subject");
  if (tokens.some((t) => t === "*" || t === ">")) {
    throw new TypeError(
      `redis bus: expected a concrete subject without wildcards, received "${subject}"`,
    );
  }
  const base = `${tokens[0]}:${tokens[1]}`;
  const third = tokens[2];
  if (third !== undefined && NUMERIC.test(third)) {
    return `${base}:${partitionToken(Number(third), partitions)}`;
  }
  return base;
}

/**
 * The stream keys that may hold subjects matching `pattern`. The prefix and family must be
 * literal. A literal partition token gives that one stream; a wildcard third token gives the
 * family stream plus all `partitions` partition streams; any other literal third token gives
 * the family stream.
 *
 * @example
 * ```ts
 * import { streamKeysOf } from "./redis_keys.ts";
 * streamKeysOf("augur.snapshots.>", 2); // ["augur:snapshots", "augur:snapshots:00", "augur:snapshots:01"]
 * ```
 */
export function streamKeysOf(pattern: string, partitions: number): string[] {
  const tokens = tokensOf(pattern, "pattern");
  if (tokens.slice(0, 2).some((t) => t === "*" || t === ">")) {
    throw new TypeError(
      `redis bus: expected a pattern with a literal prefix and family (e.g. "augur.snapshots.>"), received "${pattern}"`,
    );
  }
  const base = `${tokens[0]}:${tokens[1]}`;
  const third = tokens[2];
  if (third === undefined) return [base];
  if (NUMERIC.test(third)) return [`${base}:${partitionToken(Number(third), partitions)}`];
  if (third === "*" || third === ">") {
    const keys = [base];
    for (let p = 0; p < partitions; p++) keys.push(`${base}:${partitionToken(p, partitions)}`);
    return keys;
  }
  return [base];
}

/**
 * NATS wildcard match: `*` matches exactly one token, a final `>` one or more tokens.
 * Numeric tokens in the partition position compare as numbers (`7` matches `07`).
 *
 * @example
 * ```ts
 * import { subjectMatches } from "./redis_keys.ts";
 * subjectMatches("augur.ops.>", "augur.ops.dlq"); // true
 * subjectMatches("augur.ops.>", "augur.ops"); // false
 * ```
 */
export function subjectMatches(pattern: string, subject: string): boolean {
  if (pattern === subject) return true;
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    const token = p[i];
    if (token === ">") return i === p.length - 1 && s.length > i;
    if (i >= s.length) return false;
    if (token === "*") continue;
    if (token === s[i]) continue;
    if (i === 2 && NUMERIC.test(token) && NUMERIC.test(s[i]) && Number(token) === Number(s[i])) {
      continue;
    }
    return false;
  }
  return p.length === s.length;
}

/**
 * A compiled matcher for `pattern` (fast path for the hot consume loop).
 *
 * @example
 * ```ts
 * import { subjectMatcher } from "./redis_keys.ts";
 * const match = subjectMatcher("augur.signals");
 * match("augur.signals"); // true
 * ```
 */
export function subjectMatcher(pattern: string): (subject: string) => boolean {
  if (!pattern.includes("*") && !pattern.includes(">")) {
    const tokens = pattern.split(".");
    if (tokens.length < 3 || !NUMERIC.test(tokens[2])) return (s) => s === pattern;
  }
  // A pattern "<prefix>.<family>.<pp>.>" or "<prefix>.<family>.>": cache per subject.
  const cache = new Map<string, boolean>();
  return (subject) => {
    let hit = cache.get(subject);
    if (hit === undefined) {
      hit = subjectMatches(pattern, subject);
      if (cache.size > 10_000) cache.clear();
      cache.set(subject, hit);
    }
    return hit;
  };
}
