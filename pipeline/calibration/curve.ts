/**
 * Reliability curves and confidence calibration (DOMAIN.md §7.1).
 *
 * `confidence = calibrate(detector_id, tier, raw)` with provenance `<detector_id>@<curve_version>`.
 * No curve for (detector, tier) ⇒ identity: clamp(raw, 0, 1), version `identity_v0`. With a
 * curve (points sorted by x): the first consecutive pair with x₀ ≤ raw ≤ x₁ interpolates
 * linearly (y₀ when x₁ = x₀); below the range ⇒ first y; above ⇒ last y; empty ⇒ clamp.
 * Calibration never changes whether a signal fires.
 *
 * ## Curve set file format (JSON; e.g. `data/calibration/curves_<version>.json`)
 *
 * ```json
 * {
 *   "format": "augur.reliability_curves",
 *   "format_version": 1,
 *   "curves": [
 *     { "detector_id": "volume_spike_ewma_z_v1", "liquidity_tier": "mid",
 *       "curve_version": "curve_v1.0", "deciles": [[0.05, 0.02], [0.5, 0.31], [0.93, 0.8]],
 *       "built_at": "2026-03-01T00:00:00Z" }
 *   ]
 * }
 * ```
 *
 * - `deciles`: `[raw, confidence]` points, both in [0, 1]; sorted by raw on load.
 * - `built_at`: ISO-8601 UTC string (or integer epoch µs). Several versions of one
 *   (detector, tier) may coexist; the active one at time t is the newest with built_at ≤ t, so
 *   backtests pin the curve that was active when a signal was detected.
 * - Unknown keys are rejected. {@linkcode parseCurveSet} validates and
 *   {@linkcode serializeCurveSet} writes this format (built_at as ISO).
 *
 * @example
 * ```ts
 * import { calibrate, CurveSet } from "./curve.ts";
 * calibrate({ detector_id: "volume_spike_ewma_z_v1", tier: "mid", raw: 0.4 }, new CurveSet());
 * // { confidence: 0.4, provenance: "volume_spike_ewma_z_v1@identity_v0", curve_version: "identity_v0" }
 * ```
 * @module
 */

import {
  copySignal,
  DETECTOR_ID_BY_SIGNAL_TYPE,
  DETECTOR_IDS,
  type DetectorId,
  IDENTITY_CURVE_VERSION,
  LIQUIDITY_TIERS,
  type LiquidityTier,
  type MarketSignal,
  type ReliabilityCurve,
} from "../models.ts";

export { IDENTITY_CURVE_VERSION };
export type { ReliabilityCurve };
type Tier = LiquidityTier;

/** built_at of the identity curve: 2026-01-01T00:00:00Z in epoch µs. */
export const IDENTITY_BUILT_AT = 1_767_225_600_000_000;

/** Error raised for malformed curves or curve files. */
export class CurveError extends Error {
  /** @param message what was expected and what was received */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CurveError";
  }
}

/**
 * The identity curve for (detector, tier): points (0,0), (0.5,0.5), (1,1), `identity_v0`.
 *
 * @example
 * ```ts
 * import { identityCurve } from "./curve.ts";
 * identityCurve("regime_shift_cusum_v1", "low").curve_version; // "identity_v0"
 * ```
 */
export function identityCurve(detectorId: DetectorId, tier: Tier): ReliabilityCurve {
  return {
    detector_id: detectorId,
    liquidity_tier: tier,
    curve_version: IDENTITY_CURVE_VERSION,
    deciles: [[0, 0], [0.5, 0.5], [1, 1]],
    built_at: IDENTITY_BUILT_AT,
  };
}

const clamp01 = (v: number) => (v < 0 ? 0 : v > 1 ? 1 : v);

/**
 * Piecewise-linear interpolation on points sorted by x (DOMAIN §7.1 rules).
 *
 * @example
 * ```ts
 * import { interpolate } from "./curve.ts";
 * interpolate([[0, 0.1], [1, 0.9]], 0.5); // 0.5
 * ```
 */
