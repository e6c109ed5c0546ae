/**
 * The shared benchmark row, its verdict, the one printed table and the JSON results file.
 *
 * Every `bench/<name>_bench.ts` exports `run({ quick }): Promise<BenchRow[]>`; the runner
 * (`bench/run.ts`) prints the rows of all of them in one table via {@linkcode formatTable}
 * and writes them with {@linkcode writeResults}.
 *
 * A row PASSES or falls SHORT of its target (`pass`); a row whose `ratio` (augur ÷ baseline,
 * measured in the same run) is below HALF its ratio target is a GROSS regression — the only
 * thing the CI smoke fails on (absolute rates depend on the machine and are never a gate).
 * The ratio target is {@linkcode BenchRow.minRatio} when set, else parsed from `target`
 * ("ratio >= 0.5", "≥ 0.5 × raw", ">= 0.50 of raw ioredis").
 *
 * @example
 * ```ts
 * import { type BenchRow, formatTable, verdict } from "./bench_row.ts";
 * const row: BenchRow = {
 *   name: "bus nats", augur: 60_000, baseline: 100_000, unit: "msgs/s", ratio: 0.6,
 *   target: "ratio >= 0.5", pass: true,
 * };
 * verdict(row); // "pass"
 * console.log(formatTable([row]));
 * ```
 * @module
 */

/** One benchmark result (the team format; `minRatio` is optional and machine-readable). */
export interface BenchRow {
  name: string;
  /** augur's figure. */
  augur: number;
  /** The baseline measured in the same run (raw client, appender, bare loop), if any. */
  baseline: number | null;
  unit: string;
  /** augur ÷ baseline (or the figure the target is about), if any. */
  ratio: number | null;
  /** Human-readable target. */
  target: string;
  /** Target met (true), short (false), or informational (null). */
  pass: boolean | null;
  /** The ratio the target demands (`ratio >= minRatio`); parsed from `target` when absent. */
  minRatio?: number;
}

/** A row as recorded by the runner: which bench produced it and its verdict. */
export interface RecordedRow extends BenchRow {
  /** Bench file stem (`storage` for bench/storage_bench.ts). */
  bench: string;
  verdict: Verdict;
}

/** `pass`, `short` (target missed), `gross` (ratio below half its target) or `info`. */
export type Verdict = "pass" | "short" | "gross" | "info";

/** Description of the machine a run happened on. */
export interface MachineInfo {
  cores: number;
  cpu: string;
  os: string;
  loadAverage: number[];
  deno: string;
  v8: string;
  natsServer: string;
  redisServer: string;
  postgres: string;
}

/** The JSON document written to `bench/results.json`. */
export interface BenchReport {
  startedAt: string;
  seconds: number;
  quick: boolean;
  machine: MachineInfo;
  /** Per bench file: wall seconds, and why it was skipped or failed. */
  benches: { bench: string; seconds: number; status: "ok" | "skipped" | "failed"; note?: string }[];
  rows: RecordedRow[];
  /** Count of gross regressions plus failed benches (the exit status is 1 when > 0). */
  failures: number;
}

const RATIO_PATTERNS: RegExp[] = [
  /ratio\s*(?:≥|>=)\s*([0-9]*\.?[0-9]+)/i,
  /(?:≥|>=)\s*([0-9]*\.?[0-9]+)\s*(?:×|x\b|of\b|\*)/i,
];

/**
 * The minimum ratio a row's target demands, or null when the target is not a ratio
 * (absolute rates, upper bounds, reports).
 *
 * @example
 * ```ts
 * import { ratioTarget } from "./bench_row.ts";
 * ratioTarget({ target: ">= 0.50 of raw ioredis" }); // 0.5
 * ratioTarget({ target: "augur >= 200000 rows/s" }); // null
 * ```
 */
export function ratioTarget(row: Pick<BenchRow, "target" | "minRatio">): number | null {
  if (typeof row.minRatio === "number" && Number.isFinite(row.minRatio)) return row.minRatio;
  for (const pattern of RATIO_PATTERNS) {
    const match = pattern.exec(row.target);
    if (match) {
      const value = Number(match[1]);
      // A "ratio" of thousands is an absolute rate written loosely: not a ratio target.
      if (Number.isFinite(value) && value > 0 && value <= 100) return value;
    }
  }
  return null;
}

