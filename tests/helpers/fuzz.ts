/**
 * A small seeded fuzzer for the boundary tests under tests/fuzz/: random JSON values and
 * mutations of valid inputs (byte flips, truncation, key deletion/insertion, type swaps, huge
 * numbers, NaN-like strings, deep nesting, unicode, very long strings), plus helpers to run a
 * decoder with a time budget and classify its outcome.
 *
 * Every fuzz file uses a fixed seed (override with `AUGUR_FUZZ_SEED`) and a case count (scale
 * with `AUGUR_FUZZ_SCALE`, e.g. `AUGUR_FUZZ_SCALE=20` for a long local run) and prints both.
 *
 * @example
 * ```ts
 * import { Fuzz, fuzzPlan } from "./fuzz.ts";
 * const plan = fuzzPlan("example", { seed: 7, cases: 100 });
 * const f = new Fuzz(plan.seed);
 * const mutated = f.mutateText('{"a":1}');
 * ```
 * @module
 */
import { Prng } from "./prng.ts";
import { waitForSettled } from "./wait.ts";

/** Seed and case count of one fuzz file. */
export interface FuzzPlan {
  readonly seed: number;
  readonly cases: number;
}

/**
 * The plan of a fuzz file: its fixed seed (or `AUGUR_FUZZ_SEED`) and `cases` ×
 * `AUGUR_FUZZ_SCALE` (default 1). Prints `fuzz <name>: seed=… cases=…`.
 *
 * @example
 * ```ts
 * import { fuzzPlan } from "./fuzz.ts";
 * const { seed, cases } = fuzzPlan("toml_config", { seed: 1234, cases: 2000 });
 * ```
 */
export function fuzzPlan(name: string, defaults: FuzzPlan): FuzzPlan {
  const env = (key: string) => {
    try {
      return Deno.env.get(key);
    } catch {
      return undefined;
    }
  };
  const seedText = env("AUGUR_FUZZ_SEED");
  const scaleText = env("AUGUR_FUZZ_SCALE");
  const seed = seedText ? Number(seedText) >>> 0 : defaults.seed;
  const scale = scaleText ? Math.max(0.01, Number(scaleText)) : 1;
  const cases = Math.max(1, Math.round(defaults.cases * scale));
  console.log(`fuzz ${name}: seed=${seed} cases=${cases}`);
  return { seed, cases };
}

/** Strings that look like numbers, keywords or trouble. */
export const NASTY_STRINGS: readonly string[] = [
  "",
  " ",
  "NaN",
  "-NaN",
  "Infinity",
  "-Infinity",
  "1e999",
  "-0",
  "0x10",
  "1_000",
  "９",
  "null",
  "undefined",
  "true",
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "\u0000",
  "\r\n",
  "a\nb",
  "\ud800",
  "\udfff",
  "😀",
  "e\u0301",
  "\u202e",
  "\ufeff",
  "%s%n",
  "${x}",
  "'\"`",
  "\\",
  "2026-02-30T00:00:00Z",
  "2026-03-15T12:00:07Z",
  "9999-12-31T23:59:59.999999Z",
  "0000-01-01T00:00:00Z",
  "1970-01-01T00:00:00+00:00",
];

/** Numbers at the edges. */
export const EDGE_NUMBERS: readonly number[] = [
  0,
  -0,
  1,
  -1,
  0.5,
  1.0000000000000002,
  0.1,
  1e-7,
  5e-324,
  -5e-324,
  Number.MAX_VALUE,
  -Number.MAX_VALUE,
  Number.MAX_SAFE_INTEGER,
  Number.MAX_SAFE_INTEGER + 1,
  -Number.MAX_SAFE_INTEGER - 2,
  2 ** 63,
  1e21,
  1e16,
  123456789.123456789,
  4294967296,
  -2147483649,
];

/** Number literals only JSON text can carry (non-finite after parsing, or lossy). */
export const EDGE_NUMBER_LITERALS: readonly string[] = [
  "1e999",
  "-1e999",
  "1e-999",
  "-0",
  "-0.0",
  "0.30000000000000004",
  "9007199254740993",
  "123456789012345678901234567890",
  "1E+2",
  "0.1e1",
  "1.0",
  "00",
  "01",
  "+1",
  ".5",
  "NaN",
  "Infinity",
];

const CHARSETS: readonly string[] = [
  "abcdefghijklmnopqrstuvwxyz",
  "ABCXYZ0123456789_-.~:/@",
  " \t\r\n\"\\'{}[],:",
  "éßøπ中文日本語한국어😀🚀𝕏\u200b\u202e\ufeff",
  "\u0000\u0001\u001f\u007f",
];

