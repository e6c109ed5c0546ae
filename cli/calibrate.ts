/**
 * `augur calibrate --labels FILE [--out FILE] [--curve-version V] [--now ISO]
 * [--window-days D] [--min-samples N]`: rebuild reliability curves from labeled outcomes
 * (DOMAIN §7.2; label format in pipeline/calibration/pava.ts and docs/calibration.md) and
 * add them, as a new version, to the curve-set file the runtime loads
 * (`data/calibration/curves.json` by default). Prints one table row per curve built
 * (detector, tier, points, version). A malformed label file prints one line naming the line
 * number and the field, and exits 2.
 *
 * @example
 * ```ts
 * import { calibrateCommand } from "./calibrate.ts";
 * const code = await calibrateCommand.run(["--labels", "labels.ndjson", "--out", "/tmp/curves.json"]);
 * ```
 * @module
 */
import { ConfigError, UsageError } from "../config/errors.ts";
import { DEFAULT_CURVES_PATH, loadCurveSet, saveCurveSet } from "../adapters/calibration_files.ts";
import {
  buildCurves,
  type CalibrationLabel,
  LabelError,
  toMicros,
} from "../pipeline/calibration/pava.ts";
import type { ReliabilityCurve } from "../pipeline/models.ts";
import type { Command } from "./command.ts";
import { parseFlags } from "./flags.ts";

const USAGE = `augur calibrate — rebuild reliability curves from labeled outcomes

Usage:
  augur calibrate --labels FILE [--out FILE] [--curve-version V] [--now ISO]
                  [--window-days D] [--min-samples N]

Reads labeled signals (JSON Lines, one object per line, or a JSON array), keeps those with
detected_at in the last D days before --now, and for every (detector, liquidity tier) with at
least N labels builds a curve: decile bins of the raw score, precision per bin, isotonic
regression (PAVA). The curves are ADDED as version V to the curve-set file (existing versions
are kept; signals are calibrated with the newest version built at or before their detection
time). Prints detector, tier, points and version of every curve built.

Label line (see docs/calibration.md):
  {"detector_id":"volume_spike_ewma_z_v1","liquidity_tier":"mid","raw":0.42,
   "label":true,"detected_at":"2026-03-15T12:00:07Z"}
  label: true|false|1|0|"true_positive"|"false_positive"|"true_negative" (ignored)

Options:
  --labels FILE        labeled outcomes (required)
  --out FILE           curve-set file to update (default ${DEFAULT_CURVES_PATH})
  --curve-version V    version of the new curves (default curve_v<now as YYYYMMDD.HHMMSS>)
  --now ISO            build time, ISO-8601 UTC (default: the current time)
  --window-days D      label window in days before --now (default 30)
  --min-samples N      fewer labels for a (detector, tier) ⇒ no curve (default 100)

Exit: 0 on success (also when no pair had enough labels; the file is then unchanged),
2 with one line naming the line and field when the label file is malformed.`;

const KEYS = ["detector_id", "liquidity_tier", "raw", "label", "detected_at", "signal_id"];
const REQUIRED: Record<string, string> = {
  detector_id: "a detector id",
  liquidity_tier: "high|mid|low",
  raw: "a number in [0, 1]",
  label: "true|false|1|0|true_positive|false_positive|true_negative",
  detected_at: "an ISO-8601 UTC datetime or integer epoch µs",
};

/** A label file problem (exit 2, one line): `FILE: line N: field: expected …, received …`. */
export class LabelFileError extends ConfigError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "LabelFileError";
  }
}

/**
 * Parse a label file (JSON Lines or a JSON array) into validated labels. Errors name the file,
 * the line number (1-based) and the field.
 *
 * @param text file contents
 * @param file name used in messages
 *
 * @example
 * ```ts
 * import { parseLabels } from "./calibrate.ts";
 * parseLabels('{"detector_id":"regime_shift_cusum_v1","liquidity_tier":"low","raw":0.3,"label":0,"detected_at":0}\n', "l.ndjson").length; // 1
 * ```
 * @throws {LabelFileError} `l.ndjson: line 3: raw: expected a number in [0, 1], received 1.7`
 */