export function interpolate(points: readonly (readonly [number, number])[], raw: number): number {
  if (points.length === 0) return clamp01(raw);
  for (let i = 0; i + 1 < points.length; i++) {
    const [x0, y0] = points[i], [x1, y1] = points[i + 1];
    if (x0 <= raw && raw <= x1) {
      return x1 === x0 ? y0 : y0 + ((raw - x0) / (x1 - x0)) * (y1 - y0);
    }
  }
  if (raw < points[0][0]) return points[0][1];
  if (raw > points[points.length - 1][0]) return points[points.length - 1][1];
  return points[0][1]; // single point with raw equal to its x
}

/**
 * Immutable set of reliability curves indexed by (detector, tier), all versions kept.
 *
 * @example
 * ```ts
 * import { CurveSet } from "./curve.ts";
 * const set = new CurveSet([]);
 * set.lookup("volume_spike_ewma_z_v1", "mid"); // undefined ⇒ identity
 * ```
 */
export class CurveSet {
  readonly #byKey = new Map<string, ReliabilityCurve[]>();
  readonly curves: readonly ReliabilityCurve[];

  /** @param curves curves (validated; points sorted by x) */
  constructor(curves: readonly ReliabilityCurve[] = []) {
    const all: ReliabilityCurve[] = [];
    for (const c of curves) {
      const v = validateCurve(c);
      all.push(v);
      const key = `${v.detector_id}\u0000${v.liquidity_tier}`;
      let list = this.#byKey.get(key);
      if (!list) this.#byKey.set(key, list = []);
      if (list.some((o) => o.curve_version === v.curve_version)) {
        throw new CurveError(
          `curve ${v.detector_id}/${v.liquidity_tier}: duplicate curve_version ${v.curve_version}`,
        );
      }
      list.push(v);
    }
    for (const list of this.#byKey.values()) {
      list.sort((a, b) => a.built_at - b.built_at || (a.curve_version < b.curve_version ? -1 : 1));
    }
    this.curves = all;
  }

  /**
   * Curve active for (detector, tier) at `at` (epoch µs): newest with built_at ≤ at; without
   * `at`, the newest. Undefined ⇒ use identity.
   */
  lookup(detectorId: DetectorId, tier: Tier, at?: number): ReliabilityCurve | undefined {
    const list = this.#byKey.get(`${detectorId}\u0000${tier}`);
    if (!list) return undefined;
    if (at === undefined) return list[list.length - 1];
    for (let i = list.length - 1; i >= 0; i--) if (list[i].built_at <= at) return list[i];
    return undefined;
  }
}

/** Input of {@linkcode calibrate}. */
export interface CalibrationQuery {
  detector_id: DetectorId;
  tier: Tier;
  /** Raw score: price velocity P5; cross-market 1 − p; others magnitude. */
  raw: number;
  /** Pin the curve active at this instant (epoch µs); default: newest. */
  at?: number;
}

/** Output of {@linkcode calibrate}. */
export interface Calibration {
  confidence: number;
  /** `<detector_id>@<curve_version>`. */
  provenance: string;
  curve_version: string;
}

/**
 * Calibrated confidence and provenance for a raw score.
 *
 * @param query detector, tier, raw score, optional pin time
 * @param curves the curve set (omitted ⇒ identity)
 *
 * @example
 * ```ts
 * import { calibrate, CurveSet } from "./curve.ts";
 * const set = new CurveSet([{ detector_id: "regime_shift_cusum_v1", liquidity_tier: "low", curve_version: "curve_v1",
 *   deciles: [[0, 0], [1, 0.5]], built_at: 0 }]);
 * calibrate({ detector_id: "regime_shift_cusum_v1", tier: "low", raw: 0.5 }, set).confidence; // 0.25
 * ```
 */
export function calibrate(query: CalibrationQuery, curves?: CurveSet): Calibration {
  const curve = curves?.lookup(query.detector_id, query.tier, query.at);
  if (!curve) {
    return {
      confidence: clamp01(query.raw),
      provenance: `${query.detector_id}@${IDENTITY_CURVE_VERSION}`,
      curve_version: IDENTITY_CURVE_VERSION,
    };
  }
  return {
    confidence: clamp01(interpolate(curve.deciles, query.raw)),
    provenance: `${query.detector_id}@${curve.curve_version}`,
    curve_version: curve.curve_version,
  };
}

