/**
 * Content-derived UUIDv7 signal ids (DOMAIN §2.4).
 *
 * Layout: 48-bit big-endian `detected_at` in milliseconds, version nibble 7, 12 bits, variant
 * `10`, 62 bits — the 74 non-time bits come from SHA-256 of the identifying content
 * (market id, detector id, detected_at in µs, window seconds, and for cross-market signals
 * market_b). So a replay or a redelivery reproduces the id, and ids sort by time (ms).
 *
 * @example
 * ```ts
 * import { signalId } from "./signal_id.ts";
 * signalId({
 *   market_id: "kalshi_fed",
 *   detector_id: "volume_spike_ewma_z_v1",
 *   detected_at: 1773576007000000,
 *   window_seconds: 3600,
 * }); // "019cf15e-2d58-7b5a-a4af-295578649880"
 * ```
 * @module
 */
import { createHash } from "node:crypto";

/** What identifies a signal. */
export interface SignalIdInput {
  readonly market_id: string;
  readonly detector_id: string;
  /** Epoch microseconds. */
  readonly detected_at: number;
  readonly window_seconds: number;
  /** The second leg of a cross-market pair (omit otherwise). */
  readonly market_b?: string | null;
}

const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push(i.toString(16).padStart(2, "0"));
const MAX_MS = 2 ** 48;

/**
 * Deterministic UUIDv7 (lowercase, hyphenated) for a signal.
 *
 * @example
 * ```ts
 * import { signalId } from "./signal_id.ts";
 * const a = signalId({ market_id: "a", detector_id: "cross_market_fisher_bh_v1",
 *   detected_at: 0, window_seconds: 14400, market_b: "b" });
 * ```
 */
export function signalId(input: SignalIdInput): string {
  const { market_id, detector_id, detected_at, window_seconds } = input;
  if (!Number.isSafeInteger(detected_at)) {
    throw new RangeError(
      `detected_at: expected integer epoch microseconds, received ${detected_at}`,
    );
  }
  const ms = Math.floor(detected_at / 1000);
  if (ms < 0 || ms >= MAX_MS) {
    throw new RangeError(`detected_at: expected 0 ≤ ms < 2^48, received ${ms} ms`);
  }
  const parts = [market_id, detector_id, String(detected_at), String(window_seconds)];
  if (input.market_b !== undefined && input.market_b !== null) parts.push(input.market_b);
  const h = createHash("sha256").update(JSON.stringify(parts)).digest();
  const b = new Array<number>(16);
  let t = ms;
  for (let i = 5; i >= 0; i--) {
    b[i] = t % 256;
    t = Math.floor(t / 256);
  }
  b[6] = 0x70 | (h[0] & 0x0f);
  b[7] = h[1];
  b[8] = 0x80 | (h[2] & 0x3f);
  for (let i = 9; i < 16; i++) b[i] = h[i - 6];
  let out = "";
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) out += "-";
    out += HEX[b[i]];
  }
  return out;
}

/**
 * The millisecond timestamp encoded in a UUIDv7.
 *
 * @example
 * ```ts
 * import { uuidv7Millis } from "./signal_id.ts";
 * uuidv7Millis("0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b"); // 1720699765716
 * ```
 */
export function uuidv7Millis(id: string): number {
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
