/**
 * CI smoke of the benchmark runner (bench/run.ts): runs two cheap real benches in `--quick`
 * mode in-process and checks the report's shape; checks on fake bench files that a GROSS
 * regression (ratio below half its ratio target) fails the run, that a missed target or a
 * slow absolute rate does not, and that a file without `run` is skipped with a note.
 * Never asserts on absolute time.
 */
import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "../../helpers/assert.ts";
import { type BenchReport, formatTable, ratioTarget, verdict } from "../../../bench/bench_row.ts";
import {
  discoverBenches,
  exitStatus,
  formatReport,
  parseArgs,
  runBenches,
} from "../../../bench/run.ts";
import { UsageError } from "../../../config/errors.ts";

const quiet = () => {};

function assertReportShape(report: BenchReport): void {
  assertEquals(typeof report.startedAt, "string");
  assert(report.machine.cores >= 1, "machine cores");
  for (const key of ["deno", "natsServer", "redisServer", "postgres"] as const) {
    assert(report.machine[key].length > 0, `machine.${key} described`);
  }
  for (const row of report.rows) {
    assertEquals(typeof row.bench, "string");
    assertEquals(typeof row.name, "string");
    assertEquals(typeof row.augur, "number");
    assert(row.baseline === null || typeof row.baseline === "number", "baseline");
    assert(row.ratio === null || typeof row.ratio === "number", "ratio");
    assertEquals(typeof row.target, "string");
    assert(["pass", "short", "gross", "info"].includes(row.verdict), `verdict ${row.verdict}`);
  }
}

Deno.test("bench runner: discovers every bench file, including this area's bridge bench", async () => {
  const stems = await discoverBenches();
  for (const stem of ["bridge", "bus", "redis_bus", "storage", "features", "detectors"]) {
    assert(stems.includes(stem), `${stem} discovered in ${stems.join(", ")}`);
  }
  assertEquals([...stems].sort(), stems);
});

