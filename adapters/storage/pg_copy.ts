/**
 * PostgreSQL binary `COPY … FROM STDIN (FORMAT binary)` encoding of prepared rows: the
 * cheapest way to hand rows to the server (no text escaping on the client, no number
 * parsing or array-literal parsing on the server; doubles travel as their exact 8 bytes).
 *
 * Column types follow {@linkcode TableSpec}: `text` as UTF-8, `bigint` as int8, `double`
 * as float8, `int` as int4, `bool` as one byte, `bytes` as raw bytea, and `text_array` as
 * its JSON text (the staging column is `text`; the merge turns it into `text[]`). A value
 * of the wrong kind is rejected with a `TypeError` naming `table.column` before any byte
 * is sent (bigints must be safe integers: an int8 written from a rounded double would be
 * silently wrong).
 *
 * @example
 * ```ts
 * import { copyBinary } from "./pg_copy.ts";
 * import { TABLES } from "./schema.ts";
 * const chunks = copyBinary(TABLES.ticks, [["kalshi", 1773532800000000, 3]]);
 * chunks.reduce((n, c) => n + c.length, 0); // 53: header 19, tuple 2 + 10 + 12 + 8, trailer 2
 * ```
 * @module
 */

import type { WireValue } from "./codec.ts";
import type { ColumnType, TableSpec } from "./schema.ts";

/** Signature, flags and header-extension length of a binary COPY stream. */
const HEADER = new Uint8Array([
  0x50,
  0x47,
  0x43,
  0x4f,
  0x50,
  0x59,
  0x0a,
  0xff,
  0x0d,
  0x0a,
  0x00, // "PGCOPY\n\377\r\n\0"
  0,
  0,
  0,
  0, // flags
  0,
  0,
  0,
  0, // header extension length
]);

const TWO_32 = 4294967296;
const encoder = new TextEncoder();

/**
 * Encode `rows` (values in `spec.columns` order) as a binary COPY stream, split into
 * chunks of about `chunkBytes` (default 256 KiB) so the socket is fed while encoding is
 * cheap to hold.
 *
 * @example
 * ```ts
 * import { copyBinary } from "./pg_copy.ts";
 * import { TABLES } from "./schema.ts";
 * copyBinary(TABLES.ticks, []).length; // 1 (header and trailer only)
 * ```
 */
export function copyBinary(
  spec: TableSpec,
  rows: readonly (readonly WireValue[])[],
  options: { chunkBytes?: number } = {},
): Uint8Array[] {
  const chunkBytes = options.chunkBytes ?? 1 << 18;
  const types: ColumnType[] = spec.columns.map((col) => col.type);
  const width = types.length;
  const out: Uint8Array[] = [];
  let buf = new Uint8Array(chunkBytes + 1024);
  let view = new DataView(buf.buffer);
  buf.set(HEADER, 0);
  let at = HEADER.length;
  /** Close the current chunk and start one with room for at least `n` bytes. */
  const next = (n: number) => {
    out.push(buf.subarray(0, at));
    buf = new Uint8Array(Math.max(chunkBytes, n) + 1024);
    view = new DataView(buf.buffer);
    at = 0;
  };
  /** Make room for `n` more bytes (a value may straddle no chunk boundary it fits in). */
  const room = (n: number) => {
    if (at + n > buf.length) next(n);
  };
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r];
    if (at >= chunkBytes) next(0);
    room(2);
    view.setInt16(at, width);
    at += 2;
    for (let i = 0; i < width; i++) {
      const v = row[i];
      if (v === null) {
        room(4);
        view.setInt32(at, -1);
        at += 4;
        continue;
      }
      switch (types[i]) {
        case "text":
        case "text_array": {
          if (typeof v !== "string") throw kindError(spec, i, "a string", v);
          room(4 + v.length * 3);
          const { written } = encoder.encodeInto(v, buf.subarray(at + 4));
          view.setInt32(at, written);
          at += 4 + written;
          break;
        }
        case "bigint": {
          if (!Number.isSafeInteger(v)) throw kindError(spec, i, "a safe integer", v);
          room(12);
          const n = v as number;
          const hi = Math.floor(n / TWO_32);
          view.setInt32(at, 8);
          view.setInt32(at + 4, hi);
          view.setUint32(at + 8, n - hi * TWO_32);
          at += 12;
          break;
        }
        case "double": {
          if (typeof v !== "number") throw kindError(spec, i, "a number", v);
          room(12);
          view.setInt32(at, 8);
          view.setFloat64(at + 4, v);
          at += 12;
          break;
        }
        case "int": {
          if (!Number.isInteger(v) || (v as number) < -2147483648 || (v as number) > 2147483647) {
            throw kindError(spec, i, "a 32-bit integer", v);
          }
          room(8);
          view.setInt32(at, 4);
          view.setInt32(at + 4, v as number);
          at += 8;
          break;
        }
        case "bool": {
          if (typeof v !== "boolean") throw kindError(spec, i, "a boolean", v);
          room(5);
          view.setInt32(at, 1);
          buf[at + 4] = v ? 1 : 0;
          at += 5;
          break;
        }
        case "bytes": {
          if (!(v instanceof Uint8Array)) throw kindError(spec, i, "bytes", v);
          room(4 + v.length);
          view.setInt32(at, v.length);
          buf.set(v, at + 4);
          at += 4 + v.length;
          break;
        }
      }
    }
  }
  room(2);
  view.setInt16(at, -1);
  at += 2;
  out.push(buf.subarray(0, at));
  return out;
}

function kindError(spec: TableSpec, i: number, expected: string, v: unknown): TypeError {
  const received = v === undefined
    ? "undefined"
    : typeof v === "number" || typeof v === "string" || typeof v === "boolean"
    ? `${typeof v} ${JSON.stringify(v) ?? String(v)}`
    : typeof v;
  return new TypeError(
    `${spec.name}.${spec.columns[i].name}: expected ${expected}, received ${received}`,
  );
}
