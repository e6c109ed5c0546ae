/**
 * The registry of subcommands, in the order `augur --help` lists them. Each entry lives in
 * its own module under cli/.
 *
 * @example
 * ```ts
 * import { COMMANDS } from "./commands.ts";
 * console.log(COMMANDS.map((c) => c.name));
 * ```
 * @module
 */
import type { Command } from "./command.ts";
import { lockCommand } from "./lock.ts";
import { configCommand } from "./config_check.ts";
import { workersCommand } from "./workers.ts";
import { runCommandSpec } from "./run.ts";
import { recordCommand } from "./record.ts";
import { calibrateCommand } from "./calibrate.ts";
import { migrateCommand } from "./migrate.ts";
import { verifyCommand } from "./verify.ts";
import { dualWriteCommand } from "./dual_write.ts";

/** Every `augur` subcommand. */
export const COMMANDS: readonly Command[] = [
  runCommandSpec,
  lockCommand,
  configCommand,
  workersCommand,
  recordCommand,
  calibrateCommand,
  migrateCommand,
  verifyCommand,
  dualWriteCommand,
];
