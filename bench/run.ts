/**
 * `deno task bench`: run every `bench/*_bench.ts` (discovered, in name order), print ONE
 * table (name, augur figure, baseline figure measured in the same run, ratio, target,
 * pass/short) under a description of the machine, and write `bench/results.json`.
 *
 * ```
 * deno task bench                   # full run (< 10 min on 2 cores)
 * deno task bench --quick           # smaller sizes (< 2 min)
 * deno task bench --only bus,storage
 * deno task bench --out /tmp/r.json # results elsewhere; --no-json to skip writing
 * ```
 *
 * A bench file without a `run` export is skipped with a note; a bench that throws is
 * reported and counted as a failure. The exit status is 1 only for failures and GROSS
 * regressions (a ratio below half its ratio target) — a target merely missed is printed as
 * SHORT but never fails the run, and absolute rates never do.
 *
 * @example
 * ```ts
 * import { runBenches } from "./run.ts";
 * const report = await runBenches({ quick: true, only: ["markets"], out: null });
 * console.log(report.rows.length, report.failures);
 * ```
 * @module
 */

import { nearest, UsageError } from "../config/errors.ts";
import {
  assertBenchRows,
  type BenchReport,
  type BenchRow,
  describeMachine,
  formatMachine,
  formatTable,
  type RecordedRow,
  verdict,
  writeResults,
} from "./bench_row.ts";

/** Options of {@linkcode runBenches}. */
export interface RunBenchesOptions {
  /** Smaller sizes (the CI smoke). */
  quick: boolean;
  /** Bench stems to run (`bus`, `storage`, …); all when absent or empty. */
  only?: readonly string[];
  /** Directory holding the `*_bench.ts` files (default: this file's directory). */
  dir?: string;
  /** Results file (default `bench/results.json` next to this file); null: don't write. */
  out?: string | null;
  /** Progress and notes (default: stderr). */
  log?: (line: string) => void;
  /** Load a bench module (default: dynamic import); injectable for tests. */
  load?: (path: string) => Promise<Record<string, unknown>>;
}

const HERE = decodeURIComponent(new URL(".", import.meta.url).pathname);

/**
 * The bench stems in `dir`, sorted: `storage` for `storage_bench.ts`.
 *
 * @example
 * ```ts
 * import { discoverBenches } from "./run.ts";
 * console.log(await discoverBenches()); // ["bridge", "bus", "detectors", …]
 * ```
 */
export async function discoverBenches(dir: string = HERE): Promise<string[]> {
  const stems: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const match = /^(.+)_bench\.ts$/.exec(entry.name);
    if (entry.isFile && match) stems.push(match[1]);
  }
  return stems.sort();
}

/** Resolve `--only` names against the discovered stems; unknown names are a UsageError. */
function select(stems: string[], only: readonly string[] | undefined): string[] {
  if (!only || only.length === 0) return stems;
  const wanted = only.map((name) => name.trim().replace(/(_bench)?(\.ts)?$/, "")).filter(
    Boolean,
  );
  for (const name of wanted) {
    if (!stems.includes(name)) {
      const hint = nearest(name, stems);
      throw new UsageError(
        `--only: unknown bench "${name}"${hint ? ` (did you mean "${hint}"?)` : ""}; ` +
          `expected one of ${stems.join(", ")}`,
      );
    }
  }
  return stems.filter((stem) => wanted.includes(stem));
}

/**
 * Run the selected benches in this process, one after the other, and collect the report
 * (also written as JSON unless `out` is null).
 *
 * @example
 * ```ts
 * import { runBenches } from "./run.ts";
 * const report = await runBenches({ quick: true, only: ["features"], out: null });
 * console.log(report.rows.map((r) => r.verdict));
 * ```
 */
