/**
 * Load the configuration directory: every `*.toml` file is parsed with smol-toml, validated
 * against its strict zod schema (unknown keys are errors, omitted keys default), checked
 * across keys, and assembled into one deeply frozen {@linkcode AugurConfig}.
 *
 * Directory: `options.dir`, else `AUGUR_CONFIG_DIR`, else `config`. A missing file means "all
 * defaults" except `markets.toml` (the watchlist), which must exist. An unknown `*.toml`
 * file is an error; `default.toml` is ignored (DOMAIN §12). Every problem is a
 * {@linkcode ConfigError} with one line naming the file, the key path, what was expected and
 * what was received, e.g.
 * `config/bus.toml: backend.kindd: unknown key (did you mean "kind"?)`.
 *
 * Secrets are never in TOML: keys ending in `_env` name environment variables, read only on
 * demand with {@linkcode readSecret} (re-exported from ./secrets.ts).
 *
 * @example
 * ```ts
 * import { loadConfig } from "./loader.ts";
 * const config = await loadConfig({ dir: "config" });
 * console.log(config.bus.backend.kind, config.markets.markets.length);
 * ```
 * @module
 */
import { parse, TomlError } from "smol-toml";
import type { z } from "zod";
import { ConfigError, nearest } from "./errors.ts";
import {
  type AugurConfig,
  type AugurConfigData,
  CONFIG_FILES,
  type ConfigFileSpec,
  IGNORED_FILES,
} from "./schema.ts";
import { bindConfigSource, envGetter, type EnvSource } from "./secrets.ts";

export type { AugurConfig, AugurConfigData } from "./schema.ts";
export {
  checkSecrets,
  configDirOf,
  type EnvSource,
  readSecret,
  secretAccessors,
  type SecretRef,
  secretRefs,
  type SecretStatus,
  secretStatus,
} from "./secrets.ts";

/** Default configuration directory (relative to the working directory). */
export const DEFAULT_CONFIG_DIR = "config";

/** Options of {@linkcode loadConfig} and {@linkcode parseConfig}. */
export interface LoadConfigOptions {
  /** Config directory (e.g. from `--config DIR`); else `AUGUR_CONFIG_DIR`, else `config`. */
  dir?: string;
  /** Environment (a record or a getter); defaults to `Deno.env.get`, read lazily. */
  env?: EnvSource;
}

/**
 * The config directory to use: the explicit `dir`, else `AUGUR_CONFIG_DIR`, else `config`.
 *
 * @example
 * ```ts
 * import { resolveConfigDir } from "./loader.ts";
 * resolveConfigDir({ env: { AUGUR_CONFIG_DIR: "/etc/augur" } }); // "/etc/augur"
 * ```
 */
export function resolveConfigDir(options: LoadConfigOptions = {}): string {
  if (options.dir !== undefined && options.dir !== "") return options.dir;
  const fromEnv = envGetter(options.env)("AUGUR_CONFIG_DIR");
  return fromEnv !== undefined && fromEnv !== "" ? fromEnv : DEFAULT_CONFIG_DIR;
}

/**
 * Read and validate every `*.toml` file of the config directory.
 *
 * @example
 * ```ts
 * import { loadConfig } from "./loader.ts";
 * const config = await loadConfig({ dir: "config", env: { REDIS_URL: "redis://x" } });
 * config.bus.redis.url_env; // "REDIS_URL"
 * ```
 * @throws {ConfigError} on the first problem, with a one-line message.
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<AugurConfig> {
  const dir = resolveConfigDir(options);
  const texts: Record<string, string> = {};
  let entries: Deno.DirEntry[];
  try {
    entries = [];
    for await (const entry of Deno.readDir(dir)) entries.push(entry);
  } catch (error) {
    throw new ConfigError(
      `${dir}: ${
        error instanceof Deno.errors.NotFound
          ? "config directory not found"
          : error instanceof Deno.errors.NotADirectory
          ? "not a directory"
          : `cannot read config directory (${(error as Error).name})`
      } (set --config DIR or AUGUR_CONFIG_DIR)`,
      { cause: error },
    );
  }
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (!entry.name.endsWith(".toml") || entry.isDirectory) continue;
    if (IGNORED_FILES.includes(entry.name)) continue;
    checkKnownFile(dir, entry.name);
    try {
      texts[entry.name] = await Deno.readTextFile(`${trimDir(dir)}/${entry.name}`);
    } catch (error) {
      throw new ConfigError(
        `${displayPath(dir, entry.name)}: cannot read file (${(error as Error).name})`,
        { cause: error },
      );
    }
  }
  return parseConfig(texts, { ...options, dir });
}

/**
 * Validate config file contents given as text, keyed by file name (`"bus.toml"`). The same
 * rules as {@linkcode loadConfig} apply; `dir` only labels messages (default `config`).
 *
 * @example
 * ```ts
 * import { parseConfig } from "./loader.ts";
 * const config = parseConfig({
 *   "markets.toml": '[[markets]]\nid = "kalshi_fed"\nplatform = "kalshi"\nplatform_market_id = "FED"\n',
 * });
 * config.bus.backend.capacity; // 256
 * ```
 * @throws {ConfigError} on the first problem, with a one-line message.
 */
