import {
  assert,
  assertEquals,
  assertMatch,
  assertNotEquals,
  assertThrows,
} from "../../helpers/assert.ts";
import { signalId, uuidv7Millis } from "../../../pipeline/signal_id.ts";
import { UuidSchema } from "../../../pipeline/models.ts";

const base = {
  market_id: "kalshi_fed",
  detector_id: "volume_spike_ewma_z_v1",
  detected_at: 1773576007123456,
  window_seconds: 3600,
};

Deno.test("signalId is a v7 UUID whose time bits are detected_at in ms", () => {
  const id = signalId(base);
  assertMatch(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert(UuidSchema.safeParse(id).success);
  assertEquals(uuidv7Millis(id), 1773576007123);
});

Deno.test("signalId is deterministic and content-sensitive", () => {
  assertEquals(signalId(base), signalId({ ...base }));
  assertEquals(signalId(base), signalId({ ...base, market_b: null }));
  const variants = [
    { ...base, market_id: "kalshi_fed2" },
    { ...base, detector_id: "regime_shift_cusum_v1" },
    { ...base, detected_at: base.detected_at + 1 },
    { ...base, window_seconds: 300 },
    { ...base, market_b: "b1" },
    { ...base, market_b: "b2" },
  ];
  const ids = new Set([signalId(base), ...variants.map(signalId)]);
  assertEquals(ids.size, variants.length + 1);
  // no ambiguity from concatenation
  assertNotEquals(
    signalId({ ...base, market_id: "a", detector_id: "bc" }),
    signalId({ ...base, market_id: "ab", detector_id: "c" }),
  );
});

Deno.test("signalId orders by time across milliseconds", () => {
  const ids = [0, 1000, 2000, 1_000_000, 1773576007123456].map((t) =>
    signalId({ ...base, detected_at: t })
  );
  assertEquals([...ids].sort(), ids);
});

Deno.test("signalId rejects non-integer or out-of-range times", () => {
  assertThrows(() => signalId({ ...base, detected_at: 1.5 }), RangeError);
  assertThrows(() => signalId({ ...base, detected_at: -1000 }), RangeError);
});