/**
 * The verdict of one row: `gross` when its ratio is below half its ratio target, else
 * `pass` / `short` from `pass`, `info` when `pass` is null.
 *
 * @example
 * ```ts
 * import { verdict } from "./bench_row.ts";
 * verdict({ name: "x", augur: 1, baseline: 10, unit: "/s", ratio: 0.1, target: "ratio >= 0.5", pass: false });
 * // "gross"
 * ```
 */
export function verdict(row: BenchRow): Verdict {
  const min = ratioTarget(row);
  if (min !== null && typeof row.ratio === "number" && row.ratio < min / 2) return "gross";
  if (row.pass === null) return "info";
  return row.pass ? "pass" : "short";
}

/**
 * Validate something a bench returned: a list of rows in the team format.
 *
 * @example
 * ```ts
 * import { assertBenchRows } from "./bench_row.ts";
 * assertBenchRows([], "empty_bench"); // ok
 * ```
 */
export function assertBenchRows(value: unknown, bench: string): asserts value is BenchRow[] {
  if (!Array.isArray(value)) {
    throw new TypeError(
      `${bench}: expected run() to return an array of rows, received ${typeof value}`,
    );
  }
  value.forEach((row, i) => {
    const r = row as Record<string, unknown>;
    const problems: string[] = [];
    if (typeof r?.name !== "string") problems.push("name: string");
    if (typeof r?.augur !== "number") problems.push("augur: number");
    if (r?.baseline !== null && typeof r?.baseline !== "number") {
      problems.push("baseline: number | null");
    }
    if (typeof r?.unit !== "string") problems.push("unit: string");
    if (r?.ratio !== null && typeof r?.ratio !== "number") problems.push("ratio: number | null");
    if (typeof r?.target !== "string") problems.push("target: string");
    if (r?.pass !== null && typeof r?.pass !== "boolean") problems.push("pass: boolean | null");
    if (problems.length > 0) {
      throw new TypeError(
        `${bench}: row ${i} is not a BenchRow: expected ${problems.join(", ")}, received ${
          JSON.stringify(row)
        }`,
      );
    }
  });
}

/**
 * A figure for the table: integers with thousands separators, small values with 3
 * significant decimals, `-` for null.
 *
 * @example
 * ```ts
 * import { formatNumber } from "./bench_row.ts";
 * formatNumber(1234567.8); // "1 234 568"
 * formatNumber(0.4567); // "0.457"
 * ```
 */
export function formatNumber(value: number | null): string {
  if (value === null || value === undefined) return "-";
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 1000) {
    return Math.round(value).toString().replace(/\B(?=(\d{3})+(?!\d))/g, " ");
  }
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toFixed(3);
}

const VERDICT_LABEL: Record<Verdict, string> = {
  pass: "pass",
  short: "SHORT",
  gross: "SHORT (gross)",
  info: "-",
};

/**
 * The one table: name, augur, baseline, ratio, target, pass/short. `name` is prefixed with
 * the bench when rows are {@linkcode RecordedRow}s.
 *
 * @example
 * ```ts
 * import { formatTable } from "./bench_row.ts";
 * console.log(formatTable([{ name: "x", augur: 1, baseline: null, unit: "ms", ratio: null, target: "< 5 ms", pass: true }]));
 * ```
 */
export function formatTable(rows: readonly (BenchRow | RecordedRow)[]): string {
  const header = ["name", "augur", "baseline", "unit", "ratio", "target", "result"];
  const body = rows.map((row) => {
    const bench = (row as RecordedRow).bench;
    return [
      bench ? `${bench}: ${row.name}` : row.name,
      formatNumber(row.augur),
      formatNumber(row.baseline),
      row.unit,
      row.ratio === null ? "-" : row.ratio.toFixed(3),
      row.target,
      VERDICT_LABEL[(row as RecordedRow).verdict ?? verdict(row)],
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((cells) => cells[i].length)));
  const numeric = new Set([1, 2, 4]);
  const line = (cells: string[]) =>
    cells.map((cell, i) => numeric.has(i) ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))
      .join(" | ").trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("-|-");
  return [line(header), rule, ...body.map(line)].join("\n");
}