export function parseLabels(text: string, file: string): CalibrationLabel[] {
  const rows: { line: number; value: unknown }[] = [];
  const trimmed = text.trimStart();
  if (trimmed.startsWith("[")) {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (error) {
      throw new LabelFileError(
        `${file}: expected a JSON array of label objects, received invalid JSON (${
          (error as Error).message
        })`,
        { cause: error },
      );
    }
    const lines = elementLines(text);
    (doc as unknown[]).forEach((value, i) => rows.push({ line: lines[i] ?? 1, value }));
  } else {
    text.split("\n").forEach((raw, i) => {
      const line = raw.trim();
      if (line === "") return;
      try {
        rows.push({ line: i + 1, value: JSON.parse(line) });
      } catch (error) {
        throw new LabelFileError(
          `${file}: line ${i + 1}: expected one JSON object per line, received ${
            JSON.stringify(line.length > 60 ? `${line.slice(0, 57)}...` : line)
          }`,
          { cause: error },
        );
      }
    });
  }
  return rows.map(({ line, value }) => validateLabel(value, `${file}: line ${line}`));
}

function validateLabel(value: unknown, where: string): CalibrationLabel {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new LabelFileError(
      `${where}: expected a label object, received ${
        Array.isArray(value) ? "array" : typeof value
      }`,
    );
  }
  const row = value as Record<string, unknown>;
  for (const key of Object.keys(row)) {
    if (!KEYS.includes(key)) {
      throw new LabelFileError(
        `${where}: ${key}: unknown field (expected only ${KEYS.join(", ")})`,
      );
    }
  }
  for (const [key, expected] of Object.entries(REQUIRED)) {
    if (!(key in row) || row[key] === null) {
      throw new LabelFileError(`${where}: ${key}: missing (expected ${expected})`);
    }
  }
  if (typeof row.detected_at === "string") {
    try {
      toMicros(row.detected_at);
    } catch (error) {
      throw new LabelFileError(`${where}: ${(error as Error).message}`, { cause: error });
    }
  } else if (typeof row.detected_at !== "number") {
    throw new LabelFileError(
      `${where}: detected_at: expected ${REQUIRED.detected_at}, received ${
        JSON.stringify(row.detected_at)
      }`,
    );
  }
  if (row.signal_id !== undefined && typeof row.signal_id !== "string") {
    throw new LabelFileError(
      `${where}: signal_id: expected a string, received ${JSON.stringify(row.signal_id)}`,
    );
  }
  const label = row as unknown as CalibrationLabel;
  // The same rules buildCurves applies (detector id, tier, raw range, label value, time).
  try {
    buildCurves([label], { now: 0, curve_version: "check", min_samples: Infinity });
  } catch (error) {
    if (!(error instanceof LabelError)) throw error;
    const message = error.message.replace(/^label \d+: /, "");
    throw new LabelFileError(`${where}: ${message}`, { cause: error });
  }
  return label;
}

/** 1-based line of each top-level element of a JSON array text. */
function elementLines(text: string): number[] {
  const lines: number[] = [];
  let depth = 0, line = 1, inString = false, escaped = false, expectElement = false;
  for (const ch of text) {
    if (ch === "\n") line++;
    if (inString) {
      if (escaped) escaped = false;
      else if (ch === "\\") escaped = true;
      else if (ch === '"') inString = false;
      continue;
    }
    if (/\s/.test(ch)) continue;
    if (depth === 1 && expectElement && ch !== "]") {
      lines.push(line);
      expectElement = false;
    }
    if (ch === '"') inString = true;
    else if (ch === "[" || ch === "{") {
      depth++;
      if (depth === 1) expectElement = true;
    } else if (ch === "]" || ch === "}") depth--;
    else if (ch === "," && depth === 1) expectElement = true;
  }
  return lines;
}

function parseNow(value: string | undefined): number {
  if (value === undefined) return Date.now() * 1000;
  try {
    return toMicros(value);
  } catch {
    throw new UsageError(`--now: expected an ISO-8601 UTC datetime, received "${value}"`);
  }
}

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new UsageError(`--${name}: expected an integer ≥ 1, received "${value}"`);
  }
  return n;
}

