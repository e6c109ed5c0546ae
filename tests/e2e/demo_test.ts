/**
 * `deno task demo` as a user runs it (issue 9, Must show): a real process on the simulator
 * with its scripted events, no servers, no network.
 * - exit 0 within a minute, and the report says every scripted event was detected: one
 *   "✓ after N min" row per event of defaultScenario (kind, market, expected signal type),
 *   N within the event kind's stated bound, plus a "what fired and why" line each;
 * - deterministic: a second `deno task demo` prints byte-identical stdout and stderr (log
 *   records, which carry wall-clock timestamps, excluded);
 * - `--json`: a third run with `--json` prints the same canonical JSON context lines (each one
 *   decodes and re-encodes to itself, in (detected_at, signal_id) order) — stdout of the
 *   plain runs is a pipe, so they print canonical JSON too and all three must agree.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import {
  defaultScenario,
  SCRIPTED_DETECTION,
  SIMULATOR_START,
} from "../../adapters/markets/simulator.ts";
import { canonicalJson, decode, KINDS, parseIsoMicros } from "../../pipeline/canonical_json.ts";

const REPO_ROOT = new URL("../../", import.meta.url).pathname;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  seconds: number;
}

async function demo(extra: string[] = []): Promise<Run> {
  const started = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "demo", ...extra],
    cwd: REPO_ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return {
    code: out.code,
    stdout: text.decode(out.stdout),
    stderr: text.decode(out.stderr),
    seconds: (performance.now() - started) / 1000,
  };
}

/** stderr without log records (wall-clock timestamps) and deno task's command echo. */
function report(stderr: string): string {
  return stderr.split("\n").filter((l) => !l.startsWith('{"ts":') && !l.startsWith("Task "))
    .join("\n");
}

let first: Promise<Run> | undefined;
const firstRun = () => first ??= demo();

Deno.test("demo: exits 0 within a minute and reports every scripted event as detected", async () => {
  const run = await firstRun();
  assertEquals(run.code, 0, `exit code; stderr:\n${run.stderr.slice(-4000)}`);
  assert(run.seconds < 60, `the demo took ${run.seconds.toFixed(1)} s (≥ 60 s)`);
  const lines = report(run.stderr).split("\n");
  const header = lines.findIndex((l) => l.startsWith("scripted events ("));
  assert(header >= 0, "the report has a scripted events table");
  const rows = lines.slice(header + 2, lines.indexOf("", header));
  const events = defaultScenario();
  assertEquals(rows.length, events.length, `one row per event:\n${rows.join("\n")}`);
  for (const [i, e] of events.entries()) {
    const m = rows[i].match(
      /^ {2}(\d\d:\d\d) +(\S+) +(\S+) +(\S+) +(\d+) min +(?:✓ after (\d+) min|✗ MISSED)$/,
    );
    assert(m, `unparsable row: ${rows[i]}`);
    const [, hhmm, kind, market, type, bound, delay] = m;
    const at = new Date(SIMULATOR_START / 1000 + e.at_s * 1000).toISOString().slice(11, 16);
    assertEquals([hhmm, kind, type], [at, e.kind, SCRIPTED_DETECTION[e.kind].signal_type]);
    assertEquals(market, e.kind === "divergence" ? `${e.other}/${e.market}` : e.market);
    assertEquals(Number(bound) * 60, SCRIPTED_DETECTION[e.kind].bound_s);
    assert(delay !== undefined, `${e.kind} on ${e.market} was missed: ${rows[i]}`);
    assert(Number(delay) * 60 <= SCRIPTED_DETECTION[e.kind].bound_s, rows[i]);
  }
  const why = lines.indexOf("what fired and why");
  assert(why > header, "the report explains what fired");
  for (const [i, e] of events.entries()) {
    const [, type, where] = lines[why + 1 + i].match(/^ {2}\d\d:\d\d (\S+) +(\S+) .+ → .+$/) ?? [];
    assertEquals(type, SCRIPTED_DETECTION[e.kind].signal_type, lines[why + 1 + i]);
    assert(where?.includes(e.market), `${e.market} in ${lines[why + 1 + i]}`);
  }
  assertMatch(lines[why + 1 + events.length], /^ {2}\d+ other signals/);
  assert(
    lines.includes(`every scripted event was detected (${events.length}/${events.length})`),
    "final verdict",
  );
});

Deno.test("demo: a second run and a --json run print identical output", async () => {
  const a = await firstRun();
  const [b, json] = await Promise.all([demo(), demo(["--json"])]);
  assertEquals(b.code, 0, `second run; stderr:\n${b.stderr.slice(-4000)}`);
  assertEquals(json.code, 0, `--json run; stderr:\n${json.stderr.slice(-4000)}`);
  assertEquals(report(b.stderr), report(a.stderr), "stderr report of two runs");
  assertEquals(b.stdout, a.stdout, "stdout of two runs");
  assertEquals(report(json.stderr), report(a.stderr), "stderr report of the --json run");
  assertEquals(json.stdout, a.stdout, "canonical JSON lines of the --json run");
  const lines = json.stdout.split("\n").filter((l) => l !== "");
  const contexts = report(a.stderr).match(/^ {2}contexts +(\d+)$/m);
  assert(contexts, "summary lists contexts");
  assertEquals(lines.length, Number(contexts[1]), "one JSON line per context");
  let last = "";
  for (const line of lines) {
    const context = decode(line, KINDS.context);
    assertEquals(canonicalJson(context, KINDS.context), line, "canonical");
    const key = `${
      String(parseIsoMicros(JSON.parse(line).signal.detected_at)).padStart(20, "0")
    } ${context.signal.signal_id}`;
    assert(key > last, `contexts in (detected_at, signal_id) order: ${key} after ${last}`);
    last = key;
  }
});