/**
 * Raw score of a signal (DOMAIN §7.1): price velocity P5 (`posterior_p_change`), cross-market
 * 1 − `p_value`, others `magnitude`.
 *
 * @example
 * ```ts
 * import { rawScore } from "./curve.ts";
 * // rawScore(signal) — number in [0, 1]
 * ```
 */
export function rawScore(
  signal: Pick<MarketSignal, "signal_type" | "magnitude" | "raw_features">,
): number {
  if (signal.signal_type === "price_velocity") {
    const p5 = signal.raw_features["posterior_p_change"];
    if (typeof p5 === "number") return clamp01(p5);
  } else if (signal.signal_type === "cross_market_divergence") {
    const p = signal.raw_features["p_value"];
    if (typeof p === "number") return clamp01(1 - p);
  }
  return clamp01(signal.magnitude);
}

/**
 * Copy of the signal with calibrated `confidence` and the provenance stamp
 * `raw_features.calibration_provenance = <detector_id>@<curve_version>`; the curve is the one
 * active at `detected_at`. Never changes whether a signal fires.
 *
 * @param signal a candidate (any provenance)
 * @param curves curve set (omitted ⇒ identity)
 *
 * @example
 * ```ts
 * import { calibrateSignal, CurveSet } from "./curve.ts";
 * // const calibrated = calibrateSignal(signal, new CurveSet(curvesFromStore));
 * ```
 */
export function calibrateSignal(signal: MarketSignal, curves?: CurveSet): MarketSignal {
  const detectorId = DETECTOR_ID_BY_SIGNAL_TYPE[signal.signal_type];
  const c = calibrate(
    {
      detector_id: detectorId,
      tier: signal.liquidity_tier,
      raw: rawScore(signal),
      at: signal.detected_at,
    },
    curves,
  );
  return copySignal(signal, {
    confidence: c.confidence,
    raw_features: { ...signal.raw_features, calibration_provenance: c.provenance },
  });
}

/**
 * The shipped default curve set: identity curves for every (detector, tier), so a fresh
 * deployment stamps `identity_v0` until curves are built from labels.
 *
 * @example
 * ```ts
 * import { defaultCurves } from "./curve.ts";
 * defaultCurves().length; // 15
 * ```
 */
export function defaultCurves(): ReliabilityCurve[] {
  return DETECTOR_IDS.flatMap((d) => LIQUIDITY_TIERS.map((t) => identityCurve(d, t)));
}

function validateCurve(c: ReliabilityCurve): ReliabilityCurve {
  const where = `curve ${String(c?.detector_id)}/${String(c?.liquidity_tier)}`;
  if (typeof c !== "object" || c === null) throw new CurveError(`curve: expected an object`);
  if (!(DETECTOR_IDS as readonly string[]).includes(c.detector_id)) {
    throw new CurveError(
      `${where}: detector_id: expected one of ${DETECTOR_IDS.join("|")}, received ${
        JSON.stringify(c.detector_id)
      }`,
    );
  }
  if (!["high", "mid", "low"].includes(c.liquidity_tier)) {
    throw new CurveError(`${where}: liquidity_tier: expected high|mid|low`);
  }
  if (typeof c.curve_version !== "string" || !/^[A-Za-z0-9_.-]+$/.test(c.curve_version)) {
    throw new CurveError(
      `${where}: curve_version: expected [A-Za-z0-9_.-]+, received ${
        JSON.stringify(c.curve_version)
      }`,
    );
  }
  if (!Number.isInteger(c.built_at)) {
    throw new CurveError(`${where}: built_at: expected integer epoch µs, received ${c.built_at}`);
  }
  if (!Array.isArray(c.deciles)) throw new CurveError(`${where}: deciles: expected an array`);
  const pts: [number, number][] = c.deciles.map((p, i) => {
    if (
      !Array.isArray(p) || p.length !== 2 || !(p[0] >= 0 && p[0] <= 1) || !(p[1] >= 0 && p[1] <= 1)
    ) {
      throw new CurveError(
        `${where}: deciles[${i}]: expected [x, y] with both in [0, 1], received ${
          JSON.stringify(p)
        }`,
      );
    }
    return [p[0], p[1]];
  });
  pts.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return { ...c, deciles: pts };
}