/**
 * A seeded source of random inputs and mutations.
 *
 * @example
 * ```ts
 * import { Fuzz } from "./fuzz.ts";
 * const f = new Fuzz(42);
 * f.json(3); // a random JSON value, nesting ≤ 3
 * ```
 */
export class Fuzz {
  readonly rng: Prng;

  constructor(seed: number) {
    this.rng = new Prng(seed);
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return this.rng.int(n);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.rng.next() < p;
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    return items[this.rng.int(items.length)];
  }

  /** A random string: nasty constants, random charset mixes, occasionally very long. */
  string(): string {
    const r = this.rng.next();
    if (r < 0.3) return this.pick(NASTY_STRINGS);
    if (r < 0.35) return "x".repeat(10_000 + this.int(90_000));
    const charset = this.pick(CHARSETS);
    const chars = [...charset];
    const n = this.int(24);
    let out = "";
    for (let i = 0; i < n; i++) out += this.pick(chars);
    return out;
  }

  /** A random number: edge values, small integers, uniform floats. */
  number(): number {
    const r = this.rng.next();
    if (r < 0.4) return this.pick(EDGE_NUMBERS);
    if (r < 0.6) return this.int(2000) - 1000;
    if (r < 0.8) return this.rng.next();
    return (this.rng.next() - 0.5) * 10 ** (this.int(40) - 10);
  }

  /** A random JSON value with nesting ≤ depth. */
  json(depth = 3): unknown {
    const r = this.int(depth > 0 ? 7 : 4);
    switch (r) {
      case 0:
        return null;
      case 1:
        return this.chance(0.5);
      case 2:
        return this.number();
      case 3:
        return this.string();
      case 4:
      case 5: {
        const out: Record<string, unknown> = {};
        const n = this.int(5);
        for (let i = 0; i < n; i++) out[this.string().slice(0, 40)] = this.json(depth - 1);
        return out;
      }
      default: {
        const n = this.int(5);
        return Array.from({ length: n }, () => this.json(depth - 1));
      }
    }
  }

  /** A deeply nested array or object text (`[[[…]]]`), depth ≥ 1. */
  deepText(depth: number): string {
    return this.chance(0.5)
      ? "[".repeat(depth) + "]".repeat(depth)
      : '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
  }

  /** A replacement value of another type than `value` (type swap) or an edge value. */
  swap(value: unknown): unknown {
    const options: (() => unknown)[] = [
      () => null,
      () => this.string(),
      () => this.number(),
      () => this.chance(0.5),
      () => [],
      () => ({}),
      () => [value],
      () => ({ value }),
      () => this.json(2),
      () => String(value),
      () => typeof value === "number" ? -value : 1e308,
      () => typeof value === "string" ? value + this.string() : this.string(),
      () => typeof value === "number" ? value + 1e-9 : 0,
      () => typeof value === "number" ? Math.round(value * 1e6) / 1e6 + 1 : 1,
    ];
    return this.pick(options)();
  }

  /**
   * A structurally mutated deep copy of a JSON value: 1–3 of delete a key, insert a key,
   * swap a value's type, replace by an edge value, duplicate or empty an array, nest deeply.
   */
  mutateValue(value: unknown): unknown {
    const copy = structuredClone(value);
    let root: unknown = copy;
    const rounds = 1 + this.int(3);
    for (let i = 0; i < rounds; i++) {
      const paths = collectPaths(root);
      const path = this.pick(paths);
      const parent = path.length === 0 ? undefined : getAt(root, path.slice(0, -1));
      const key = path[path.length - 1];
      const current = path.length === 0 ? root : getAt(root, path);
      const op = this.int(8);
      let next: unknown = current;
      let remove = false;
      switch (op) {
        case 0:
          remove = true;
          break;
        case 1:
          if (isRecord(current)) {
            // defineProperty: a "__proto__" key becomes an own key, as JSON.parse makes it
            Object.defineProperty(
              current,
              this.chance(0.3) ? this.pick(NASTY_STRINGS) : this.string().slice(0, 30),
              { value: this.json(1), enumerable: true, writable: true, configurable: true },
            );
          } else next = this.swap(current);
          break;
        case 2:
        case 3:
          next = this.swap(current);
          break;
        case 4:
          next = this.pick(EDGE_NUMBERS);
          break;
        case 5:
          next = this.pick(NASTY_STRINGS);
          break;
        case 6:
          if (Array.isArray(current)) {
            next = this.chance(0.5) ? [] : [...current, ...current];
          } else next = this.swap(current);
          break;
        default: {
          let nested: unknown = current;
          const depth = 1 + this.int(this.chance(0.1) ? 300 : 40);
          for (let d = 0; d < depth; d++) nested = [nested];
          next = nested;
        }
      }
      if (path.length === 0) {
        if (!remove) root = next;
        continue;
      }
      if (Array.isArray(parent)) {
        if (remove) parent.splice(key as number, 1);
        else parent[key as number] = next;
      } else if (isRecord(parent)) {
        if (remove) delete parent[key as string];
        else parent[key as string] = next;
      }
    }
    return root;
  }

