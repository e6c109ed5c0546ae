/**
 * `augur calibrate`: label parsing (JSON Lines and JSON arrays, errors naming line and field),
 * curves built and added as a new version next to the existing ones, the shipped default
 * curve set, and loadCurveSet (missing file ⇒ identity set, invalid file ⇒ ConfigError).
 */
import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "../../helpers/assert.ts";
import {
  calibrateCommand,
  curveTable,
  defaultCurveVersion,
  LabelFileError,
  parseLabels,
} from "../../../cli/calibrate.ts";
import {
  DEFAULT_CURVES_PATH,
  loadCurveSet,
  saveCurveSet,
} from "../../../adapters/calibration_files.ts";
import {
  calibrate,
  defaultCurves,
  IDENTITY_CURVE_VERSION,
  serializeCurveSet,
} from "../../../pipeline/calibration/curve.ts";
import { ConfigError } from "../../../config/errors.ts";
import { Prng } from "../../helpers/prng.ts";

const ROOT = new URL("../../../", import.meta.url).pathname;
const NOW = "2026-03-15T12:00:00Z";
const NOW_US = Date.parse(NOW) * 1000;
const DAY_US = 86_400_000_000;

/** Labels where P(true) = raw, for one (detector, tier), inside the window. */
function labels(n: number, detector: string, tier: string, seed = 1): Record<string, unknown>[] {
  const r = new Prng(seed);
  return Array.from({ length: n }, (_, i) => {
    const raw = Math.round(r.next() * 1000) / 1000;
    return {
      detector_id: detector,
      liquidity_tier: tier,
      raw,
      label: i % 2 === 0 ? r.next() < raw : (r.next() < raw ? "true_positive" : "false_positive"),
      detected_at: NOW_US - Math.floor(r.next() * 20 * DAY_US),
    };
  });
}

async function quiet<T>(fn: () => Promise<T>): Promise<{ value: T; out: string }> {
  const original = console.log;
  const lines: string[] = [];
  console.log = (...a: unknown[]) => lines.push(a.join(" "));
  try {
    return { value: await fn(), out: lines.join("\n") };
  } finally {
    console.log = original;
  }
}

Deno.test("calibrate: JSON Lines and a JSON array parse to the same labels", () => {
  const rows = labels(5, "volume_spike_ewma_z_v1", "mid");
  rows[1].detected_at = "2026-03-10T08:00:00.5Z";
  rows[2].signal_id = "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b";
  rows[3].label = "true_negative";
  const ndjson = rows.map((r) => JSON.stringify(r)).join("\n") + "\n\n";
  const array = JSON.stringify(rows, null, 2);
  assertEquals(parseLabels(ndjson, "l.ndjson") as unknown[], rows);
  assertEquals(parseLabels(array, "l.json") as unknown[], rows);
});

