/**
 * Fixed-point number printing for human formats (Markdown, Slack, LLM prompts): correctly
 * rounded from the binary value with exact ties to even (like Python's `f"{x:.3f}"`), and
 * `-0.000` for a negative value that rounds to zero.
 *
 * @example
 * ```ts
 * import { fixed } from "./number_format.ts";
 * fixed(0.125, 2); // "0.12"
 * fixed(85000, 0); // "85000"
 * fixed(-0.0001, 3); // "-0.000"
 * ```
 * @module
 */
import { roundHalfEven } from "../canonical_json.ts";

/**
 * `x` with exactly `decimals` digits after the point.
 *
 * @example
 * ```ts
 * import { fixed } from "./number_format.ts";
 * fixed(0.7194, 3); // "0.719"
 * ```
 */
export function fixed(x: number, decimals: number): string {
  if (!Number.isFinite(x)) return String(x);
  const r = roundHalfEven(x, decimals);
  const text = Math.abs(r) >= 1e21
    ? BigInt(Math.round(r)).toString()
    : Math.abs(r).toFixed(decimals);
  const negative = r < 0 || Object.is(r, -0) || (r === 0 && x < 0);
  return negative ? "-" + text : text;
}
