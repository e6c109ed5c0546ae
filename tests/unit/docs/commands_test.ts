/**
 * Every `augur …` command shown in README.md and docs/operations.md must name a real
 * subcommand of cli/commands.ts, and `augur <subcommand> --help` must exit 0 — so the docs
 * cannot drift from the CLI. A doc line for a subcommand that is not built yet must say
 * "(coming)"; the marker itself fails once the subcommand exists.
 */
import { assert, assertEquals } from "../../helpers/assert.ts";
import { COMMANDS } from "../../../cli/commands.ts";

const ROOT = new URL("../../../", import.meta.url);
const DOCS = ["README.md", "docs/operations.md", "docs/architecture.md"];

/** One command found in a doc. */
interface DocCommand {
  file: string;
  line: number;
  text: string;
  sub: string;
  coming: boolean;
}

/** `augur X …` or `deno run -A main.ts X …` → X (skipping global options). */
function subcommandOf(command: string): string | undefined {
  const tokens = command.trim().replace(/^\$\s+/, "").split(/\s+/);
  let i: number;
  if (tokens[0] === "augur") i = 1;
  else if (tokens[0] === "deno" && tokens[1] === "run") {
    i = tokens.indexOf("main.ts") + 1;
    if (i === 0) return undefined;
  } else return undefined;
  while (tokens[i] === "--config") i += 2;
  const sub = tokens[i];
  return sub !== undefined && /^[a-z][a-z-]*$/.test(sub) ? sub : undefined;
}

async function docCommands(): Promise<DocCommand[]> {
  const out: DocCommand[] = [];
  for (const file of DOCS) {
    const text = await Deno.readTextFile(new URL(file, ROOT));
    let fenced = false;
    text.split("\n").forEach((line, index) => {
      if (/^\s*```/.test(line)) {
        fenced = !fenced;
        return;
      }
      const candidates = fenced
        ? [line.replace(/^\s*(\$\s+)?/, "")]
        : [...line.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
      for (const candidate of candidates) {
        const sub = subcommandOf(candidate);
        if (!sub || sub.startsWith("-")) continue;
        out.push({
          file,
          line: index + 1,
          text: candidate,
          sub,
          coming: line.includes("(coming)"),
        });
      }
    });
  }
  return out;
}

const commands = await docCommands();
const names = new Set(COMMANDS.map((c) => c.name));

Deno.test("docs: the README and runbook show augur commands", () => {
  assert(commands.some((c) => c.file === "README.md"), "README shows no command");
  assert(commands.filter((c) => c.file === "docs/operations.md").length >= 10, "runbook");
});

Deno.test("docs: every augur command names a real subcommand (or is marked (coming))", () => {
  const problems: string[] = [];
  for (const c of commands) {
    const where = `${c.file}:${c.line} \`${c.text}\``;
    if (names.has(c.sub) && c.coming) problems.push(`${where}: remove "(coming)", it exists`);
    if (!names.has(c.sub) && !c.coming) {
      problems.push(`${where}: no subcommand "${c.sub}" in cli/commands.ts`);
    }
  }
  assertEquals(problems, []);
});

Deno.test("docs: `augur <subcommand> --help` exits 0 for every subcommand the docs use", async () => {
  const used = [...new Set(commands.filter((c) => names.has(c.sub)).map((c) => c.sub))].sort();
  assert(used.length > 0);
  for (const sub of used) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "main.ts", sub, "--help"],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    assertEquals(out.code, 0, `augur ${sub} --help: ${new TextDecoder().decode(out.stderr)}`);
    assert(stdout.includes(`augur ${sub}`), `augur ${sub} --help prints its usage`);
  }
});
