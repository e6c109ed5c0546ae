/**
 * Versioned reliability-curve files under `data/calibration/` (DOMAIN §7): the runtime loads
 * the curve set with {@linkcode loadCurveSet} (a missing file means the shipped identity set,
 * {@linkcode defaultCurves}); `augur calibrate` appends new versions with
 * {@linkcode saveCurveSet} (atomic: temp file + rename). File format: see
 * pipeline/calibration/curve.ts and docs/calibration.md.
 *
 * @example
 * ```ts
 * import { loadCurveSet } from "./calibration_files.ts";
 * const curves = await loadCurveSet(); // data/calibration/curves.json or identity
 * console.log(curves.curves.length);
 * ```
 * @module
 */
import { ConfigError } from "../config/errors.ts";
import {
  CurveSet,
  defaultCurves,
  parseCurveSet,
  type ReliabilityCurve,
  serializeCurveSet,
} from "../pipeline/calibration/curve.ts";

/** Where the runtime looks for the curve set (relative to the working directory). */
export const DEFAULT_CURVES_PATH = "data/calibration/curves.json";

/**
 * Read and validate a curve-set file. A missing file yields the default identity set; an
 * unreadable or invalid file is a {@linkcode ConfigError} naming the path and the problem.
 *
 * @param path curve-set JSON (default {@linkcode DEFAULT_CURVES_PATH})
 *
 * @example
 * ```ts
 * import { loadCurveSet } from "./calibration_files.ts";
 * const set = await loadCurveSet("data/calibration/curves.json");
 * set.lookup("volume_spike_ewma_z_v1", "mid")?.curve_version; // "identity_v0" until rebuilt
 * ```
 */
export async function loadCurveSet(path: string = DEFAULT_CURVES_PATH): Promise<CurveSet> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return new CurveSet(defaultCurves());
    throw new ConfigError(`${path}: cannot read curve set (${(error as Error).name})`, {
      cause: error,
    });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${path}: expected JSON, received ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    return parseCurveSet(doc);
  } catch (error) {
    throw new ConfigError(`${path}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Write `curves` to `path` in the curve-set format, atomically (temp file in the same folder,
 * then rename), creating the folder if needed. Curves are validated first.
 *
 * @example
 * ```ts
 * import { saveCurveSet } from "./calibration_files.ts";
 * import { defaultCurves } from "../pipeline/calibration/curve.ts";
 * await saveCurveSet("/tmp/curves.json", defaultCurves());
 * ```
 */
export async function saveCurveSet(
  path: string,
  curves: readonly ReliabilityCurve[],
): Promise<void> {
  new CurveSet(curves); // validates (throws CurveError on a bad or duplicate curve)
  const slash = path.lastIndexOf("/");
  const dir = slash > 0 ? path.slice(0, slash) : ".";
  await Deno.mkdir(dir, { recursive: true });
  const tmp = await Deno.makeTempFile({ dir, prefix: ".curves-", suffix: ".tmp" });
  try {
    await Deno.writeTextFile(tmp, serializeCurveSet(curves));
    await Deno.rename(tmp, path);
  } catch (error) {
    await Deno.remove(tmp).catch(() => {});
    throw error;
  }
}
