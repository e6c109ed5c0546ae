/**
 * Generates docs/configuration.md from the zod schemas of config/schema.ts (types, defaults,
 * constraints via `z.toJSONSchema`) and the comments of the default config/*.toml files
 * (descriptions). tests/unit/docs/config_reference_test.ts fails when the file is stale.
 *
 * Usage: `deno run -A docs/gen_config_reference.ts [--check]`
 *
 * @example
 * ```ts
 * import { renderConfigReference } from "./gen_config_reference.ts";
 * const markdown = await renderConfigReference();
 * ```
 * @module
 */
import { z } from "zod";
import { CONFIG_FILES, IGNORED_FILES } from "../config/schema.ts";

const ROOT = new URL("../", import.meta.url);
const OUTPUT = new URL("configuration.md", import.meta.url);

// deno-lint-ignore no-explicit-any
type Schema = Record<string, any>;

/** One documented key. */
export interface ReferenceRow {
  /** TOML path, e.g. `backend.kind` or `markets[].id`. */
  path: string;
  /** Type, e.g. `integer`, `"memory" \| "nats"`, `array of string`. */
  type: string;
  /** Default as TOML text, or `required` / empty. */
  default: string;
  /** Constraints, e.g. `≥ 1`. */
  constraints: string;
  /** Description from the default TOML file's comments. */
  description: string;
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

function toml(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(toml).join(", ")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value);
    return entries.length === 0
      ? "{}"
      : `{ ${entries.map(([k, v]) => `${k} = ${toml(v)}`).join(", ")} }`;
  }
  return String(value);
}

function typeOf(s: Schema): string {
  if (s.enum) return s.enum.map((v: unknown) => JSON.stringify(v)).join(" \\| ");
  if (s.const !== undefined) return JSON.stringify(s.const);
  const alts = s.anyOf ?? s.oneOf;
  if (alts) return alts.map(typeOf).join(" or ");
  if (s.type === "array") return `array of ${s.items ? typeOf(s.items) : "any"}`;
  if (s.type === "object") return "table";
  return s.type ?? "any";
}

function constraintsOf(s: Schema): string {
  const out: string[] = [];
  if (s.minimum !== undefined && s.minimum > -MAX_SAFE) out.push(`≥ ${s.minimum}`);
  if (s.exclusiveMinimum !== undefined) out.push(`> ${s.exclusiveMinimum}`);
  if (s.maximum !== undefined && s.maximum < MAX_SAFE) out.push(`≤ ${s.maximum}`);
  if (s.exclusiveMaximum !== undefined) out.push(`< ${s.exclusiveMaximum}`);
  if (s.minLength) out.push(s.minLength === 1 ? "non-empty" : `length ≥ ${s.minLength}`);
  if (s.minItems) out.push(`≥ ${s.minItems} item${s.minItems > 1 ? "s" : ""}`);
  if (s.pattern) out.push(`matches \`${s.pattern}\``);
  if (s.type === "array" && s.items) {
    const inner = constraintsOf(s.items);
    if (inner) out.push(`each ${inner}`);
  }
  return out.join(", ");
}

function isTable(s: Schema): boolean {
  return s.type === "object";
}

function walk(
  s: Schema,
  path: string,
  required: boolean,
  describe: (path: string) => string,
  rows: ReferenceRow[],
): void {
  if (isTable(s)) {
    const props: Record<string, Schema> = s.properties ?? {};
    const req = new Set<string>(s.required ?? []);
    if (path && Object.keys(props).length === 0 && !s.additionalProperties) {
      rows.push(row(s, path, required, describe));
    }
    for (const [key, child] of Object.entries(props)) {
      walk(child, path ? `${path}.${key}` : key, req.has(key), describe, rows);
    }
    if (s.additionalProperties && typeof s.additionalProperties === "object") {
      walk(s.additionalProperties, path ? `${path}.<name>` : "<name>", true, describe, rows);
    }
    return;
  }
  if (s.type === "array" && s.items && isTable(s.items)) {
    rows.push(row(s, path, required, describe));
    walk(s.items, `${path}[]`, false, describe, rows);
    return;
  }
  rows.push(row(s, path, required, describe));
}

function row(
  s: Schema,
  path: string,
  required: boolean,
  describe: (path: string) => string,
): ReferenceRow {
  const def = s.default !== undefined ? toml(s.default) : required ? "required" : "";
  return {
    path,
    type: s.type === "array" && s.items && isTable(s.items) ? "array of tables" : typeOf(s),
    default: def,
    constraints: constraintsOf(s),
    description: describe(path),
  };
}