const FORMAT = "augur.reliability_curves";

/**
 * Parse and validate a curve-set document (module doc: format).
 *
 * @example
 * ```ts
 * import { parseCurveSet } from "./curve.ts";
 * parseCurveSet({ format: "augur.reliability_curves", format_version: 1, curves: [] });
 * ```
 */
export function parseCurveSet(doc: unknown): CurveSet {
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new CurveError(`curve set: expected a JSON object, received ${typeof doc}`);
  }
  const d = doc as Record<string, unknown>;
  for (const k of Object.keys(d)) {
    if (!["format", "format_version", "curves"].includes(k)) {
      throw new CurveError(`curve set: unknown key ${JSON.stringify(k)}`);
    }
  }
  if (d.format !== FORMAT) {
    throw new CurveError(
      `curve set: format: expected "${FORMAT}", received ${JSON.stringify(d.format)}`,
    );
  }
  if (d.format_version !== 1) {
    throw new CurveError(
      `curve set: format_version: expected 1, received ${JSON.stringify(d.format_version)}`,
    );
  }
  if (!Array.isArray(d.curves)) throw new CurveError(`curve set: curves: expected an array`);
  const keys = ["detector_id", "liquidity_tier", "curve_version", "deciles", "built_at"];
  const curves = d.curves.map((raw, i) => {
    if (typeof raw !== "object" || raw === null) {
      throw new CurveError(`curve set: curves[${i}]: expected an object`);
    }
    const c = raw as Record<string, unknown>;
    for (const k of Object.keys(c)) {
      if (!keys.includes(k)) {
        throw new CurveError(`curve set: curves[${i}]: unknown key ${JSON.stringify(k)}`);
      }
    }
    let builtAt = c.built_at;
    if (typeof builtAt === "string") {
      const ms = Date.parse(builtAt);
      if (!/(Z|[+-]\d\d:\d\d)$/.test(builtAt) || Number.isNaN(ms)) {
        throw new CurveError(
          `curve set: curves[${i}].built_at: expected ISO-8601 UTC, received ${
            JSON.stringify(builtAt)
          }`,
        );
      }
      const frac = /\.(\d{1,6})/.exec(builtAt);
      builtAt = Math.floor(ms / 1000) * 1_000_000 + (frac ? Number(frac[1].padEnd(6, "0")) : 0);
    }
    return { ...c, built_at: builtAt } as unknown as ReliabilityCurve;
  });
  return new CurveSet(curves);
}

function isoMicros(us: number): string {
  const ms = Math.floor(us / 1000);
  const frac = ((us % 1_000_000) + 1_000_000) % 1_000_000;
  const base = new Date(ms).toISOString().slice(0, 19);
  return frac === 0 ? `${base}Z` : `${base}.${String(frac).padStart(6, "0")}Z`;
}

/**
 * Serialize curves into the file format (built_at as ISO `Z`), curves in the given order.
 *
 * @example
 * ```ts
 * import { identityCurve, serializeCurveSet } from "./curve.ts";
 * serializeCurveSet([identityCurve("regime_shift_cusum_v1", "mid")]);
 * ```
 */
export function serializeCurveSet(curves: readonly ReliabilityCurve[]): string {
  const doc = {
    format: FORMAT,
    format_version: 1,
    curves: curves.map((c) => ({
      detector_id: c.detector_id,
      liquidity_tier: c.liquidity_tier,
      curve_version: c.curve_version,
      deciles: c.deciles,
      built_at: isoMicros(c.built_at),
    })),
  };
  return JSON.stringify(doc, null, 2) + "\n";
}
