/**
 * Secrets live in environment variables whose NAMES are configured in TOML (keys ending in
 * `_env`, e.g. `url_env = "REDIS_URL"`). Values are read only when asked for, registered with
 * the logger's redactor, and never printed: a missing required secret is a
 * {@linkcode ConfigError} naming the variable, never a value.
 *
 * @example
 * ```ts
 * import { loadConfig } from "./loader.ts";
 * import { readSecret } from "./secrets.ts";
 * const config = await loadConfig({ dir: "config", env: { REDIS_URL: "redis://localhost:6379" } });
 * const url = readSecret(config, config.bus.redis.url_env); // "redis://localhost:6379"
 * ```
 * @module
 */
import { registerSecret } from "../adapters/observability/logger.ts";
import { ConfigError } from "./errors.ts";
import type { AugurConfig } from "./schema.ts";

/** Where environment variables come from: a record or a getter. */
export type EnvSource =
  | Readonly<Record<string, string | undefined>>
  | ((name: string) => string | undefined);

interface ConfigSource {
  dir: string;
  env?: EnvSource;
}

const SOURCES = new WeakMap<object, ConfigSource>();

/** Files and path prefixes of each config section (for messages naming the TOML key). */
const SECTION_FILES: Record<string, { file: string; prefix: string[] }> = {
  bus: { file: "bus.toml", prefix: [] },
  storage: { file: "storage.toml", prefix: [] },
  observability: { file: "observability.toml", prefix: [] },
  polling: { file: "polling.toml", prefix: ["polling"] },
  markets: { file: "markets.toml", prefix: [] },
  detectors: { file: "detectors.toml", prefix: [] },
  dedup: { file: "dedup.toml", prefix: ["dedup"] },
  llm: { file: "llm.toml", prefix: [] },
  consumers: { file: "consumers.toml", prefix: [] },
  formatters: { file: "formatters.toml", prefix: [] },
  forbidden_tokens: { file: "forbidden_tokens.toml", prefix: [] },
  prompts: { file: "investigation_prompts.toml", prefix: [] },
  engine: { file: "engine.toml", prefix: [] },
};

/**
 * Remember where a config came from (called by the loader).
 *
 * @example
 * ```ts
 * import { bindConfigSource } from "./secrets.ts";
 * const config = Object.freeze({});
 * bindConfigSource(config, { dir: "config", env: { REDIS_URL: "redis://x" } });
 * ```
 */
export function bindConfigSource(config: object, source: ConfigSource): void {
  SOURCES.set(config, source);
}

/**
 * The directory a config was loaded from (`config` when unknown).
 *
 * @example
 * ```ts
 * import { loadConfig } from "./loader.ts";
 * import { configDirOf } from "./secrets.ts";
 * configDirOf(await loadConfig({ dir: "config" })); // "config"
 * ```
 */
export function configDirOf(config: AugurConfig): string {
  return SOURCES.get(config)?.dir ?? "config";
}

/**
 * A `(name) => value` getter over an {@linkcode EnvSource} (default: `Deno.env.get`).
 *
 * @example
 * ```ts
 * import { envGetter } from "./secrets.ts";
 * envGetter({ A: "1" })("A"); // "1"
 * ```
 */
export function envGetter(env?: EnvSource): (name: string) => string | undefined {
  if (typeof env === "function") return env;
  if (env) return (name) => env[name];
  return (name) => Deno.env.get(name);
}

/** One configured secret reference (a key ending in `_env`). */
export interface SecretRef {
  /** Config section key, e.g. `bus`. */
  section: string;
  /** File the key is set in, e.g. `bus.toml`. */
  file: string;
  /** Key path inside that file, e.g. `redis.url_env`. */
  key: string;
  /** Name of the environment variable, e.g. `REDIS_URL`. */
  env: string;
  /** Why it is needed with this config, or undefined when optional. */
  requiredBy?: string;
}

/** A secret reference plus whether its variable is set (never its value). */
export interface SecretStatus extends SecretRef {
  /** The variable is set and non-empty. */
  set: boolean;
}