/** Comments of a default TOML file: the file header, per-table and per-key descriptions. */
export function tomlComments(text: string): { header: string; keys: Map<string, string> } {
  const keys = new Map<string, string>();
  let header = "";
  let table = "";
  let pending: string[] = [];
  let seenContent = false;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "") {
      if (!seenContent && pending.length && !header) header = pending.join(" ");
      pending = [];
      continue;
    }
    if (line.startsWith("#")) {
      pending.push(line.replace(/^#+\s?/, ""));
      continue;
    }
    seenContent = true;
    const array = /^\[\[\s*([^\]]+?)\s*\]\]/.exec(line);
    const single = /^\[\s*([^\]]+?)\s*\]/.exec(line);
    if (array || single) {
      table = array ? `${array[1]}[]` : single![1];
      if (pending.length) keys.set(table, pending.join(" "));
    } else {
      const key = /^([A-Za-z0-9_"-]+)\s*=/.exec(line)?.[1]?.replaceAll('"', "");
      if (key && pending.length) keys.set(table ? `${table}.${key}` : key, pending.join(" "));
    }
    pending = [];
  }
  return { header, keys };
}

function cell(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll("\n", " ").replaceAll("\\\\|", "\\|")
    .replaceAll("<", "\\<");
}

function defaultCell(text: string): string {
  if (text === "" || text === "required") return text;
  return `\`${text.replaceAll("|", "\\|")}\``;
}

async function denoFmt(text: string): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--ext=md", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const out = await child.output();
  if (!out.success) throw new Error(`deno fmt failed: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * The rows of one config file's reference.
 *
 * @example
 * ```ts
 * import { referenceRows } from "./gen_config_reference.ts";
 * const rows = await referenceRows("bus.toml");
 * rows.find((r) => r.path === "backend.kind")?.default; // '"memory"'
 * ```
 */
export async function referenceRows(file: string): Promise<ReferenceRow[]> {
  const spec = CONFIG_FILES.find((f) => f.file === file);
  if (!spec) throw new Error(`unknown config file ${file}`);
  let comments = { header: "", keys: new Map<string, string>() };
  try {
    comments = tomlComments(await Deno.readTextFile(new URL(`config/${file}`, ROOT)));
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const json = z.toJSONSchema(spec.schema, { io: "input", unrepresentable: "any" }) as Schema;
  const rows: ReferenceRow[] = [];
  walk(json, "", false, (path) => comments.keys.get(path) ?? "", rows);
  return rows;
}

/**
 * The whole docs/configuration.md text (formatted with `deno fmt`).
 *
 * @example
 * ```ts
 * import { renderConfigReference } from "./gen_config_reference.ts";
 * (await renderConfigReference()).startsWith("# Configuration reference");
 * ```
 */
export async function renderConfigReference(): Promise<string> {
  const parts: string[] = [
    "# Configuration reference",
    "",
    "<!-- GENERATED by `deno run -A docs/gen_config_reference.ts` from the zod schemas in",
    "config/schemas/ and the comments of config/*.toml. Do not edit by hand:",
    "tests/unit/docs/config_reference_test.ts fails when this file is stale. -->",
    "",
    "augur reads every `*.toml` file of one directory: `--config DIR`, else `$AUGUR_CONFIG_DIR`,",
    "else `./config` (the container image sets `AUGUR_CONFIG_DIR=/etc/augur`). Every key is",
    "optional and takes the default shown here, except in `markets.toml`, which must exist.",
    "Unknown files and unknown keys are errors (with a did-you-mean hint), and so are wrong",
    "types; `augur config check` validates a directory and prints the effective configuration.",
    `Ignored on purpose: ${IGNORED_FILES.map((f) => `\`${f}\``).join(", ")}.`,
    "",
    "Secrets are never written in TOML: keys ending in `_env` hold the NAME of the environment",
    'variable that carries the value (e.g. `url_env = "REDIS_URL"`).',
    "",
    "Files: " + CONFIG_FILES.map((f) => `[${f.file}](#${f.file.replace(".", "")})`).join(", "),
    "",
  ];
  for (const spec of CONFIG_FILES) {
    let header = "";
    try {
      header = tomlComments(await Deno.readTextFile(new URL(`config/${spec.file}`, ROOT))).header;
    } catch {
      header = "";
    }
    parts.push(`## ${spec.file}`, "");
    parts.push(
      `Effective config key \`${spec.key}\`${spec.required ? "; **required file**" : ""}.` +
        (header ? ` ${capitalize(header.replace(/^[\w.]+\.toml\s+—\s+/, ""))}` : ""),
      "",
    );
    parts.push("| key | type | default | constraints | description |");
    parts.push("| --- | --- | --- | --- | --- |");
    for (const r of await referenceRows(spec.file)) {
      parts.push(
        `| \`${r.path}\` | ${cell(r.type)} | ${defaultCell(r.default)} | ${cell(r.constraints)} | ${
          cell(r.description)
        } |`,
      );
    }
    parts.push("");
  }
  return await denoFmt(parts.join("\n"));
}

if (import.meta.main) {
  const text = await renderConfigReference();
  if (Deno.args.includes("--check")) {
    let current = "";
    try {
      current = await Deno.readTextFile(OUTPUT);
    } catch {
      current = "";
    }
    if (current !== text) {
      console.error("docs/configuration.md is stale: run deno run -A docs/gen_config_reference.ts");
      Deno.exit(1);
    }
    console.log("docs/configuration.md is up to date");
  } else {
    await Deno.writeTextFile(OUTPUT, text);
    console.log("wrote docs/configuration.md");
  }
}
