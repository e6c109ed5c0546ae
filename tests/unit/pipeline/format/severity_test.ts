import { assertEquals } from "../../../helpers/assert.ts";
import { severityOf } from "../../../../pipeline/format/severity.ts";

Deno.test("severity: DOMAIN §11.2 table with strict inequalities", () => {
  const cases: [number, number, "high" | "mid" | "low", string][] = [
    [1, 0.61, "high", "high"],
    [1, 0.6, "high", "medium"], // 0.6 is not > 0.6
    [1, 0.31, "high", "medium"],
    [1, 0.3, "high", "low"],
    [0.5, 0.5, "high", "low"],
    [1, 0.71, "mid", "medium"],
    [1, 0.7, "mid", "low"],
    [0.9, 0.9, "mid", "medium"],
    [1, 1, "low", "low"],
  ];
  for (const [magnitude, confidence, liquidity_tier, expected] of cases) {
    assertEquals(
      severityOf({ magnitude, confidence, liquidity_tier }),
      expected,
      `${magnitude}×${confidence} ${liquidity_tier}`,
    );
  }
});
