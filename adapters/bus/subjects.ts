/**
 * Subject helpers shared by the bus backends: NATS-style wildcard matching (`*` one token,
 * `>` one or more trailing tokens), the family of a subject or pattern, and validation.
 *
 * @example
 * ```ts
 * import { compileSubjectMatcher, familyOf } from "./subjects.ts";
 * const match = compileSubjectMatcher("augur.snapshots.07.>");
 * match("augur.snapshots.07.polymarket.m1"); // true
 * familyOf("augur.snapshots.07.>"); // "snapshots"
 * ```
 * @module
 */

/**
 * Compile a NATS subject pattern into a fast predicate.
 *
 * @example
 * ```ts
 * import { compileSubjectMatcher } from "./subjects.ts";
 * compileSubjectMatcher("augur.*.dlq")("augur.ops.dlq"); // true
 * ```
 */
export function compileSubjectMatcher(pattern: string): (subject: string) => boolean {
  const tokens = pattern.split(".");
  const hasStar = tokens.includes("*");
  const last = tokens[tokens.length - 1];
  if (!hasStar && last !== ">") return (subject) => subject === pattern;
  if (!hasStar && last === ">") {
    const head = pattern.slice(0, -1); // keeps the trailing "."
    return (subject) => subject.length > head.length && subject.startsWith(head);
  }
  return (subject) => {
    const parts = subject.split(".");
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i];
      if (t === ">") return parts.length > i;
      if (i >= parts.length) return false;
      if (t !== "*" && t !== parts[i]) return false;
    }
    return parts.length === tokens.length;
  };
}

/**
 * The family (second token) of a subject or pattern; throws when it is missing or a
 * wildcard, because every backend keeps one stream per family.
 *
 * @example
 * ```ts
 * import { familyOf } from "./subjects.ts";
 * familyOf("augur.signals"); // "signals"
 * ```
 */
export function familyOf(subjectOrPattern: string): string {
  const tokens = subjectOrPattern.split(".");
  const family = tokens[1];
  if (tokens.length < 2 || !family || family === "*" || family === ">") {
    throw new TypeError(
      `bus subject: expected "<prefix>.<family>[.…]" with a literal family, received "${subjectOrPattern}"`,
    );
  }
  return family;
}

/**
 * Throw unless `subject` is a concrete publish subject: non-empty dotted tokens, no
 * wildcards, no whitespace, at least `<prefix>.<family>`.
 *
 * @example
 * ```ts
 * import { assertPublishSubject } from "./subjects.ts";
 * assertPublishSubject("augur.signals"); // ok
 * ```
 */
export function assertPublishSubject(subject: string): void {
  const tokens = subject.split(".");
  if (
    tokens.length < 2 || tokens.some((t) => t === "" || t === "*" || t === ">" || /\s/.test(t))
  ) {
    throw new TypeError(
      `bus publish: expected a concrete subject "<prefix>.<family>[.…]" without wildcards, received "${subject}"`,
    );
  }
}
