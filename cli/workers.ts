/**
 * `augur workers [--json] [--config DIR]`: the catalog of worker kinds — mode, input and
 * output subjects, whether `--replica i/N` applies, the lock or lease each holds.
 *
 * @example
 * ```ts
 * import { workersCommand } from "./workers.ts";
 * const code = await workersCommand.run(["--json"]);
 * ```
 * @module
 */
import { loadConfig } from "../config/loader.ts";
import { workerCatalog, type WorkerKind } from "../runtime/catalog.ts";
import type { Command } from "./command.ts";
import { parseFlags } from "./flags.ts";

const USAGE = `augur workers — the catalog of worker kinds

Usage:
  augur workers [--json] [--config DIR]

Prints every worker kind with its mode (all-in-one, singleton, partition-ordered,
competing), the subjects it reads and writes ("<pp>" = each owned partition), whether
--replica i/N applies, and the lock or partition lease it holds.

Options:
  --json        print the catalog as a JSON array
  --config DIR  take the subject prefix from DIR/bus.toml (default prefix: augur)`;

/**
 * Render the catalog as an aligned text table.
 *
 * @example
 * ```ts
 * import { workerCatalog } from "../runtime/catalog.ts";
 * import { formatWorkersTable } from "./workers.ts";
 * console.log(formatWorkersTable(workerCatalog()));
 * ```
 */
export function formatWorkersTable(kinds: readonly WorkerKind[]): string {
  const header = ["KIND", "MODE", "REPLICA", "LOCK", "INPUTS", "OUTPUTS"];
  const rows = kinds.map((w) => [
    w.kind,
    w.mode,
    w.replica ? "i/N" : "-",
    w.lock ?? "-",
    w.inputs.length ? w.inputs.join(", ") : "(platform APIs)",
    w.outputs.length ? w.outputs.join(", ") : "-",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) =>
    r.map((c, i) => i === r.length - 1 ? c : c.padEnd(widths[i])).join("  ").trimEnd();
  return [fmt(header), ...rows.map(fmt)].join("\n");
}

/** `augur workers` */
export const workersCommand: Command = {
  name: "workers",
  summary: "catalog of worker kinds with their mode and subjects",
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    const { values } = parseFlags(args, {
      json: { type: "boolean" },
      config: { type: "string" },
    });
    const prefix = values.config !== undefined
      ? (await loadConfig({ dir: values.config as string })).bus.nats.subject_prefix
      : "augur";
    const kinds = workerCatalog({ prefix });
    console.log(values.json ? JSON.stringify(kinds, null, 2) : formatWorkersTable(kinds));
    return 0;
  },
};
