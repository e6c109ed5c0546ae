/**
 * `augur config check [--config DIR] [--json]`: validate every TOML file of the config
 * directory and print the effective configuration. Secrets are shown only as the NAMES of
 * their environment variables and whether each is set — never a value. A problem prints one
 * line naming the file, the key path and what was expected, and exits 2.
 *
 * @example
 * ```ts
 * import { configCommand } from "./config_check.ts";
 * const code = await configCommand.run(["check", "--json"]);
 * ```
 * @module
 */
import { stringify } from "smol-toml";
import { nearest, UsageError } from "../config/errors.ts";
import {
  type AugurConfig,
  checkSecrets,
  configDirOf,
  loadConfig,
  type SecretStatus,
  secretStatus,
} from "../config/loader.ts";
import { CONFIG_FILES } from "../config/schema.ts";
import { redact } from "../adapters/observability/logger.ts";
import type { Command } from "./command.ts";
import { parseFlags } from "./flags.ts";

const USAGE = `augur config — validate the configuration

Usage:
  augur config check [--config DIR] [--json]

Validates every *.toml file in the config directory (unknown files, unknown keys, wrong
types and bad values are errors; omitted keys take their defaults; markets.toml is required)
and prints the effective configuration. Secrets appear only as environment variable names
with whether each is set. Exit 0 when valid, 2 with one line naming the file and key when not.

Options:
  --config DIR  configuration directory (default: $AUGUR_CONFIG_DIR or ./config)
  --json        print {"dir", "config", "secrets"} as JSON`;

const SUBCOMMANDS = ["check"];

/**
 * Render the effective config as TOML, one table per config key, `_env` keys annotated with
 * whether their variable is set.
 *
 * @example
 * ```ts
 * import { loadConfig, secretStatus } from "../config/loader.ts";
 * import { renderConfigToml } from "./config_check.ts";
 * const config = await loadConfig();
 * console.log(renderConfigToml(config, secretStatus(config)));
 * ```
 */
export function renderConfigToml(config: AugurConfig, secrets: readonly SecretStatus[]): string {
  const dir = configDirOf(config).replace(/\/+$/, "");
  const lines: string[] = [`# effective configuration from ${dir}/`];
  for (const spec of CONFIG_FILES) {
    const section = config[spec.key];
    const body = Array.isArray(section)
      ? stringify({ [spec.key]: section })
      : stringify({ [spec.key]: section as Record<string, unknown> });
    lines.push("", `# ${dir}/${spec.file}`, body.trimEnd());
  }
  const annotated = lines.join("\n").split("\n").map((line) => {
    const m = /^([A-Za-z0-9_]+_env) = "([^"]*)"$/.exec(line);
    if (!m) return line;
    const status = secrets.find((s) => s.env === m[2]);
    return `${line}  # ${status?.set ? "set" : "not set"}${
      status?.requiredBy ? ` (required by ${status.requiredBy})` : ""
    }`;
  });
  annotated.push(
    "",
    "# secrets: environment variable names only; values are never printed",
    ...secrets.map((s) =>
      `#   ${s.env.padEnd(24)} ${(s.set ? "set" : "not set").padEnd(8)} ${s.file} ${s.key}${
        s.requiredBy ? ` (required by ${s.requiredBy})` : ""
      }`
    ),
  );
  return annotated.join("\n");
}

/** `augur config` */
export const configCommand: Command = {
  name: "config",
  summary: "validate every TOML file and print the effective config (config check)",
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    const { values, positionals } = parseFlags(args, {
      config: { type: "string" },
      json: { type: "boolean" },
    }, { maxPositionals: 1 });
    const sub = positionals[0];
    if (sub === undefined) throw new UsageError('missing subcommand (expected "check")');
    if (!SUBCOMMANDS.includes(sub)) {
      const hint = nearest(sub, SUBCOMMANDS);
      throw new UsageError(
        `unknown config subcommand "${sub}"${hint ? ` (did you mean "${hint}"?)` : ""}`,
      );
    }
    const config = await loadConfig({ dir: values.config as string | undefined });
    const secrets = secretStatus(config);
    checkSecrets(config);
    const out = values.json
      ? JSON.stringify(
        {
          dir: configDirOf(config),
          config,
          secrets: secrets.map((s) => ({
            file: s.file,
            key: s.key,
            env: s.env,
            set: s.set,
            required_by: s.requiredBy ?? null,
          })),
        },
        null,
        2,
      )
      : renderConfigToml(config, secrets);
    console.log(redact(out));
    return 0;
  },
};