Deno.test("calibrate: a bad label names the file, the line and the field", () => {
  const good = JSON.stringify(labels(1, "regime_shift_cusum_v1", "low")[0]);
  const cases: [string, string][] = [
    [
      `${good}\n${good.replace('"low"', '"tiny"')}`,
      "l: line 2: liquidity_tier: expected high|mid|low",
    ],
    [
      `${good}\n\n${good.replace(/"raw":[0-9.]+/, '"raw":1.7')}`,
      "l: line 3: raw: expected a number in [0, 1], received 1.7",
    ],
    [
      good.replace('"regime_shift_cusum_v1"', '"regime_v9"'),
      "l: line 1: detector_id: expected one of",
    ],
    [good.replace(/"label":[a-z"_]+/, '"label":"maybe"'), "l: line 1: label: expected true|false"],
    [
      good.replace(/"detected_at":\d+/, '"detected_at":"yesterday"'),
      "l: line 1: detected_at: expected ISO-8601",
    ],
    [good.replace(/,"detected_at":\d+/, ""), "l: line 1: detected_at: missing"],
    [good.replace("{", '{"extra":1,'), "l: line 1: extra: unknown field"],
    [`${good}\n{"detector_id": `, "l: line 2: expected one JSON object per line"],
    [`${good}\n[1]`, "l: line 2: expected a label object, received array"],
    [
      `[\n  ${good},\n  ${good.replace(/"raw":[0-9.]+/, '"raw":"high"')}\n]`,
      "l: line 3: raw: expected a number",
    ],
    ["[1, 2", "l: expected a JSON array of label objects"],
  ];
  for (const [text, message] of cases) {
    const error = assertThrows(() => parseLabels(text, "l"), LabelFileError);
    assertStringIncludes(error.message, message);
    assert(!error.message.includes("\n"), "one line");
    assertEquals(error.exitCode, 2);
  }
});

Deno.test("calibrate: builds curves, adds a version, keeps the old ones, prints the table", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = `${dir}/cal/curves.json`;
    const rows = [
      ...labels(300, "volume_spike_ewma_z_v1", "mid", 1),
      ...labels(150, "price_velocity_bocpd_beta_v1", "high", 2),
      ...labels(40, "regime_shift_cusum_v1", "low", 3), // below min_samples ⇒ no curve
      // outside the 30-day window ⇒ ignored
      ...labels(200, "book_imbalance_depth_persist_v1", "low", 4).map((l) => ({
        ...l,
        detected_at: NOW_US - 40 * DAY_US,
      })),
    ];
    const file = `${dir}/labels.ndjson`;
    await Deno.writeTextFile(file, rows.map((r) => JSON.stringify(r)).join("\n"));
    const first = await quiet(() =>
      calibrateCommand.run([
        "--labels",
        file,
        "--out",
        out,
        "--now",
        NOW,
        "--curve-version",
        "curve_v1.0",
      ])
    );
    assertEquals(first.value, 0);
    assertStringIncludes(first.out, "detector");
    assertStringIncludes(first.out, "price_velocity_bocpd_beta_v1  high  10      curve_v1.0");
    assertStringIncludes(first.out, "volume_spike_ewma_z_v1        mid   10      curve_v1.0");
    assert(!first.out.includes("regime_shift_cusum_v1"), first.out);
    const set = await loadCurveSet(out);
    assertEquals(set.curves.length, 15 + 2, "identity set + 2 new curves");
    const curve = set.lookup("volume_spike_ewma_z_v1", "mid")!;
    assertEquals(curve.curve_version, "curve_v1.0");
    assertEquals(curve.built_at, NOW_US);
    for (let i = 1; i < curve.deciles.length; i++) {
      assert(curve.deciles[i][1] >= curve.deciles[i - 1][1], "isotonic");
    }
    // pinned lookups: before the build the identity curve is active
    assertEquals(
      calibrate(
        { detector_id: "volume_spike_ewma_z_v1", tier: "mid", raw: 0.3, at: NOW_US - 1 },
        set,
      )
        .curve_version,
      IDENTITY_CURVE_VERSION,
    );
    // a second version is added next to the first; the same version again is refused
    const later = "2026-03-16T12:00:00Z";
    const second = await quiet(() =>
      calibrateCommand.run(["--labels", file, "--out", out, "--now", later])
    );
    assertEquals(second.value, 0);
    assertStringIncludes(second.out, "curve_v20260316.120000");
    const both = await loadCurveSet(out);
    assertEquals(both.curves.length, 19);
    assertEquals(both.lookup("volume_spike_ewma_z_v1", "mid", NOW_US)!.curve_version, "curve_v1.0");
    assertEquals(
      both.lookup("volume_spike_ewma_z_v1", "mid")!.curve_version,
      "curve_v20260316.120000",
    );
    await assertRejects(
      () => quiet(() => calibrateCommand.run(["--labels", file, "--out", out, "--now", later])),
      ConfigError,
      "already exists",
    );
    // too few labels anywhere ⇒ exit 0, file unchanged
    const before = await Deno.readTextFile(out);
    const few = await quiet(() =>
      calibrateCommand.run(["--labels", file, "--out", out, "--now", NOW, "--min-samples", "5000"])
    );
    assertEquals(few.value, 0);
    assertStringIncludes(few.out, "unchanged");
    assertEquals(await Deno.readTextFile(out), before);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("calibrate: bad flags are usage errors", async () => {
  await assertRejects(() => calibrateCommand.run([]), Error, "missing --labels");
  await assertRejects(
    () => calibrateCommand.run(["--labels", "x", "--now", "noon"]),
    Error,
    "--now: expected an ISO-8601",
  );
  await assertRejects(
    () => calibrateCommand.run(["--labels", "x", "--curve-version", "v 1"]),
    Error,
    "--curve-version",
  );
  await assertRejects(
    () => calibrateCommand.run(["--labels", "/nonexistent/labels.ndjson"]),
    LabelFileError,
    "cannot read the label file",
  );
  assertEquals(defaultCurveVersion(1_773_576_007_000_000), "curve_v20260315.120007");
});

Deno.test("calibration files: shipped default set, missing ⇒ identity, invalid ⇒ ConfigError", async () => {
  const shipped = await Deno.readTextFile(`${ROOT}${DEFAULT_CURVES_PATH}`);
  assertEquals(shipped, serializeCurveSet(defaultCurves()));
  const dir = await Deno.makeTempDir();
  try {
    const missing = await loadCurveSet(`${dir}/none.json`);
    assertEquals(missing.curves.length, 15);
    assert(missing.curves.every((c) => c.curve_version === IDENTITY_CURVE_VERSION));
    await Deno.writeTextFile(`${dir}/bad.json`, "{not json");
    await assertRejects(
      () => loadCurveSet(`${dir}/bad.json`),
      ConfigError,
      "bad.json: expected JSON",
    );
    await Deno.writeTextFile(
      `${dir}/bad2.json`,
      '{"format":"other","format_version":1,"curves":[]}',
    );
    await assertRejects(() => loadCurveSet(`${dir}/bad2.json`), ConfigError, "format");
    await saveCurveSet(`${dir}/x/y.json`, defaultCurves().slice(0, 2));
    assertEquals((await loadCurveSet(`${dir}/x/y.json`)).curves.length, 2);
    assertEquals([...Deno.readDirSync(`${dir}/x`)].map((e) => e.name), ["y.json"], "no temp left");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assertStringIncludes(curveTable(defaultCurves().slice(0, 1)), "price_velocity_bocpd_beta_v1");
});
