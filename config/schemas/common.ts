/**
 * Small zod building blocks shared by the per-file config schemas: strict tables whose
 * omitted keys take their defaults, and typed scalar fields with a default.
 *
 * @example
 * ```ts
 * import { posInt, table } from "./common.ts";
 * const Backend = table({ capacity: posInt(256) });
 * Backend.parse(undefined); // { capacity: 256 }
 * ```
 * @module
 */
import { z } from "zod";

/**
 * A strict TOML table: unknown keys are errors, an omitted table is `{}` with every default.
 *
 * @example
 * ```ts
 * import { table, bool } from "./common.ts";
 * table({ enabled: bool(false) }).parse(undefined); // { enabled: false }
 * ```
 */
export function table<T extends z.core.$ZodLooseShape>(shape: T) {
  return z.strictObject(shape).prefault({} as never);
}

/**
 * Any integer, defaulting to `value`.
 *
 * @example
 * ```ts
 * import { int } from "./common.ts";
 * int(0).parse(undefined); // 0
 * ```
 */
export function int(value: number) {
  return z.int().default(value);
}

/**
 * An integer ≥ 1, defaulting to `value`.
 *
 * @example
 * ```ts
 * import { posInt } from "./common.ts";
 * posInt(256).parse(undefined); // 256
 * ```
 */
export function posInt(value: number) {
  return z.int().min(1).default(value);
}

/**
 * An integer ≥ 0, defaulting to `value`.
 *
 * @example
 * ```ts
 * import { natInt } from "./common.ts";
 * natInt(0).parse(undefined); // 0
 * ```
 */
export function natInt(value: number) {
  return z.int().min(0).default(value);
}

/**
 * A TCP port 0..65535 (0 = pick a free port), defaulting to `value`.
 *
 * @example
 * ```ts
 * import { port } from "./common.ts";
 * port(9090).parse(undefined); // 9090
 * ```
 */
export function port(value: number) {
  return z.int().min(0).max(65535).default(value);
}

/**
 * A finite number > 0, defaulting to `value`.
 *
 * @example
 * ```ts
 * import { posNum } from "./common.ts";
 * posNum(0.5).parse(undefined); // 0.5
 * ```
 */
export function posNum(value: number) {
  return z.number().gt(0).default(value);
}

/**
 * A finite number ≥ 0, defaulting to `value`.
 *
 * @example
 * ```ts
 * import { natNum } from "./common.ts";
 * natNum(1.0).parse(undefined); // 1
 * ```
 */
export function natNum(value: number) {
  return z.number().min(0).default(value);
}

/**
 * A number in [0, 1], defaulting to `value`.
 *
 * @example
 * ```ts
 * import { unit } from "./common.ts";
 * unit(0.7).parse(undefined); // 0.7
 * ```
 */
export function unit(value: number) {
  return z.number().min(0).max(1).default(value);
}

/**
 * A boolean, defaulting to `value`.
 *
 * @example
 * ```ts
 * import { bool } from "./common.ts";
 * bool(true).parse(undefined); // true
 * ```
 */
export function bool(value: boolean) {
  return z.boolean().default(value);
}

/**
 * A string, defaulting to `value`.
 *
 * @example
 * ```ts
 * import { str } from "./common.ts";
 * str("augur").parse(undefined); // "augur"
 * ```
 */
export function str(value: string) {
  return z.string().default(value);
}

/**
 * A non-empty string without a default (required key).
 *
 * @example
 * ```ts
 * import { requiredString } from "./common.ts";
 * requiredString().parse("kalshi_fed");
 * ```
 */
export function requiredString() {
  return z.string().min(1);
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The NAME of an environment variable holding a secret (keys ending in `_env`). The value is
 * read only when asked for, see config/secrets.ts.
 *
 * @example
 * ```ts
 * import { envName } from "./common.ts";
 * envName("REDIS_URL").parse(undefined); // "REDIS_URL"
 * ```
 */
export function envName(value: string) {
  return z.string().regex(ENV_NAME, { error: "an environment variable name like REDIS_URL" })
    .default(value);
}

/**
 * An optional environment variable name (no default; absent means "not used").
 *
 * @example
 * ```ts
 * import { optionalEnvName } from "./common.ts";
 * optionalEnvName().parse(undefined); // undefined
 * ```
 */
export function optionalEnvName() {
  return z.string().regex(ENV_NAME, { error: "an environment variable name like REDIS_URL" })
    .optional();
}

/**
 * An enum with a default.
 *
 * @example
 * ```ts
 * import { oneOf } from "./common.ts";
 * oneOf(["memory", "nats"], "memory").parse(undefined); // "memory"
 * ```
 */
export function oneOf<const T extends readonly [string, ...string[]]>(
  values: T,
  value: T[number],
) {
  return z.enum(values).default(value as never);
}

/**
 * A cross-key problem found after the schema parsed: the key path inside the file and a
 * message saying what was expected and what was received.
 *
 * @example
 * ```ts
 * import type { ConfigIssue } from "./common.ts";
 * const issue: ConfigIssue = { path: ["markets"], message: "no active market" };
 * ```
 */
export interface ConfigIssue {
  /** Key path inside the file, e.g. `["markets", 2, "id"]`. */
  path: (string | number)[];
  /** What was expected and what was received. */
  message: string;
}
