/**
 * Deterministic severity (DOMAIN §11.2): s = magnitude × confidence; high tier: s > 0.6 high,
 * s > 0.3 medium, else low; mid tier: s > 0.7 medium, else low; low tier: low. Strict
 * inequalities. Threshold changes bump the brief schema.
 *
 * @example
 * ```ts
 * import { severityOf } from "./severity.ts";
 * severityOf({ magnitude: 0.9, confidence: 0.9, liquidity_tier: "high" }); // "high"
 * severityOf({ magnitude: 0.9, confidence: 0.9, liquidity_tier: "mid" }); // "medium"
 * ```
 * @module
 */
import type { LiquidityTier, MarketSignal, Severity } from "../models.ts";

/**
 * Severity of a signal.
 *
 * @example
 * ```ts
 * import { severityOf } from "./severity.ts";
 * severityOf({ magnitude: 1, confidence: 0.3, liquidity_tier: "high" }); // "low" (0.3 is not > 0.3)
 * ```
 */
export function severityOf(
  signal: Pick<MarketSignal, "magnitude" | "confidence" | "liquidity_tier">,
): Severity {
  const s = signal.magnitude * signal.confidence;
  const tier: LiquidityTier = signal.liquidity_tier;
  if (tier === "high") return s > 0.6 ? "high" : s > 0.3 ? "medium" : "low";
  if (tier === "mid") return s > 0.7 ? "medium" : "low";
  return "low";
}