  /** A mutated copy of JSON text: token-level edits (edge number literals, keys, nesting). */
  mutateText(text: string): string {
    const op = this.int(8);
    switch (op) {
      case 0: { // replace a number literal by an edge literal
        const numbers = [...text.matchAll(/-?\d+(\.\d+)?([eE][-+]?\d+)?/g)];
        if (numbers.length === 0) break;
        const m = this.pick(numbers);
        return text.slice(0, m.index) + this.pick(EDGE_NUMBER_LITERALS) +
          text.slice(m.index! + m[0].length);
      }
      case 1: { // duplicate a key (last wins in JSON.parse)
        const keys = [...text.matchAll(/"([A-Za-z_]+)":/g)];
        if (keys.length === 0) break;
        const m = this.pick(keys);
        const value = JSON.stringify(this.json(1));
        return text.slice(0, m.index) + `"${m[1]}":${value},` + text.slice(m.index);
      }
      case 2: { // insert a __proto__ / constructor key into some object
        const braces = [...text.matchAll(/\{/g)];
        if (braces.length === 0) break;
        const m = this.pick(braces);
        const key = this.pick([
          "__proto__",
          "\\u005f_proto__",
          "constructor",
          "toString",
        ]);
        const rest = text.slice(m.index! + 1);
        return text.slice(0, m.index! + 1) + `"${key}":${JSON.stringify(this.json(1))}` +
          (rest.startsWith("}") ? "" : ",") + rest;
      }
      case 3: { // wrap a value in deep nesting
        const colons = [...text.matchAll(/:/g)];
        if (colons.length === 0) break;
        const m = this.pick(colons);
        const depth = this.chance(0.3) ? 5_000 + this.int(50_000) : 1 + this.int(50);
        const close = text.indexOf(",", m.index!);
        if (close < 0) break;
        return text.slice(0, m.index! + 1) + "[".repeat(depth) +
          text.slice(m.index! + 1, close) + "]".repeat(depth) + text.slice(close);
      }
      case 4: { // replace a string literal by a nasty one
        const strings = [...text.matchAll(/"(?:[^"\\]|\\.)*"/g)];
        if (strings.length === 0) break;
        const m = this.pick(strings);
        return text.slice(0, m.index) + JSON.stringify(this.string()) +
          text.slice(m.index! + m[0].length);
      }
      case 5: // truncate
        return text.slice(0, this.int(text.length + 1));
      case 6: // bad escapes / lone surrogates in text form
        return text.replace(/"/, this.pick(['"\\ud800', '"\\x41', '"\\u12', '"\u0000']));
      default:
        break;
    }
    return new TextDecoder().decode(this.mutateBytes(new TextEncoder().encode(text)));
  }

  /** A mutated copy of bytes: flip, delete, insert, duplicate, truncate or invalid UTF-8. */
  mutateBytes(bytes: Uint8Array): Uint8Array {
    const out = [...bytes];
    const rounds = 1 + this.int(4);
    for (let i = 0; i < rounds; i++) {
      const at = this.int(out.length + 1);
      switch (this.int(6)) {
        case 0:
          if (at < out.length) out[at] ^= 1 << this.int(8);
          break;
        case 1:
          out.splice(at, 1 + this.int(8));
          break;
        case 2:
          out.splice(at, 0, this.int(256));
          break;
        case 3: {
          const len = this.int(32);
          out.splice(at, 0, ...out.slice(at, at + len));
          break;
        }
        case 4:
          out.length = at;
          break;
        default:
          out.splice(at, 0, this.pick([0xff, 0xc0, 0xed, 0x80, 0xfe]));
      }
    }
    return new Uint8Array(out);
  }
}

type PathKey = string | number;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Every path into a JSON value (the root is `[]`), nesting ≤ 12. */
function collectPaths(value: unknown, prefix: PathKey[] = [], out: PathKey[][] = []): PathKey[][] {
  out.push(prefix);
  if (prefix.length >= 12) return out;
  if (Array.isArray(value)) {
    for (let i = 0; i < Math.min(value.length, 16); i++) {
      collectPaths(value[i], [...prefix, i], out);
    }
  } else if (isRecord(value)) {
    for (const k of Object.keys(value)) collectPaths(value[k], [...prefix, k], out);
  }
  return out;
}

function getAt(root: unknown, path: readonly PathKey[]): unknown {
  let node = root;
  for (const k of path) node = (node as Record<PathKey, unknown>)[k];
  return node;
}

/** The outcome of one fuzz case. */
export type Outcome<T> =
  | { readonly ok: true; readonly value: T; readonly ms: number }
  | { readonly ok: false; readonly error: unknown; readonly ms: number };

/**
 * Run a synchronous decoder, timing it. A decoder that takes longer than `budgetMs` fails the
 * case (the runner of the whole test bounds a real hang).
 *
 * @example
 * ```ts
 * import { runSync } from "./fuzz.ts";
 * const outcome = runSync(() => JSON.parse("{"), 100);
 * outcome.ok; // false
 * ```
 */
export function runSync<T>(fn: () => T, budgetMs: number): Outcome<T> {
  const started = performance.now();
  let outcome: Outcome<T>;
  try {
    const value = fn();
    outcome = { ok: true, value, ms: performance.now() - started };
  } catch (error) {
    outcome = { ok: false, error, ms: performance.now() - started };
  }
  if (outcome.ms > budgetMs) {
    throw new Error(
      `fuzz case exceeded its time budget: ${outcome.ms.toFixed(1)} ms > ${budgetMs}`,
    );
  }
  return outcome;
}

/**
 * Run an async decoder with a time budget; a case that does not settle in time fails.
 *
 * @example
 * ```ts
 * import { runAsync } from "./fuzz.ts";
 * const outcome = await runAsync(() => Promise.resolve(1), 100);
 * ```
 */
export async function runAsync<T>(fn: () => Promise<T>, budgetMs: number): Promise<Outcome<T>> {
  const started = performance.now();
  const settled = (async (): Promise<Outcome<T>> => {
    try {
      return { ok: true, value: await fn(), ms: 0 };
    } catch (error) {
      return { ok: false, error, ms: 0 };
    }
  })();
  const outcome = await waitForSettled(settled, {
    timeoutMs: budgetMs,
    message: `fuzz case did not settle within ${budgetMs} ms`,
  });
  return { ...outcome, ms: performance.now() - started };
}

/** Error classes accepted as "typed" failures. */
// deno-lint-ignore no-explicit-any
export type ErrorClass = abstract new (...args: any[]) => Error;

/**
 * Throw a descriptive error when `error` is not an instance of one of `classes` (the input,
 * shortened, is included to reproduce the case).
 *
 * @example
 * ```ts
 * import { expectTypedError } from "./fuzz.ts";
 * expectTypedError(new RangeError("x"), [RangeError], "input");
 * ```
 */
export function expectTypedError(
  error: unknown,
  classes: readonly ErrorClass[],
  input: unknown,
): void {
  if (classes.some((c) => error instanceof c)) return;
  const shown = describeInput(input);
  const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  throw new Error(
    `untyped failure (expected ${classes.map((c) => c.name).join(" | ")}): ${detail}\n` +
      `input: ${shown}`,
    { cause: error },
  );
}

/** A short printable rendering of a fuzz input for failure messages. */
export function describeInput(input: unknown): string {
  let text: string;
  if (input instanceof Uint8Array) text = new TextDecoder().decode(input);
  else if (typeof input === "string") text = input;
  else {
    try {
      text = JSON.stringify(input) ?? String(input);
    } catch {
      text = String(input);
    }
  }
  return text.length > 400 ? `${text.slice(0, 400)}… (${text.length} chars)` : text;
}

/** Counters of accepted / rejected cases, printed at the end of a fuzz test. */
export class FuzzTally {
  readonly counts = new Map<string, number>();

  /** Count one case under `label`. */
  add(label: string): void {
    this.counts.set(label, (this.counts.get(label) ?? 0) + 1);
  }

  /** Total cases. */
  get total(): number {
    let n = 0;
    for (const v of this.counts.values()) n += v;
    return n;
  }

  /** One line: `name: total=N ok=… DecodeError=…`. */
  summary(name: string): string {
    const parts = [...this.counts.entries()].sort().map(([k, v]) => `${k}=${v}`);
    return `fuzz ${name}: total=${this.total} ${parts.join(" ")}`;
  }
}