/**
 * Default curve version for a build time: `curve_v<YYYYMMDD>.<HHMMSS>`.
 *
 * @example
 * ```ts
 * import { defaultCurveVersion } from "./calibrate.ts";
 * defaultCurveVersion(1_773_576_007_000_000); // "curve_v20260315.120007"
 * ```
 */
export function defaultCurveVersion(nowMicros: number): string {
  const iso = new Date(Math.floor(nowMicros / 1000)).toISOString();
  return `curve_v${iso.slice(0, 10).replaceAll("-", "")}.${iso.slice(11, 19).replaceAll(":", "")}`;
}

/**
 * The printed table of curves.
 *
 * @example
 * ```ts
 * import { curveTable } from "./calibrate.ts";
 * import { identityCurve } from "../pipeline/calibration/curve.ts";
 * console.log(curveTable([identityCurve("regime_shift_cusum_v1", "mid")]));
 * ```
 */
export function curveTable(curves: readonly ReliabilityCurve[]): string {
  const rows = [
    ["detector", "tier", "points", "version"],
    ...curves.map((c) => [
      c.detector_id,
      c.liquidity_tier,
      String(c.deciles.length),
      c.curve_version,
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd())
    .join("\n");
}

/** `augur calibrate` */
export const calibrateCommand: Command = {
  name: "calibrate",
  summary: "rebuild reliability curves from labeled outcomes (--labels FILE)",
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    const { values } = parseFlags(args, {
      labels: { type: "string" },
      out: { type: "string" },
      "curve-version": { type: "string" },
      now: { type: "string" },
      "window-days": { type: "string" },
      "min-samples": { type: "string" },
      config: { type: "string" }, // accepted (global option); unused
    });
    const labelsPath = values.labels as string | undefined;
    if (!labelsPath) throw new UsageError("missing --labels FILE (labeled outcomes)");
    const out = (values.out as string | undefined) ?? DEFAULT_CURVES_PATH;
    const now = parseNow(values.now as string | undefined);
    const version = (values["curve-version"] as string | undefined) ?? defaultCurveVersion(now);
    if (!/^[A-Za-z0-9_.-]+$/.test(version)) {
      throw new UsageError(`--curve-version: expected [A-Za-z0-9_.-]+, received "${version}"`);
    }
    const windowDays = positive("window-days", values["window-days"] as string | undefined, 30);
    const minSamples = positive("min-samples", values["min-samples"] as string | undefined, 100);
    let text: string;
    try {
      text = await Deno.readTextFile(labelsPath);
    } catch (error) {
      throw new LabelFileError(
        `${labelsPath}: cannot read the label file (${(error as Error).name})`,
        { cause: error },
      );
    }
    const labels = parseLabels(text, labelsPath);
    const existing = await loadCurveSet(out);
    const built = buildCurves(labels, {
      now,
      curve_version: version,
      window_days: windowDays,
      min_samples: minSamples,
    });
    for (const c of built) {
      if (
        existing.curves.some((o) =>
          o.detector_id === c.detector_id && o.liquidity_tier === c.liquidity_tier &&
          o.curve_version === c.curve_version
        )
      ) {
        throw new ConfigError(
          `${out}: curve_version "${version}" already exists for ${c.detector_id}/${c.liquidity_tier} ` +
            `(expected a new --curve-version)`,
        );
      }
    }
    console.log(
      `${labels.length} label(s) read from ${labelsPath}; window ${windowDays} d before ${
        new Date(Math.floor(now / 1000)).toISOString()
      }; min ${minSamples} per (detector, tier)`,
    );
    if (built.length === 0) {
      console.log(`no (detector, tier) had ${minSamples} labels in the window; ${out} unchanged`);
      return 0;
    }
    await saveCurveSet(out, [...existing.curves, ...built]);
    console.log(curveTable(built));
    console.log(
      `${built.length} curve(s) of version ${version} added to ${out} (${
        existing.curves.length + built.length
      } curves in the set)`,
    );
    return 0;
  },
};
