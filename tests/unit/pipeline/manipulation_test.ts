import {
  attachManipulationFlags,
  cancelReplaceBurst,
  herfindahl,
  manipulationFlags,
} from "../../../pipeline/manipulation.ts";
import { buildSignal } from "../../../pipeline/detectors/detector.ts";
import { assertAlmostEquals, assertEquals } from "../../helpers/assert.ts";
import { SEC, snapshot, T0 } from "../../helpers/detector_inputs.ts";

const sig = { detected_at: T0, window_seconds: 300 };
const trade = (counterparty: string | null, size: number, price = 0.5, at = T0 - SEC) => ({
  counterparty,
  size,
  price,
  timestamp: at,
});
const snaps = (liqs: number[]) =>
  liqs.map((l, i) => snapshot({ timestamp: T0 - (liqs.length - 1 - i) * 30 * SEC, liquidity: l }));
const none = { trades: [], book_events: [], snapshots: snaps([20_000]), closes_at: null };

Deno.test("manipulation: clean evidence ⇒ no flags", () => {
  assertEquals(manipulationFlags(sig, none), []);
});

Deno.test("manipulation: HHI ignores unknown counterparties [DEVIATION]", () => {
  assertEquals(herfindahl([trade(null, 100), trade(null, 50)]), 0);
  assertAlmostEquals(herfindahl([trade("a", 3), trade("b", 1), trade(null, 100)]), 0.625, 1e-12);
  const flags = manipulationFlags(sig, {
    ...none,
    trades: [trade("a", 10), trade("a", 5), trade("b", 1)],
  });
  assertEquals(flags, ["single_counterparty_concentration"]);
  assertEquals(
    manipulationFlags(sig, { ...none, trades: [trade("a", 1), trade("b", 1), trade("c", 1)] }),
    [],
  );
});

Deno.test("manipulation: size vs depth uses notional price×size [DEVIATION]", () => {
  // 10 000 contracts at 0.5 = 5 000 USD against 20 000 depth = 0.25 ⇒ no flag.
  assertEquals(manipulationFlags(sig, { ...none, trades: [trade(null, 10_000, 0.5)] }), []);
  // 20 000 at 0.5 = 10 000 USD = 0.5 of depth ⇒ flag.
  assertEquals(manipulationFlags(sig, { ...none, trades: [trade(null, 20_000, 0.5)] }), [
    "size_vs_depth_outlier",
  ]);
  assertEquals(
    manipulationFlags(sig, { ...none, snapshots: [], trades: [trade(null, 1e9)] }),
    [],
  );
});

Deno.test("manipulation: cancel/replace burst needs ≥ 20 within 60 s", () => {
  const ev = (n: number, spacing: number) =>
    Array.from(
      { length: n },
      (_, i) => ({
        kind: i % 2 ? "cancel" as const : "replace" as const,
        timestamp: T0 - i * spacing,
      }),
    );
  assertEquals(cancelReplaceBurst(ev(20, 3 * SEC), { window_seconds: 60, min_count: 20 }), true);
  assertEquals(cancelReplaceBurst(ev(20, 4 * SEC), { window_seconds: 60, min_count: 20 }), false);
  const inserts = Array.from({ length: 30 }, () => ({ kind: "insert" as const, timestamp: T0 }));
  assertEquals(manipulationFlags(sig, { ...none, book_events: inserts }), []);
  assertEquals(manipulationFlags(sig, { ...none, book_events: ev(25, SEC) }), [
    "cancel_replace_burst",
  ]);
});

Deno.test("manipulation: thin book = median liquidity of the window's snapshots < 5 000", () => {
  assertEquals(manipulationFlags(sig, { ...none, snapshots: snaps([1_000, 2_000, 30_000]) }), [
    "thin_book_during_move",
  ]);
  assertEquals(manipulationFlags(sig, { ...none, snapshots: snaps([1_000, 20_000, 30_000]) }), []);
  // Snapshots older than the window are ignored (the thin one is 10 min old).
  const old = [
    snapshot({ timestamp: T0 - 600 * SEC, liquidity: 10 }),
    snapshot({ timestamp: T0, liquidity: 9_000 }),
  ];
  assertEquals(manipulationFlags(sig, { ...none, snapshots: old }), []);
  assertEquals(manipulationFlags(sig, { ...none, snapshots: [] }), []);
});

Deno.test("manipulation: pre-resolution window and canonical flag order", () => {
  assertEquals(manipulationFlags(sig, { ...none, closes_at: T0 + 21_599 * SEC }), [
    "pre_resolution_window",
  ]);
  assertEquals(manipulationFlags(sig, { ...none, closes_at: T0 + 21_600 * SEC }), []);
  assertEquals(manipulationFlags(sig, { ...none, closes_at: T0 - SEC }), []);
  const all = manipulationFlags(sig, {
    trades: [trade("a", 50_000, 0.5)],
    book_events: Array.from(
      { length: 20 },
      (_, i) => ({ kind: "cancel" as const, timestamp: T0 - i * SEC }),
    ),
    snapshots: snaps([1_000]),
    closes_at: T0 + 60 * SEC,
  });
  assertEquals(all, [
    "single_counterparty_concentration",
    "size_vs_depth_outlier",
    "cancel_replace_burst",
    "thin_book_during_move",
    "pre_resolution_window",
  ]);
});

Deno.test("manipulation: attach never suppresses and keeps the signal otherwise equal", () => {
  const s = buildSignal({
    detector_id: "book_imbalance_depth_persist_v1",
    signal_type: "book_imbalance",
    market_id: "m1",
    snapshot: { platform: "kalshi", volume_24h: 1_000 },
    now: T0,
    magnitude: 0.5,
    direction: 1,
    window_seconds: 180,
    raw_features: {},
  });
  const flagged = attachManipulationFlags(s, { ...none, snapshots: snaps([100]) });
  assertEquals(flagged, { ...s, manipulation_flags: ["thin_book_during_move"] });
});