Deno.test("bench runner: --quick smoke of two cheap benches (no gross regression)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "augur-bench-smoke-" });
  try {
    const out = `${dir}/results.json`;
    const report = await runBenches({
      quick: true,
      only: ["dedup_context", "bus"],
      out,
      log: quiet,
    });
    assertEquals(report.benches.map((b) => b.bench), ["bus", "dedup_context"]);
    assert(report.rows.length >= 2, `rows: ${report.rows.length}`);
    assertReportShape(report);
    const written = JSON.parse(await Deno.readTextFile(out)) as BenchReport;
    assertEquals(written.rows.length, report.rows.length);
    assertEquals(written.quick, true);
    assertReportShape(written);
    const printed = formatReport(report);
    for (const header of ["name", "augur", "baseline", "ratio", "target", "result"]) {
      assertStringIncludes(printed, header);
    }
    assertStringIncludes(printed, "cores");
    // The gate: only crashes and gross ratio regressions fail (never absolute rates).
    const gross = report.rows.filter((r) => r.verdict === "gross");
    assertEquals(gross.map((r) => `${r.name}: ratio ${r.ratio}, target ${r.target}`), []);
    assertEquals(report.benches.filter((b) => b.status === "failed"), []);
    assertEquals(exitStatus(report), 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const FAKE_ROWS = `
export function run({ quick }) {
  return Promise.resolve([
    { name: "fine ratio", augur: 60, baseline: 100, unit: "msgs/s", ratio: 0.6,
      target: "ratio >= 0.5", pass: true },
    { name: "short ratio", augur: 40, baseline: 100, unit: "msgs/s", ratio: 0.4,
      target: ">= 0.50 of raw", pass: false },
    { name: "slow absolute", augur: quick ? 1 : 2, baseline: null, unit: "rows/s", ratio: null,
      target: "augur >= 200000 rows/s", pass: false },
  ]);
}
`;

const GROSS_ROW = `
export const run = () => Promise.resolve([
  { name: "gross ratio", augur: 10, baseline: 100, unit: "msgs/s", ratio: 0.1,
    target: "≥ 0.5 × raw @nats-io", pass: false },
]);
`;

Deno.test("bench runner: a gross ratio regression fails; short targets and slow rates do not", async () => {
  const dir = await Deno.makeTempDir({ prefix: "augur-bench-fake-" });
  try {
    await Deno.writeTextFile(`${dir}/fine_bench.ts`, FAKE_ROWS);
    await Deno.writeTextFile(`${dir}/gross_bench.ts`, GROSS_ROW);
    await Deno.writeTextFile(`${dir}/norun_bench.ts`, `export const nothing = 1;\n`);
    await Deno.writeTextFile(`${dir}/broken_bench.ts`, `export const run = () => [{ name: 1 }];\n`);
    await Deno.writeTextFile(`${dir}/helper.ts`, `export const notABench = true;\n`);

    const fine = await runBenches({ quick: true, dir, only: ["fine"], out: null, log: quiet });
    assertEquals(fine.rows.map((r) => r.verdict), ["pass", "short", "short"]);
    assertEquals(fine.failures, 0);
    assertEquals(exitStatus(fine), 0);

    const lines: string[] = [];
    const all = await runBenches({
      quick: true,
      dir,
      out: `${dir}/out/results.json`,
      log: (line) => lines.push(line),
    });
    assertEquals(all.benches.map((b) => `${b.bench}:${b.status}`), [
      "broken:failed",
      "fine:ok",
      "gross:ok",
      "norun:skipped",
    ]);
    const gross = all.rows.find((r) => r.name === "gross ratio")!;
    assertEquals(gross.verdict, "gross");
    assertEquals(all.failures, 2); // the gross row + the bench returning malformed rows
    assertEquals(exitStatus(all), 1);
    assertStringIncludes(all.benches.find((b) => b.bench === "norun")!.note!, "no `run");
    assertStringIncludes(all.benches.find((b) => b.bench === "broken")!.note!, "name: string");
    assertStringIncludes(formatReport(all), "SHORT (gross)");
    assertStringIncludes(formatReport(all), "note: norun");
    const written = JSON.parse(await Deno.readTextFile(`${dir}/out/results.json`));
    assertEquals(written.failures, 2);
    assert(lines.some((l) => l.includes("gross")), "progress logged");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bench runner: ratio targets are parsed; absolute and upper-bound targets are not", () => {
  assertEquals(ratioTarget({ target: "ratio >= 0.5" }), 0.5);
  assertEquals(ratioTarget({ target: "≥ 0.5 × raw @nats-io" }), 0.5);
  assertEquals(ratioTarget({ target: ">= 0.50 of raw ioredis" }), 0.5);
  assertEquals(ratioTarget({ target: "anything", minRatio: 0.8 }), 0.8);
  assertEquals(ratioTarget({ target: "augur >= 200000 rows/s" }), null);
  assertEquals(ratioTarget({ target: "≥ 100000 vectors/s" }), null);
  assertEquals(ratioTarget({ target: "augur <= 1.5x (flat)" }), null);
  assertEquals(ratioTarget({ target: "< 5 ms" }), null);
  const row = {
    name: "x",
    augur: 24,
    baseline: 100,
    unit: "/s",
    ratio: 0.24,
    target: "ratio >= 0.5",
    pass: false,
  };
  assertEquals(verdict(row), "gross");
  assertEquals(verdict({ ...row, ratio: 0.25 }), "short");
  assertEquals(verdict({ ...row, pass: null, ratio: null }), "info");
  const table = formatTable([row]);
  assertEquals(table.split("\n").length, 3);
});

Deno.test("bench runner: command line", async () => {
  assertEquals(parseArgs(["--quick", "--only", "bus,storage"]), {
    quick: true,
    only: ["bus", "storage"],
    out: undefined,
  });
  assertEquals(parseArgs(["--only=bridge", "--no-json"]), {
    quick: false,
    only: ["bridge"],
    out: null,
  });
  assertThrows(() => parseArgs(["--fast"]), UsageError, "unknown argument");
  const error = await assertRejects(
    () => runBenches({ quick: true, only: ["storag"], out: null, log: quiet }),
    UsageError,
  );
  assertStringIncludes(error.message, 'did you mean "storage"');
});
