/**
 * `augur run <kind>`: run one worker kind as a process (or the whole pipeline with
 * `augur run engine`). Validates the invocation before touching any server: an unknown kind,
 * a malformed `--replica`, N not dividing the partition count, or a memory bus for a
 * distributed kind are usage errors (exit 2).
 *
 * @example
 * ```sh
 * augur run feature --replica 1/4 --metrics-port 0
 * ```
 * @module
 */
import type { Command } from "./command.ts";
import { parseFlags } from "./flags.ts";
import { AugurError, nearest, UsageError } from "../config/errors.ts";
import { parseSourceSpec } from "../adapters/markets/source_factory.ts";
import { type AugurConfig, loadConfig } from "../config/loader.ts";
import { WORKER_KINDS, workerKind, type WorkerKindName } from "../runtime/catalog.ts";
import { parseReplica, type ReplicaSpec } from "../runtime/replica.ts";
import { openComponents } from "../runtime/components.ts";
import { buildWorker, KIND_NEEDS } from "../runtime/worker_kinds.ts";
import { runWorker } from "../runtime/harness.ts";
import { createLogger, setLogLevel } from "../adapters/observability/logger.ts";
import { defaultRegistry } from "../adapters/observability/metrics.ts";
import { runEngineCommand } from "./run_engine.ts";
import { dualWriteCommand } from "./dual_write.ts";
import { loadCurveSet } from "../adapters/calibration_files.ts";

const USAGE = `Usage: augur run <kind> [options]

Runs one worker kind of the pipeline as a process. "engine" runs every stage in one
process (memory bus, DuckDB by default); every other kind is one stage of a distributed
deployment over NATS JetStream or Redis Streams (bus.toml backend.kind).

Kinds: ${WORKER_KINDS.join(", ")}
(augur workers lists each kind with its subjects)

Options:
  --replica i/N       replica i of N for partition-ordered kinds (feature, detector,
                      manipulation, calibration); N must divide bus.backend.partitions
  --replica-id ID     holder id for locks and leases (default: hostname-pid; the pod name
                      in Kubernetes)
  --platform P        poller: polymarket or kalshi
  --source S          poller/engine: live (default), simulator[:seed] or replay:FILE
  --once              engine: run one polling cycle (or drain a replay) and exit
  --json              engine: print signals as canonical JSON lines
  --config DIR        configuration directory (default ./config, or AUGUR_CONFIG_DIR)
  --metrics-port N    observability port (/metrics, /healthz, /readyz); 0 = a free port
  -h, --help          show this help

Stops on SIGINT/SIGTERM after draining (exit 0); exit 2 on usage or configuration errors.`;

const FLAGS = {
  replica: { type: "string" },
  "replica-id": { type: "string" },
  platform: { type: "string" },
  source: { type: "string" },
  once: { type: "boolean" },
  json: { type: "boolean" },
  demo: { type: "boolean" },
  config: { type: "string" },
  "metrics-port": { type: "string" },
} as const;

/** Parsed `augur run` options shared by every kind. */
export interface RunFlags {
  readonly kind: WorkerKindName;
  readonly replica?: string;
  readonly replicaId?: string;
  readonly platform?: string;
  readonly source?: string;
  readonly once: boolean;
  readonly json: boolean;
  readonly demo: boolean;
  readonly config?: string;
  readonly metricsPort?: number;
}

/** Parse and validate the flags of `augur run` (no I/O). */
export function parseRunFlags(args: string[]): RunFlags {
  const { values, positionals } = parseFlags(args, FLAGS, { maxPositionals: 1 });
  const kind = positionals[0];
  if (!kind) throw new UsageError("missing <kind> (e.g. augur run engine)");
  if (!(WORKER_KINDS as readonly string[]).includes(kind)) {
    const hint = nearest(kind, WORKER_KINDS);
    throw new UsageError(
      `unknown kind "${kind}"${hint ? ` (did you mean "${hint}"?)` : ""}; expected one of ${
        WORKER_KINDS.join(", ")
      }`,
    );
  }
  let metricsPort: number | undefined;
  if (values["metrics-port"] !== undefined) {
    metricsPort = Number(values["metrics-port"]);
    if (!Number.isInteger(metricsPort) || metricsPort < 0 || metricsPort > 65535) {
      throw new UsageError(
        `--metrics-port: expected an integer port in 0..65535, received "${
          values["metrics-port"]
        }"`,
      );
    }
  }
  return {
    kind: kind as WorkerKindName,
    replica: values.replica as string | undefined,
    replicaId: values["replica-id"] as string | undefined,
    platform: values.platform as string | undefined,
    source: values.source as string | undefined,
    once: values.once === true,
    json: values.json === true,
    demo: values.demo === true,
    config: values.config as string | undefined,
    metricsPort,
  };
}

