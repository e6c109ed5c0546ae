/**
 * Build the configured {@linkcode Store} from the `storage` config section: `backend.kind`
 * alone selects DuckDB (embedded default) or TimescaleDB. Each backend module is loaded with
 * a dynamic import, so a TimescaleDB worker never loads the DuckDB native addon.
 *
 * @example
 * ```ts
 * import { createStore } from "./factory.ts";
 * import { StorageFileSchema } from "../../config/schemas/storage.ts";
 * const store = await createStore(StorageFileSchema.parse({}), { env: Deno.env.toObject() });
 * await store.initialize();
 * await store.close();
 * ```
 * @module
 */

import { ConfigError } from "../../config/errors.ts";
import type { StorageConfig } from "../../config/schemas/storage.ts";
import type { MetricsRegistry } from "../observability/metrics.ts";
import { type Logger, registerSecret } from "../observability/logger.ts";
import type { Store } from "./types.ts";

/** Dependencies of {@linkcode createStore}. */
export interface CreateStoreOptions {
  /** Environment to read the DSN from (default: `Deno.env.toObject()`). */
  env?: Record<string, string | undefined>;
  registry?: MetricsRegistry;
  logger?: Logger;
}

/** Create (not yet initialized) the store selected by `storage.backend.kind`. */
export async function createStore(
  config: StorageConfig,
  options: CreateStoreOptions = {},
): Promise<Store> {
  const kind = config.backend.kind;
  if (kind === "duckdb") {
    const { DuckDbStore } = await import("./duckdb_store.ts");
    return new DuckDbStore({
      path: config.backend.duckdb_path,
      registry: options.registry,
      logger: options.logger,
    });
  }
  if (kind === "timescaledb") {
    const envName = config.backend.timescale_url_env;
    const env = options.env ?? Deno.env.toObject();
    const url = env[envName];
    if (!url) {
      throw new ConfigError(
        `storage.toml: backend.timescale_url_env: expected environment variable ${envName} to hold a PostgreSQL URL, received nothing (it is not set)`,
      );
    }
    registerSecret(url);
    try {
      registerSecret(decodeURIComponent(new URL(url).password));
    } catch { /* not a URL: the driver reports it */ }
    const { TimescaleStore } = await import("./timescale_store.ts");
    return new TimescaleStore({
      url,
      config,
      poolSize: config.connection.pool_size + config.connection.max_overflow,
      connectTimeoutSeconds: config.connection.pool_timeout_seconds,
      registry: options.registry,
      logger: options.logger,
    });
  }
  throw new ConfigError(
    `storage.toml: backend.kind: expected "duckdb" or "timescaledb", received ${
      JSON.stringify(kind)
    }`,
  );
}