function keyPath(path: (string | number)[]): string {
  return path.map((p, i) => typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`).join("");
}

/**
 * Every secret reference in the config, with the reason it is required (if it is).
 *
 * @example
 * ```ts
 * import { loadConfig } from "./loader.ts";
 * import { secretRefs } from "./secrets.ts";
 * secretRefs(await loadConfig()).map((r) => r.env); // ["NATS_CREDENTIALS_FILE", "REDIS_URL", ...]
 * ```
 */
export function secretRefs(config: AugurConfig): SecretRef[] {
  const refs: SecretRef[] = [];
  const visit = (section: string, node: unknown, path: (string | number)[]) => {
    if (Array.isArray(node)) node.forEach((item, i) => visit(section, item, [...path, i]));
    else if (node !== null && typeof node === "object") {
      for (const [key, value] of Object.entries(node)) {
        if (key.endsWith("_env") && typeof value === "string") {
          const where = SECTION_FILES[section] ?? { file: `${section}.toml`, prefix: [] };
          refs.push({
            section,
            file: where.file,
            key: keyPath([...where.prefix, ...path, key]),
            env: value,
          });
        } else visit(section, value, [...path, key]);
      }
    }
  };
  for (const [section, node] of Object.entries(config)) visit(section, node, []);
  for (const ref of refs) ref.requiredBy = requiredBy(config, ref);
  return refs;
}

function requiredBy(config: AugurConfig, ref: SecretRef): string | undefined {
  const id = `${ref.section}:${ref.key}`;
  if (id === "bus:redis.url_env" && config.bus.backend.kind === "redis") {
    return 'backend.kind = "redis"';
  }
  if (id === "storage:backend.timescale_url_env") {
    if (config.storage.backend.kind === "timescaledb") return 'backend.kind = "timescaledb"';
    if (config.storage.dual_write.enabled) return "dual_write.enabled = true";
  }
  if (
    id === "llm:backends.anthropic.api_key_env" && config.llm.interpreter.enabled &&
    config.llm.interpreter.default_backend === "anthropic"
  ) return 'interpreter.default_backend = "anthropic"';
  return undefined;
}

function location(config: AugurConfig, ref: SecretRef): string {
  const dir = configDirOf(config).replace(/\/+$/, "");
  return `${dir}/${ref.file}: ${ref.key}`;
}

/**
 * Each secret reference with whether its variable is set. Reads the environment but returns
 * no value.
 *
 * @example
 * ```ts
 * import { loadConfig } from "./loader.ts";
 * import { secretStatus } from "./secrets.ts";
 * const status = secretStatus(await loadConfig({ env: {} }));
 * status.every((s) => !s.set); // true
 * ```
 */
export function secretStatus(config: AugurConfig): SecretStatus[] {
  const get = envGetter(SOURCES.get(config)?.env);
  return secretRefs(config).map((ref) => {
    const value = get(ref.env);
    registerSecret(value);
    return { ...ref, set: value !== undefined && value !== "" };
  });
}

/**
 * Throw for the first secret this config requires whose variable is not set.
 *
 * @example
 * ```ts
 * import { loadConfig } from "./loader.ts";
 * import { checkSecrets } from "./secrets.ts";
 * checkSecrets(await loadConfig()); // memory bus + DuckDB need none
 * ```
 * @throws {ConfigError} `config/bus.toml: redis.url_env: environment variable REDIS_URL is not set (required by backend.kind = "redis")`
 */
export function checkSecrets(config: AugurConfig): void {
  for (const status of secretStatus(config)) {
    if (status.requiredBy && !status.set) {
      throw new ConfigError(
        `${
          location(config, status)
        }: environment variable ${status.env} is not set (required by ${status.requiredBy})`,
      );
    }
  }
}

/** Options of {@linkcode readSecret}. */
export interface ReadSecretOptions {
  /** Throw when unset (default true); otherwise resolve to undefined. */
  required?: boolean;
}

/**
 * Read the secret held by environment variable `envName` (a name from the config, e.g.
 * `config.bus.redis.url_env`), registering its value for redaction.
 *
 * @example
 * ```ts
 * import { loadConfig } from "./loader.ts";
 * import { readSecret } from "./secrets.ts";
 * const config = await loadConfig({ env: { REDIS_URL: "redis://h:6379" } });
 * readSecret(config, config.bus.redis.url_env); // "redis://h:6379"
 * ```
 * @throws {ConfigError} naming the variable (never a value) when required and unset.
 */
export function readSecret(
  config: AugurConfig,
  envName: string,
  options: ReadSecretOptions & { required: false },
): string | undefined;
export function readSecret(
  config: AugurConfig,
  envName: string,
  options?: ReadSecretOptions,
): string;
export function readSecret(
  config: AugurConfig,
  envName: string,
  options: ReadSecretOptions = {},
): string | undefined {
  const value = envGetter(SOURCES.get(config)?.env)(envName);
  if (value !== undefined && value !== "") {
    registerSecret(value);
    return value;
  }
  if (options.required === false) return undefined;
  const ref = secretRefs(config).find((r) => r.env === envName);
  throw new ConfigError(
    `${ref ? `${location(config, ref)}: ` : ""}environment variable ${envName} is not set`,
  );
}

/** Lazy accessors for the secrets augur itself uses. Each reads the env when called. */
export interface SecretAccessors {
  /** `bus.redis.url_env` (required). */
  redisUrl(): string;
  /** `bus.nats.credentials_file_env` (optional: no credentials file). */
  natsCredentialsFile(): string | undefined;
  /** `storage.backend.timescale_url_env` (required). */
  timescaleUrl(): string;
  /** `llm.backends.anthropic.api_key_env` (required). */
  anthropicApiKey(): string;
}

/**
 * Lazy accessors for the secrets named in the config.
 *
 * @example
 * ```ts
 * import { loadConfig } from "./loader.ts";
 * import { secretAccessors } from "./secrets.ts";
 * const secrets = secretAccessors(await loadConfig());
 * // later, only when connecting: secrets.redisUrl()
 * ```
 */
export function secretAccessors(config: AugurConfig): SecretAccessors {
  return {
    redisUrl: () => readSecret(config, config.bus.redis.url_env),
    natsCredentialsFile: () =>
      readSecret(config, config.bus.nats.credentials_file_env, { required: false }),
    timescaleUrl: () => readSecret(config, config.storage.backend.timescale_url_env),
    anthropicApiKey: () => readSecret(config, config.llm.backends.anthropic.api_key_env),
  };
}
