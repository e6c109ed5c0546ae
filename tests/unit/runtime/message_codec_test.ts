import { assert, assertEquals, assertThrows } from "../../helpers/assert.ts";
import {
  codecMessage,
  decodeDelivery,
  materializePayloads,
} from "../../../runtime/message_codec.ts";
import { decode, encode, KINDS } from "../../../pipeline/canonical_json.ts";
import { MemoryBus } from "../../../adapters/bus/memory_bus.ts";
import {
  decodeTickMessage,
  TICK_MESSAGES,
  tickMessages,
} from "../../../runtime/stages/poller_stage.ts";
import { Subjects } from "../../../runtime/subjects.ts";

const edge = {
  market_a: "a",
  market_b: "b",
  relationship_type: "inverse" as const,
  strength: 0.5,
  source: "manual" as const,
};

Deno.test("codecMessage: the carried value is handed back as is, the bytes decode to an equal value", () => {
  const message = codecMessage(KINDS.taxonomyEdge, { subject: "augur.x", value: edge });
  assert(decodeDelivery(message, KINDS.taxonomyEdge) === edge, "carried value, not a copy");
  assertEquals(decodeDelivery({ payload: message.payload }, KINDS.taxonomyEdge), edge);
  assertEquals(decode(message.payload, KINDS.taxonomyEdge), edge);
});

Deno.test("decodeDelivery: a value of another kind is not trusted; the bytes are decoded", () => {
  const message = codecMessage(KINDS.taxonomyEdge, { subject: "augur.x", value: edge });
  assertThrows(() => decodeDelivery(message, KINDS.signal));
});

Deno.test("codecMessage: bytes are made on first read only, and once", () => {
  let reads = 0;
  const value = {
    ...edge,
    get strength() {
      reads++;
      return 0.5;
    },
  };
  const message = codecMessage(KINDS.taxonomyEdge, { subject: "augur.x", value });
  assertEquals(reads, 0);
  const first = message.payload;
  assert(message.payload === first, "cached");
  assertEquals(reads, 1);
});

Deno.test("materializePayloads: encodes now for a networked bus, never for the memory bus", () => {
  const bad = { ...edge, strength: Number.NaN };
  const message = codecMessage(KINDS.taxonomyEdge, { subject: "augur.x", value: bad });
  materializePayloads([message], { kind: "memory" }); // nothing leaves the process
  assertThrows(() => materializePayloads([message], { kind: "nats" }));
});

Deno.test("memory bus: deliveries carry the decoded value and read bytes lazily", async () => {
  const bus = new MemoryBus({ prefix: "augur" });
  await bus.connect();
  const reader = bus.read("augur.x.>", { from: { kind: "first" } });
  await bus.publish(codecMessage(KINDS.taxonomyEdge, { subject: "augur.x.1", value: edge }));
  for await (const delivery of reader) {
    assert(decodeDelivery(delivery, KINDS.taxonomyEdge) === edge);
    assertEquals(decode(delivery.payload, KINDS.taxonomyEdge), edge);
    break;
  }
  await reader.stop();
  await bus.close();
});

Deno.test("decodeDelivery with a PayloadDecoder: tick announcements carried in process, decoded from bytes otherwise", () => {
  const subjects = new Subjects({ prefix: "augur", partitions: 2 });
  const tick = { platform: "kalshi" as const, T: 1_700_000_000_000_000, messages: [] };
  const { markers } = tickMessages(subjects, tick, new Set());
  const announcement = markers.find((m) => m.subject === subjects.ticks("kalshi"))!;
  const carried = decodeDelivery(announcement, TICK_MESSAGES);
  assert(carried === announcement.decoded?.value, "carried value, not a copy");
  assertEquals(decodeDelivery({ payload: announcement.payload }, TICK_MESSAGES), carried);
  assertEquals(carried, { platform: "kalshi", t: tick.T, announced: 0, snapshots: [] });
  // A carried value of another codec is not trusted: the bytes are decoded (and rejected).
  assertThrows(() =>
    decodeDelivery({ payload: encode(edge, KINDS.taxonomyEdge), decoded: announcement.decoded }, {
      name: "other",
      decode: (payload) => decodeTickMessage(payload),
    })
  );
});