/** Checks that need the configuration but no server. */
export function validateAgainstConfig(flags: RunFlags, config: AugurConfig): ReplicaSpec {
  const entry = workerKind(flags.kind)!;
  const partitions = config.bus.backend.partitions;
  if (flags.kind !== "engine" && config.bus.backend.kind === "memory") {
    throw new UsageError(
      `augur run ${flags.kind} needs a shared bus, but bus.toml backend.kind is "memory": use "augur run engine" for the all-in-one process, or set backend.kind to "nats" or "redis"`,
    );
  }
  if (flags.replica !== undefined && !entry.replica) {
    throw new UsageError(`--replica applies only to partition-ordered kinds, not "${flags.kind}"`);
  }
  if (flags.kind === "poller" && !["polymarket", "kalshi"].includes(flags.platform ?? "")) {
    throw new UsageError(
      `augur run poller needs --platform polymarket or --platform kalshi${
        flags.platform ? `, received "${flags.platform}"` : ""
      }`,
    );
  }
  if (flags.source !== undefined && (flags.kind === "engine" || flags.kind === "poller")) {
    parseSourceSpec(flags.source); // a malformed --source is a usage error (exit 2)
  }
  return parseReplica(flags.replica ?? "0/1", { partitions });
}

/**
 * Fail before anything starts when `--source replay:FILE` names a file that cannot be read
 * (missing, a directory, no permission): one line naming the file, exit 1.
 */
export async function checkReplaySource(source: string | undefined): Promise<void> {
  if (source === undefined) return;
  const spec = parseSourceSpec(source);
  if (spec.kind !== "replay") return;
  try {
    if (!(await Deno.stat(spec.path)).isFile) throw new Error("not a regular file");
    (await Deno.open(spec.path, { read: true })).close();
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "no such file"
      : (error as Error).message;
    const message = `--source ${source}: cannot read the replay file ${spec.path} (${reason})`;
    throw new AugurError(message, { cause: error });
  }
}

/** The default holder id: hostname-pid. */
export function defaultReplicaId(): string {
  let host = "localhost";
  try {
    host = Deno.hostname();
  } catch { /* no sys permission: keep the fallback */ }
  return `${host}-${Deno.pid}`;
}

async function runCommand(args: string[]): Promise<number> {
  const flags = parseRunFlags(args);
  const config = await loadConfig({ dir: flags.config });
  setLogLevel(config.observability.logs.level as "debug" | "info" | "warn" | "error");
  const replica = validateAgainstConfig(flags, config);
  if (flags.kind === "engine" || flags.kind === "poller") await checkReplaySource(flags.source);
  if (flags.kind === "engine") return await runEngineCommand(flags, config);
  if (flags.kind === "dual-write") {
    // The sidecar has its own command (it writes the mirror, never the primary store).
    return await dualWriteCommand.run([
      ...(flags.config ? ["--config", flags.config] : []),
      ...(flags.metricsPort !== undefined ? ["--metrics-port", String(flags.metricsPort)] : []),
      ...(flags.replicaId ? ["--replica-id", flags.replicaId] : []),
    ]);
  }
  const replicaId = flags.replicaId ?? defaultReplicaId();
  const logger = createLogger().child({ kind: flags.kind, replica_id: replicaId });
  const components = await openComponents(config, KIND_NEEDS[flags.kind], {
    registry: defaultRegistry,
    logger,
  });
  let worker;
  try {
    worker = buildWorker({
      kind: flags.kind,
      replica,
      replicaId,
      platform: flags.platform,
      source: flags.source,
      curves: await loadCurveSet(),
    }, components);
  } catch (error) {
    await components.close();
    throw error;
  }
  const metrics = config.observability.metrics;
  return await runWorker(worker, {
    replicaId,
    metrics: metrics.kind === "disabled" && flags.metricsPort === undefined
      ? { enabled: false }
      : { enabled: true, hostname: metrics.bind, port: flags.metricsPort ?? metrics.port },
    drainTimeoutMs: config.bus.backend.drain_timeout_seconds * 1000,
    closeables: components.closeables,
    registry: defaultRegistry,
    logger,
  });
}

/** `augur run` */
export const runCommandSpec: Command = {
  name: "run",
  summary: "run a worker kind (engine = the whole pipeline in one process)",
  usage: USAGE,
  run: runCommand,
};