/**
 * Write the report as pretty JSON (creates the parent directory).
 *
 * @example
 * ```ts
 * import { writeResults } from "./bench_row.ts";
 * declare const report: import("./bench_row.ts").BenchReport;
 * await writeResults("bench/results.json", report);
 * ```
 */
export async function writeResults(path: string, report: BenchReport): Promise<void> {
  const slash = path.lastIndexOf("/");
  if (slash > 0) await Deno.mkdir(path.slice(0, slash), { recursive: true });
  await Deno.writeTextFile(path, JSON.stringify(report, null, 2) + "\n");
}

async function firstLine(cmd: string, args: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(cmd, {
      args,
      stdout: "piped",
      stderr: "piped",
      env: { PGCONNECT_TIMEOUT: "3" },
    }).output();
    const text = new TextDecoder().decode(out.success ? out.stdout : out.stderr).trim();
    return out.success ? text.split("\n")[0] : "not available";
  } catch {
    return "not installed";
  }
}

async function postgresVersion(): Promise<string> {
  const url = Deno.env.get("AUGUR_BENCH_PG_URL") ?? Deno.env.get("AUGUR_TEST_PG_URL") ??
    "postgres://postgres@127.0.0.1:5432/postgres";
  const server = await firstLine("psql", [url, "-Atc", "SHOW server_version"]);
  if (server !== "not available" && server !== "not installed") {
    return `PostgreSQL ${server} (server used by the bench)`;
  }
  for (const bin of ["/usr/lib/postgresql/15/bin/postgres", "postgres"]) {
    const v = await firstLine(bin, ["--version"]);
    if (v !== "not installed" && v !== "not available") return `${v} (server not reachable)`;
  }
  return "not installed";
}

function cpuModel(): string {
  try {
    const info = Deno.readTextFileSync("/proc/cpuinfo");
    return /model name\s*:\s*(.+)/.exec(info)?.[1]?.trim() ?? "unknown";
  } catch {
    return "unknown";
  }
}

/**
 * Describe the machine: cores, CPU, OS, load and the versions of Deno, nats-server,
 * redis-server and PostgreSQL.
 *
 * @example
 * ```ts
 * import { describeMachine } from "./bench_row.ts";
 * const machine = await describeMachine();
 * console.log(machine.cores, machine.natsServer);
 * ```
 */
export async function describeMachine(): Promise<MachineInfo> {
  const [nats, redis, postgres] = await Promise.all([
    firstLine("nats-server", ["--version"]),
    firstLine("redis-server", ["--version"]),
    postgresVersion(),
  ]);
  let loadAverage: number[] = [];
  try {
    loadAverage = Deno.loadavg();
  } catch { /* not permitted */ }
  return {
    cores: navigator.hardwareConcurrency,
    cpu: cpuModel(),
    os: `${Deno.build.os} ${Deno.build.arch}${
      (() => {
        try {
          return " " + Deno.osRelease();
        } catch {
          return "";
        }
      })()
    }`,
    loadAverage: loadAverage.map((x) => Math.round(x * 100) / 100),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    natsServer: nats,
    redisServer: redis,
    postgres,
  };
}

/**
 * The machine description as printed above the table.
 *
 * @example
 * ```ts
 * import { describeMachine, formatMachine } from "./bench_row.ts";
 * console.log(formatMachine(await describeMachine()));
 * ```
 */
export function formatMachine(machine: MachineInfo): string {
  return [
    `machine: ${machine.cores} cores, ${machine.cpu}, ${machine.os}, load average ${
      machine.loadAverage.join(" ") || "n/a"
    }`,
    `deno ${machine.deno} (v8 ${machine.v8}); ${machine.natsServer}; ${machine.redisServer}; ${machine.postgres}`,
  ].join("\n");
}
