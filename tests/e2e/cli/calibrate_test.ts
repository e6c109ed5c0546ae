/**
 * e2e: the real `augur calibrate` process rebuilds curves from a JSON label file into a curve
 * set the runtime loader reads back, and a malformed label file exits 2 with exactly one line
 * naming the line number and field.
 */
import { assert, assertEquals, assertStringIncludes } from "../../helpers/assert.ts";
import { spawnAugur } from "../../helpers/augur_process.ts";
import { loadCurveSet } from "../../../adapters/calibration_files.ts";
import { calibrate } from "../../../pipeline/calibration/curve.ts";

const NOW = "2026-03-15T12:00:00Z";

Deno.test("augur calibrate: JSON array labels → curves file → loadCurveSet calibrates with them", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // 200 labels: raw < 0.5 never true, raw ≥ 0.5 always true
    const rows = Array.from({ length: 200 }, (_, i) => ({
      detector_id: "cross_market_fisher_bh_v1",
      liquidity_tier: "high",
      raw: i / 200,
      label: i >= 100,
      detected_at: "2026-03-14T00:00:00Z",
    }));
    await Deno.writeTextFile(`${dir}/labels.json`, JSON.stringify(rows, null, 1));
    const out = `${dir}/curves.json`;
    const p = spawnAugur([
      "calibrate",
      "--labels",
      `${dir}/labels.json`,
      "--out",
      out,
      "--now",
      NOW,
      "--curve-version",
      "curve_v2.0",
    ]);
    assertEquals(await p.exit(), 0, p.stderr());
    assertStringIncludes(p.stdout(), "detector");
    assertStringIncludes(p.stdout(), "cross_market_fisher_bh_v1  high  10      curve_v2.0");
    const set = await loadCurveSet(out);
    const low = calibrate(
      { detector_id: "cross_market_fisher_bh_v1", tier: "high", raw: 0.1 },
      set,
    );
    const high = calibrate(
      { detector_id: "cross_market_fisher_bh_v1", tier: "high", raw: 0.9 },
      set,
    );
    assertEquals(low.confidence, 0);
    assertEquals(high.confidence, 1);
    assertEquals(high.provenance, "cross_market_fisher_bh_v1@curve_v2.0");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("augur calibrate: a malformed label file ⇒ exit 2 and one line naming line and field", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const ok = {
      detector_id: "volume_spike_ewma_z_v1",
      liquidity_tier: "mid",
      raw: 0.4,
      label: true,
      detected_at: NOW,
    };
    await Deno.writeTextFile(
      `${dir}/labels.ndjson`,
      [ok, ok, { ...ok, liquidity_tier: "medium" }].map((r) => JSON.stringify(r)).join("\n"),
    );
    const p = spawnAugur([
      "calibrate",
      "--labels",
      `${dir}/labels.ndjson`,
      "--out",
      `${dir}/c.json`,
    ]);
    assertEquals(await p.exit(), 2);
    const lines = p.stderr().trim().split("\n");
    assertEquals(lines.length, 1, p.stderr());
    assertStringIncludes(lines[0], "labels.ndjson: line 3: liquidity_tier: expected high|mid|low");
    assertStringIncludes(lines[0], '"medium"');
    assert(!(await Deno.stat(`${dir}/c.json`).then(() => true, () => false)), "nothing written");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
