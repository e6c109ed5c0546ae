/**
 * `augur dual-write`: the sidecar that mirrors the store sink's teed writes
 * (`augur.writes.<table>`, storage.toml `[dual_write] enabled = true`) into TimescaleDB
 * while DuckDB stays the primary store. Serves /metrics (lag gauge and alerts), /healthz,
 * /readyz; drains on SIGINT/SIGTERM.
 *
 * @example
 * ```sh
 * AUGUR_TIMESCALE_URL=postgres://… augur dual-write --metrics-port 9091
 * ```
 * @module
 */
import type { Command } from "./command.ts";
import { parseFlags } from "./flags.ts";
import { ConfigError, UsageError } from "../config/errors.ts";
import { loadConfig } from "../config/loader.ts";
import { type BusSection, createEventBus } from "../adapters/bus/factory.ts";
import { createStore } from "../adapters/storage/factory.ts";
import { createLogger, setLogLevel } from "../adapters/observability/logger.ts";
import { defaultRegistry } from "../adapters/observability/metrics.ts";
import { Subjects } from "../runtime/subjects.ts";
import { runWorker } from "../runtime/harness.ts";
import { dualWriteWorker } from "../runtime/dual_write.ts";

const USAGE = `Usage: augur dual-write [options]

Consumes augur.writes.<table> (teed by the store sink when storage.toml
[dual_write] enabled = true) on the shared durable "dual-write" and applies the rows
idempotently to TimescaleDB (backend.timescale_url_env). Never writes the primary
(DuckDB) store. Exports augur_dual_write_lag_seconds{table} and
augur_dual_write_lag_alerts_total{table} (lag above [dual_write] lag_alert_seconds).

Options:
  --replica-id ID     consumer name (default hostname-pid)
  --metrics-port N    observability port (/metrics, /healthz, /readyz); 0 = a free port
  --config DIR        configuration directory
  -h, --help          show this help

Stops on SIGINT/SIGTERM after draining (exit 0); exit 2 on usage or configuration errors.`;

const FLAGS = {
  "replica-id": { type: "string" },
  "metrics-port": { type: "string" },
  config: { type: "string" },
} as const;

async function runDualWriteCli(args: string[]): Promise<number> {
  const { values } = parseFlags(args, FLAGS);
  let metricsPort: number | undefined;
  if (values["metrics-port"] !== undefined) {
    metricsPort = Number(values["metrics-port"]);
    if (!Number.isInteger(metricsPort) || metricsPort < 0 || metricsPort > 65535) {
      throw new UsageError(
        `--metrics-port: expected an integer port in 0..65535, received ${
          JSON.stringify(values["metrics-port"])
        }`,
      );
    }
  }
  const config = await loadConfig({ dir: values.config as string | undefined });
  setLogLevel(config.observability.logs.level as "debug" | "info" | "warn" | "error");
  if (config.bus.backend.kind === "memory") {
    throw new UsageError(
      'augur dual-write needs a shared bus, but bus.toml backend.kind is "memory": set it to "nats" or "redis" (the store sink tees writes there)',
    );
  }
  if (config.storage.backend.kind === "timescaledb") {
    throw new ConfigError(
      'storage.toml: backend.kind: expected "duckdb" while dual-writing (TimescaleDB is the mirror, never the primary), received "timescaledb"',
    );
  }
  if (!config.storage.dual_write.enabled) {
    throw new ConfigError(
      "storage.toml: dual_write.enabled: expected true for augur dual-write (otherwise the store sink tees nothing), received false",
    );
  }
  let replicaId = values["replica-id"] as string | undefined;
  if (!replicaId) {
    let host = "localhost";
    try {
      host = Deno.hostname();
    } catch { /* keep the fallback */ }
    replicaId = `${host}-${Deno.pid}`;
  }
  const logger = createLogger().child({ kind: "dual-write", replica_id: replicaId });
  const registry = defaultRegistry;
  const target = await createStore(
    { ...config.storage, backend: { ...config.storage.backend, kind: "timescaledb" } },
    { registry, logger },
  );
  const bus = await createEventBus(config.bus as BusSection, { registry, logger });
  try {
    await target.initialize();
    await bus.connect();
  } catch (error) {
    await bus.close().catch(() => {});
    await target.close().catch(() => {});
    throw error;
  }
  const metrics = config.observability.metrics;
  return await runWorker(
    dualWriteWorker(bus, target, {
      subjects: Subjects.fromConfig(config),
      lagAlertSeconds: config.storage.dual_write.lag_alert_seconds,
    }),
    {
      replicaId,
      metrics: metrics.kind === "disabled" && metricsPort === undefined
        ? { enabled: false }
        : { enabled: true, hostname: metrics.bind, port: metricsPort ?? metrics.port },
      drainTimeoutMs: config.bus.backend.drain_timeout_seconds * 1000,
      closeables: [
        { name: "bus", close: () => bus.close() },
        { name: "store", close: () => target.close() },
      ],
      registry,
      logger,
    },
  );
}

/** `augur dual-write` */
export const dualWriteCommand: Command = {
  name: "dual-write",
  summary: "mirror teed store writes into TimescaleDB (migration sidecar, lag gauge)",
  usage: USAGE,
  run: runDualWriteCli,
};
