/**
 * `augur lock inspect [NAME] [--json]` and `augur lock release NAME --force`: look at the
 * distributed locks (holder, fencing token, age, ttl left) and remove one by hand (the
 * runbook's manual recovery; the token counter is never reset).
 *
 * The backend comes from bus.toml (`[backend] kind` = nats or redis) in the config
 * directory (`--config DIR`, else `AUGUR_CONFIG_DIR`, else `./config`).
 *
 * @example
 * ```ts
 * import { lockCommand } from "./lock.ts";
 * const code = await lockCommand.run(["inspect", "--json", "--config", "config"]);
 * ```
 * @module
 */
import { ConfigError, UsageError } from "../config/errors.ts";
import { loadConfig } from "../config/loader.ts";
import { createLock } from "../adapters/lock/factory.ts";
import type { LockHolder } from "../adapters/lock/types.ts";
import type { Command } from "./command.ts";
import { parseFlags } from "./flags.ts";

const USAGE = `augur lock — inspect or force-release distributed locks

Usage:
  augur lock inspect [NAME] [--json] [--config DIR]
  augur lock release NAME --force [--config DIR]

inspect   table of name, holder, fencing token, age and ttl left (all locks, or NAME);
          --json prints an array of {name, holder, token, acquired_at_ms, expires_at_ms,
          age_ms, ttl_left_ms} for scripts
release   remove lock NAME whoever holds it (requires --force); prints what it removed.
          The fencing-token counter is kept, so the next holder still gets a higher token.

Options:
  --config DIR  configuration directory (default: $AUGUR_CONFIG_DIR or ./config)
  --json        machine-readable output (inspect)
  --force       confirm a manual release

The lock backend is bus.toml [backend] kind (nats or redis): NATS servers from
[nats] servers (credentials file from the env var named by credentials_file_env), Redis URL
from the env var named by [redis] url_env; the NATS bucket is [lock] kv_bucket.`;

function seconds(ms: number): string {
  if (!Number.isFinite(ms)) return "∞";
  return `${(Math.max(0, ms) / 1000).toFixed(1)}s`;
}

function toJson(h: LockHolder) {
  return {
    name: h.name,
    holder: h.holder,
    token: h.token,
    acquired_at_ms: h.acquiredAtMs,
    expires_at_ms: Number.isFinite(h.expiresAtMs) ? h.expiresAtMs : null,
    age_ms: Math.max(0, h.observedAtMs - h.acquiredAtMs),
    ttl_left_ms: Number.isFinite(h.expiresAtMs)
      ? Math.max(0, h.expiresAtMs - h.observedAtMs)
      : null,
  };
}

/**
 * Render lock holders as an aligned text table.
 *
 * @example
 * ```ts
 * import { formatLockTable } from "./lock.ts";
 * console.log(formatLockTable([]));
 * ```
 */
export function formatLockTable(holders: readonly LockHolder[]): string {
  if (holders.length === 0) return "no locks held";
  const rows = [
    ["NAME", "HOLDER", "TOKEN", "AGE", "TTL LEFT"],
    ...holders.map((h) => [
      h.name,
      h.holder,
      String(h.token),
      seconds(h.observedAtMs - h.acquiredAtMs),
      seconds(h.expiresAtMs - h.observedAtMs),
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}

async function openLock(sub: string, configDir: string | undefined) {
  const { bus } = await loadConfig({ dir: configDir });
  if (bus.backend.kind === "memory") {
    throw new ConfigError(
      `lock ${sub} needs bus.backend.kind nats or redis (bus.toml says "memory": in-process locks live only inside \`augur run engine\`)`,
    );
  }
  return await createLock(bus, { inspectOnly: true });
}

async function run(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== "inspect" && sub !== "release") {
    throw new UsageError(
      sub === undefined
        ? "lock: expected a subcommand: inspect or release"
        : `lock: unknown subcommand "${sub}" (expected inspect or release)`,
    );
  }
  const { values, positionals } = parseFlags(rest, {
    json: { type: "boolean", default: false },
    force: { type: "boolean", default: false },
    config: { type: "string" },
  }, { maxPositionals: 1 });
  const configDir = values.config as string | undefined;
  const name = positionals[0];
  if (sub === "inspect") {
    if (values.force) throw new UsageError("lock inspect: --force applies to release only");
    const lock = await openLock(sub, configDir);
    try {
      const holders = name === undefined
        ? await lock.list()
        : [await lock.holder(name)].filter((h): h is LockHolder => h !== null);
      if (values.json) {
        console.log(JSON.stringify(holders.map(toJson)));
      } else if (name !== undefined && holders.length === 0) {
        console.log(`lock ${name} is free`);
      } else {
        console.log(formatLockTable(holders));
      }
      return 0;
    } finally {
      await lock.close();
    }
  }
  if (name === undefined) throw new UsageError("lock release: expected a lock NAME");
  if (!values.force) {
    throw new UsageError(
      `lock release ${name}: refusing without --force (it removes a live holder's lease; the holder stops at its local deadline)`,
    );
  }
  const lock = await openLock(sub, configDir);
  try {
    const removed = await lock.forceRelease(name);
    if (values.json) {
      console.log(JSON.stringify(removed ? toJson(removed) : null));
    } else if (removed) {
      console.log(
        `released lock ${name}: holder ${removed.holder}, token ${removed.token}, age ${
          seconds(removed.observedAtMs - removed.acquiredAtMs)
        }, ttl left ${seconds(removed.expiresAtMs - removed.observedAtMs)} (token counter kept)`,
      );
    } else {
      console.log(`lock ${name} is not held; nothing removed`);
    }
    return 0;
  } finally {
    await lock.close();
  }
}

/** The `augur lock` subcommand. */
export const lockCommand: Command = {
  name: "lock",
  summary: "inspect or force-release distributed locks (holder, token, ttl left)",
  usage: USAGE,
  run,
};
