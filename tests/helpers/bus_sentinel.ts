/**
 * Read a whole bus stream in e2e tests: publish a sentinel message now, then read from the
 * first message until the sentinel comes back — everything published before it, in order.
 * A sentinel not read by the deadline fails the test instead of truncating the stream.
 *
 * @example
 * ```ts
 * import { readToSentinel } from "./bus_sentinel.ts";
 * import type { EventBus } from "../../adapters/bus/types.ts";
 * declare const bus: EventBus;
 * const { deliveries } = await readToSentinel(bus, "augur.ops.dlq", { timeoutMs: 15_000 });
 * ```
 * @module
 */
import type { Delivery, EventBus, PublishAck } from "../../adapters/bus/types.ts";
import { waitForSettled } from "./wait.ts";

/** The header that marks the sentinel (workers never set it). */
const SENTINEL_HEADER = "Augur-Test-Sentinel";

/**
 * Options of {@linkcode readToSentinel}.
 *
 * @example
 * ```ts
 * import type { SentinelReadOptions } from "./bus_sentinel.ts";
 * const options: SentinelReadOptions = { pattern: "augur.features.03.>", timeoutMs: 20_000 };
 * ```
 */
export interface SentinelReadOptions {
  /** What to read (default: the sentinel's subject), e.g. the partition's wildcard pattern. */
  readonly pattern?: string;
  /** Fail when the sentinel was not read within this many milliseconds (default 20 000). */
  readonly timeoutMs?: number;
}

/**
 * What {@linkcode readToSentinel} read.
 *
 * @example
 * ```ts
 * import type { SentinelRead } from "./bus_sentinel.ts";
 * declare const read: SentinelRead;
 * console.log(read.deliveries.length, read.sentinel.position);
 * ```
 */
export interface SentinelRead {
  /** Every message before the sentinel, in stream order (the sentinel excluded). */
  readonly deliveries: Delivery[];
  /** The sentinel's publish acknowledgement. */
  readonly sentinel: PublishAck;
}

/**
 * Publish an empty sentinel on `subject`, then read `options.pattern` (default `subject`)
 * from the first message up to the sentinel.
 *
 * @throws {WaitTimeoutError} when the sentinel is not read within `options.timeoutMs`.
 * @example
 * ```ts
 * import { readToSentinel } from "./bus_sentinel.ts";
 * import type { EventBus } from "../../adapters/bus/types.ts";
 * declare const bus: EventBus;
 * const { deliveries, sentinel } = await readToSentinel(bus, "augur.features.03.zz", {
 *   pattern: "augur.features.03.>",
 * });
 * ```
 */
export async function readToSentinel(
  bus: EventBus,
  subject: string,
  options: SentinelReadOptions = {},
): Promise<SentinelRead> {
  const sentinel = await bus.publish({
    subject,
    payload: new Uint8Array(),
    headers: { [SENTINEL_HEADER]: "1" },
  });
  const pattern = options.pattern ?? subject;
  const timeoutMs = options.timeoutMs ?? 20_000;
  const reader = bus.read(pattern, { from: { kind: "first" } });
  const deliveries: Delivery[] = [];
  const untilSentinel = async () => {
    for await (const d of reader) {
      if (d.headers[SENTINEL_HEADER]) return true;
      deliveries.push(d);
    }
    return false;
  };
  try {
    const found = await waitForSettled(untilSentinel(), {
      timeoutMs,
      message: `the sentinel on ${subject} was not read from ${pattern} within ${timeoutMs} ms`,
    });
    if (!found) throw new Error(`the reader of ${pattern} ended before the sentinel`);
  } finally {
    await reader.stop();
  }
  return { deliveries, sentinel };
}
