/**
 * Messages that carry their decoded form next to their bytes, and the matching decode.
 *
 * Every stage publishes canonical JSON bytes (the wire form, byte-identical on every bus).
 * In one process (the engine's memory bus) the next stage would parse and zod-validate those
 * bytes again — the largest per-hop cost. {@linkcode codecMessage} attaches the value it
 * encodes (lazily: the bytes are made when first read); {@linkcode decodeDelivery} returns that value when the delivery carries one of the
 * same kind, and decodes the bytes otherwise (NATS, Redis, or a foreign publisher). Since
 * `decode(encode(x), kind)` deep-equals `x`, both paths give the same value; values handed on
 * this way are shared between stages and must not be mutated.
 *
 * @example
 * ```ts
 * import { codecMessage, decodeDelivery } from "./message_codec.ts";
 * import { KINDS } from "../pipeline/canonical_json.ts";
 * const edge = { market_a: "a", market_b: "b", relationship_type: "inverse" as const,
 *   strength: 0.5, source: "manual" as const };
 * const message = codecMessage(KINDS.taxonomyEdge, { subject: "augur.x", value: edge });
 * decodeDelivery(message, KINDS.taxonomyEdge) === edge; // true (no parsing)
 * decodeDelivery({ payload: message.payload }, KINDS.taxonomyEdge); // parsed, deep-equal
 * ```
 * @module
 */
import type { Delivery, Headers, OutgoingMessage } from "../adapters/bus/types.ts";
import { decode, encode, type Kind } from "../pipeline/canonical_json.ts";

/** What {@linkcode codecMessage} sends. */
export interface CodecMessageInit<T> {
  readonly subject: string;
  readonly value: T;
  readonly headers?: Headers;
}

/** A message whose payload is `value` encoded as `kind`, carrying `value` itself too. */
export function codecMessage<T>(
  kind: Kind<T>,
  init: CodecMessageInit<NoInfer<T>>,
): OutgoingMessage {
  const { subject, value, headers } = init;
  let payload: Uint8Array | undefined;
  return {
    subject,
    headers,
    decoded: { codec: kind, value },
    // Encoded on first read: an in-process consumer that takes `decoded` never pays for it.
    get payload(): Uint8Array {
      return payload ??= encode(value, kind);
    },
  };
}

/**
 * Encode every payload now (a networked bus would, later, inside its publish): an
 * unencodable output then fails in its producer's transform — retried, then dead-lettered —
 * instead of in a publish retry loop. On the memory bus nothing leaves the process and the
 * bytes are only made when someone reads them.
 */
export function materializePayloads(
  messages: readonly OutgoingMessage[],
  bus: { readonly kind: string },
): void {
  if (bus.kind === "memory") return;
  for (const message of messages) void message.payload;
}

/**
 * The decoder of a payload that is not one canonical {@linkcode Kind} (a tick announcement
 * carries a list of snapshots): identifies the carried value as the kind does, and decodes
 * bytes from another process.
 *
 * @example
 * ```ts
 * import type { PayloadDecoder } from "./message_codec.ts";
 * const LINES: PayloadDecoder<string[]> = {
 *   name: "lines",
 *   decode: (payload) => new TextDecoder().decode(payload).split("\n"),
 * };
 * ```
 */
export interface PayloadDecoder<T> {
  readonly name: string;
  decode(payload: Uint8Array): T;
}

/**
 * The delivery's value as `kind`: the carried value when it is one, else decoded bytes.
 *
 * @example
 * ```ts
 * import { decodeDelivery } from "./message_codec.ts";
 * import { encode, KINDS } from "../pipeline/canonical_json.ts";
 * const edge = { market_a: "a", market_b: "b", relationship_type: "inverse" as const,
 *   strength: 0.5, source: "manual" as const };
 * decodeDelivery({ payload: encode(edge, KINDS.taxonomyEdge) }, KINDS.taxonomyEdge); // edge
 * ```
 */
export function decodeDelivery<T>(
  delivery: Pick<Delivery, "payload" | "decoded">,
  kind: Kind<T> | PayloadDecoder<T>,
): T {
  const decoded = delivery.decoded;
  if (decoded !== undefined && decoded.codec === kind) return decoded.value as T;
  return "decode" in kind ? kind.decode(delivery.payload) : decode(delivery.payload, kind);
}