export async function runBenches(options: RunBenchesOptions): Promise<BenchReport> {
  const dir = options.dir ?? HERE;
  const log = options.log ?? ((line: string) => console.error(line));
  const load = options.load ??
    ((path: string) => import(new URL(`file://${path}`).href) as Promise<Record<string, unknown>>);
  const stems = select(await discoverBenches(dir), options.only);
  const started = new Date();
  const t0 = performance.now();
  const machine = await describeMachine();
  const benches: BenchReport["benches"] = [];
  const rows: RecordedRow[] = [];
  let failures = 0;
  for (const bench of stems) {
    const path = `${dir.replace(/\/$/, "")}/${bench}_bench.ts`;
    const start = performance.now();
    const seconds = () => Math.round((performance.now() - start) / 100) / 10;
    log(`▶ ${bench}${options.quick ? " (quick)" : ""}`);
    let module: Record<string, unknown>;
    try {
      module = await load(path);
    } catch (error) {
      failures++;
      const note = `cannot load: ${(error as Error).message.split("\n")[0]}`;
      benches.push({ bench, seconds: seconds(), status: "failed", note });
      log(`✗ ${bench}: ${note}`);
      continue;
    }
    if (typeof module.run !== "function") {
      const note = "skipped: no `run({ quick })` export";
      benches.push({ bench, seconds: seconds(), status: "skipped", note });
      log(`- ${bench}: ${note}`);
      continue;
    }
    try {
      const result: unknown = await (module.run as (o: { quick: boolean }) => Promise<unknown>)(
        { quick: options.quick },
      );
      assertBenchRows(result, bench);
      for (const row of result as BenchRow[]) {
        const recorded: RecordedRow = { bench, ...row, verdict: verdict(row) };
        if (recorded.verdict === "gross") failures++;
        rows.push(recorded);
      }
      const note = result.length === 0 ? "no rows (its servers are not installed?)" : undefined;
      benches.push({ bench, seconds: seconds(), status: "ok", ...(note ? { note } : {}) });
      log(`✓ ${bench} ${seconds()} s, ${result.length} rows`);
    } catch (error) {
      failures++;
      const note = `failed: ${(error as Error).message.split("\n")[0]}`;
      benches.push({ bench, seconds: seconds(), status: "failed", note });
      log(`✗ ${bench}: ${note}`);
    }
  }
  const report: BenchReport = {
    startedAt: started.toISOString(),
    seconds: Math.round((performance.now() - t0) / 100) / 10,
    quick: options.quick,
    machine,
    benches,
    rows,
    failures,
  };
  const out = options.out === undefined ? `${HERE}results.json` : options.out;
  if (out !== null) await writeResults(out, report);
  return report;
}

/**
 * The printed report: machine, table, notes and totals.
 *
 * @example
 * ```ts
 * import { formatReport, runBenches } from "./run.ts";
 * console.log(formatReport(await runBenches({ quick: true, only: ["markets"], out: null })));
 * ```
 */
export function formatReport(report: BenchReport): string {
  const lines = [formatMachine(report.machine), "", formatTable(report.rows)];
  const notes = report.benches.filter((b) => b.note);
  if (notes.length > 0) {
    lines.push("", ...notes.map((b) => `note: ${b.bench}: ${b.note}`));
  }
  const count = (v: string) => report.rows.filter((r) => r.verdict === v).length;
  lines.push(
    "",
    `${report.rows.length} rows: ${count("pass")} pass, ${count("short")} short, ${
      count("gross")
    } gross regressions, ${count("info")} informational; ${
      report.benches.filter((b) => b.status === "failed").length
    } benches failed; ${report.seconds} s${report.quick ? " (--quick)" : ""}`,
  );
  return lines.join("\n");
}

/**
 * The process exit status of a report: 1 when a bench failed or a row regressed grossly,
 * else 0 (a target merely missed is not a failure).
 *
 * @example
 * ```ts
 * import { exitStatus, runBenches } from "./run.ts";
 * Deno.exitCode = exitStatus(await runBenches({ quick: true, out: null }));
 * ```
 */
export function exitStatus(report: Pick<BenchReport, "failures">): number {
  return report.failures > 0 ? 1 : 0;
}

/**
 * Parse the command line.
 *
 * @example
 * ```ts
 * import { parseArgs } from "./run.ts";
 * parseArgs(["--quick", "--only", "bus,storage"]); // { quick: true, only: ["bus", "storage"], out: undefined }
 * ```
 */
export function parseArgs(
  args: readonly string[],
): { quick: boolean; only: string[]; out: string | null | undefined } {
  let quick = false;
  let only: string[] = [];
  let out: string | null | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const value = (flag: string) => {
      const eq = arg.indexOf("=");
      if (eq >= 0) return arg.slice(eq + 1);
      const next = args[++i];
      if (next === undefined) throw new UsageError(`${flag}: expected a value, received nothing`);
      return next;
    };
    if (arg === "--quick") quick = true;
    else if (arg === "--only" || arg.startsWith("--only=")) {
      only = only.concat(value("--only").split(","));
    } else if (arg === "--out" || arg.startsWith("--out=")) out = value("--out");
    else if (arg === "--no-json") out = null;
    else {
      throw new UsageError(
        `unknown argument "${arg}": expected --quick, --only a,b, --out FILE or --no-json`,
      );
    }
  }
  return { quick, only, out };
}

if (import.meta.main) {
  let parsed;
  try {
    parsed = parseArgs(Deno.args);
    const report = await runBenches(parsed);
    console.log(formatReport(report));
    if (parsed.out !== null) {
      console.log(`results written to ${parsed.out ?? "bench/results.json"}`);
    }
    Deno.exit(exitStatus(report));
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(error.message);
      Deno.exit(2);
    }
    throw error;
  }
}