export function parseConfig(
  files: Readonly<Record<string, string>>,
  options: LoadConfigOptions = {},
): AugurConfig {
  const dir = options.dir ?? DEFAULT_CONFIG_DIR;
  for (const name of Object.keys(files)) {
    if (!IGNORED_FILES.includes(name)) checkKnownFile(dir, name);
  }
  const out: Record<string, unknown> = {};
  for (const spec of CONFIG_FILES) {
    const text = files[spec.file];
    if (text === undefined && spec.required) {
      throw new ConfigError(
        `${
          displayPath(dir, spec.file)
        }: required file is missing (the watchlist: at least one [[markets]] entry)`,
      );
    }
    out[spec.key] = parseFile(spec, text ?? "", displayPath(dir, spec.file));
  }
  const config = deepFreeze(out) as unknown as AugurConfig;
  bindConfigSource(config, { dir, env: options.env });
  return config;
}

function parseFile(spec: ConfigFileSpec, text: string, where: string): unknown {
  let raw: Record<string, unknown>;
  try {
    raw = parse(text) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof TomlError) {
      const reason = error.message.split("\n")[0].replace(/^Invalid TOML document:\s*/, "");
      throw new ConfigError(
        `${where}: line ${error.line}, column ${error.column}: invalid TOML (${reason})`,
        { cause: error },
      );
    }
    throw new ConfigError(`${where}: invalid TOML (${(error as Error).message})`, {
      cause: error,
    });
  }
  const result = spec.schema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    const { path, message } = describeIssue(issue, raw, spec.schema);
    throw new ConfigError(`${where}: ${path ? `${path}: ` : ""}${oneLine(message)}`, {
      cause: result.error,
    });
  }
  const problem = spec.validate?.(result.data as never);
  if (problem) {
    throw new ConfigError(`${where}: ${formatPath(problem.path)}: ${oneLine(problem.message)}`);
  }
  return spec.section ? spec.section(result.data as never) : result.data;
}

/** Keep a message on one line: control characters (from quoted TOML values) are escaped. */
function oneLine(message: string): string {
  // deno-lint-ignore no-control-regex
  return message.replace(/[\u0000-\u001f\u007f]/g, (c) => JSON.stringify(c).slice(1, -1));
}

function checkKnownFile(dir: string, name: string): void {
  const known = CONFIG_FILES.map((f) => f.file);
  if (known.includes(name)) return;
  const hint = nearest(name.replace(/\.toml$/, ""), known.map((k) => k.replace(/\.toml$/, "")));
  throw new ConfigError(
    `${displayPath(dir, name)}: unknown config file (${
      hint ? `did you mean "${hint}.toml"?` : `expected one of ${known.join(", ")}`
    })`,
  );
}

function trimDir(dir: string): string {
  return dir.length > 1 ? dir.replace(/\/+$/, "") : dir;
}

function displayPath(dir: string, file: string): string {
  const d = trimDir(dir);
  return d === "/" ? `/${file}` : `${d}/${file}`;
}

/**
 * Format a key path as `backend.kind`, `markets[2].id` or `categories."a b".consumers`.
 *
 * @example
 * ```ts
 * import { formatPath } from "./loader.ts";
 * formatPath(["markets", 2, "id"]); // "markets[2].id"
 * ```
 */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else {
      const s = String(segment);
      const token = /^[A-Za-z0-9_-]+$/.test(s) ? s : JSON.stringify(s);
      out += out === "" ? token : `.${token}`;
    }
  }
  return out;
}

/** Describe a TOML value for "received …" (never more than a short excerpt). */
function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (typeof value === "string") {
    const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value;
    return `string ${JSON.stringify(shown)}`;
  }
  if (typeof value === "number" || typeof value === "bigint") return `number ${value}`;
  if (typeof value === "boolean") return `boolean ${value}`;
  if (value instanceof Date) return `datetime ${value.toISOString()}`;
  if (Array.isArray(value)) return value.length === 0 ? "an empty array" : "an array";
  if (value === null) return "null";
  return "a table";
}

const TYPE_NAMES: Record<string, string> = {
  int: "integer",
  number: "number",
  string: "string",
  boolean: "boolean",
  array: "array",
  object: "table",
  record: "table",
  date: "datetime",
};

type Issue = z.core.$ZodIssue;

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let node: unknown = root;
  for (const segment of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<PropertyKey, unknown>)[segment];
  }
  return node;
}

interface ZodDefLike {
  type: string;
  shape?: Record<string, { _zod: { def: ZodDefLike } }>;
  innerType?: { _zod: { def: ZodDefLike } };
  in?: { _zod: { def: ZodDefLike } };
  element?: { _zod: { def: ZodDefLike } };
  valueType?: { _zod: { def: ZodDefLike } };
  format?: string;
}

function unwrap(def: ZodDefLike): ZodDefLike {
  let d = def;
  for (let i = 0; i < 20; i++) {
    if (d.innerType) d = d.innerType._zod.def;
    else if (d.type === "pipe" && d.in) d = d.in._zod.def;
    else break;
  }
  return d;
}

/** The (unwrapped) schema definition found at `path`, if any. */
function defAt(schema: z.ZodType, path: readonly PropertyKey[]): ZodDefLike | undefined {
  let def = unwrap((schema as unknown as { _zod: { def: ZodDefLike } })._zod.def);
  for (const segment of path) {
    if (def.type === "object" && def.shape && typeof segment === "string") {
      const next = def.shape[segment];
      if (!next) return undefined;
      def = unwrap(next._zod.def);
    } else if (def.type === "array" && def.element) def = unwrap(def.element._zod.def);
    else if (def.type === "record" && def.valueType) def = unwrap(def.valueType._zod.def);
    else return undefined;
  }
  return def;
}

/** Keys allowed by the object schema found at `path`, if it is an object. */
function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  const def = defAt(schema, path);
  return def?.type === "object" && def.shape ? Object.keys(def.shape) : [];
}

function describeIssue(
  issue: Issue,
  raw: unknown,
  schema: z.ZodType,
): { path: string; message: string } {
  const value = valueAt(raw, issue.path);
  const received = describeValue(value);
  switch (issue.code) {
    case "unrecognized_keys": {
      const key = issue.keys[0];
      const candidates = keysAt(schema, issue.path);
      const hint = nearest(key, candidates);
      const help = hint
        ? ` (did you mean "${hint}"?)`
        : candidates.length > 0
        ? ` (valid keys: ${candidates.join(", ")})`
        : "";
      return { path: formatPath([...issue.path, key]), message: `unknown key${help}` };
    }
    case "invalid_type": {
      const def = defAt(schema, issue.path);
      const isInt = issue.expected === "number" && /int/.test(String(def?.format ?? ""));
      const expected = isInt ? "integer" : TYPE_NAMES[issue.expected] ?? issue.expected;
      if (value === undefined) {
        return {
          path: formatPath(issue.path),
          message: `missing required key (expected ${expected})`,
        };
      }
      return {
        path: formatPath(issue.path),
        message: `expected ${expected}, received ${received}`,
      };
    }
    case "invalid_value": {
      const allowed = issue.values.map((v) => JSON.stringify(v));
      if (value === undefined) {
        return {
          path: formatPath(issue.path),
          message: `missing required key (expected one of ${allowed.join(", ")})`,
        };
      }
      const hint = typeof value === "string"
        ? nearest(value, issue.values.filter((v): v is string => typeof v === "string"))
        : undefined;
      return {
        path: formatPath(issue.path),
        message: `expected one of ${allowed.join(", ")}, received ${received}${
          hint ? ` (did you mean "${hint}"?)` : ""
        }`,
      };
    }
    case "too_small":
    case "too_big": {
      const limit = issue.code === "too_small" ? issue.minimum : issue.maximum;
      const op = issue.code === "too_small"
        ? (issue.inclusive ? ">=" : ">")
        : (issue.inclusive ? "<=" : "<");
      let expected: string;
      if (issue.origin === "array") {
        expected = issue.code === "too_small"
          ? `at least ${limit} item${Number(limit) === 1 ? "" : "s"}`
          : `at most ${limit} item${Number(limit) === 1 ? "" : "s"}`;
      } else if (issue.origin === "string") {
        expected = issue.code === "too_small" && Number(limit) === 1
          ? "a non-empty string"
          : `a string of ${
            issue.code === "too_small" ? "at least" : "at most"
          } ${limit} characters`;
      } else {
        expected = `a value ${op} ${limit}`;
      }
      return {
        path: formatPath(issue.path),
        message: `expected ${expected}, received ${received}`,
      };
    }
    case "invalid_format":
    case "custom":
    default:
      return {
        path: formatPath(issue.path),
        message: `expected ${
          issue.message.replace(/^Invalid input: expected /, "")
        }, received ${received}`,
      };
  }
}

/**
 * Freeze an object and everything reachable from it.
 *
 * @example
 * ```ts
 * import { deepFreeze } from "./loader.ts";
 * const o = deepFreeze({ a: { b: [1] } });
 * Object.isFrozen(o.a.b); // true
 * ```
 */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    for (const key of Reflect.ownKeys(value)) {
      deepFreeze((value as Record<PropertyKey, unknown>)[key]);
    }
    Object.freeze(value);
  }
  return value;
}

/** One section of the effective config, e.g. `ConfigSection<"bus">`. */
export type ConfigSection<K extends keyof AugurConfigData> = AugurConfig[K];
