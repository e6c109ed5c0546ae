/**
 * WebSocket test clients: {@linkcode WsClient} wraps Deno's real `WebSocket` and records
 * frames; {@linkcode RawWsClient} speaks the protocol over a bare TCP socket so a test can
 * stop reading (a slow consumer), skip pong replies, or send malformed/oversized frames.
 *
 * @example
 * ```ts
 * import { WsClient } from "./ws_clients.ts";
 * const client = await WsClient.open("ws://127.0.0.1:8765/ws?consumer=dashboard");
 * await client.waitForFrames((f) => f.frame_type === "heartbeat", 1);
 * client.close();
 * ```
 * @module
 */
import { waitFor } from "./wait.ts";

/** A parsed frame. */
export interface Frame {
  frame_type: string;
  frame_id: string;
  ts: string;
  payload?: Record<string, unknown>;
}

/** A real WebSocket client that records every frame. */
export class WsClient {
  readonly frames: Frame[] = [];
  readonly raw: string[] = [];
  closeEvent: CloseEvent | undefined;
  readonly closed: Promise<CloseEvent>;

  private constructor(readonly socket: WebSocket) {
    socket.onmessage = (e) => {
      this.raw.push(e.data as string);
      this.frames.push(JSON.parse(e.data as string));
    };
    this.closed = new Promise((resolve) => {
      socket.addEventListener("close", (e) => {
        this.closeEvent = e;
        resolve(e);
      });
    });
  }

  /** Connect; rejects when the server refuses the handshake. */
  static open(url: string, headers?: Record<string, string>): Promise<WsClient> {
    const socket = new WebSocket(url, headers ? { headers } : undefined);
    const client = new WsClient(socket);
    return new Promise((resolve, reject) => {
      socket.addEventListener("open", () => resolve(client), { once: true });
      socket.addEventListener("error", () => reject(new Error("websocket refused")), {
        once: true,
      });
    });
  }

  /** Frames of one type. */
  ofType(type: string): Frame[] {
    return this.frames.filter((f) => f.frame_type === type);
  }

  /** Signal ids of the received signal frames. */
  signalIds(): string[] {
    return this.ofType("signal").map((f) =>
      (f.payload!.signal as Record<string, unknown>).signal_id as string
    );
  }

  /** Wait until at least `n` frames match. */
  async waitForFrames(
    match: (f: Frame) => boolean,
    n: number,
    timeoutMs = 10_000,
  ): Promise<Frame[]> {
    await waitFor(() => this.frames.filter(match).length >= n, {
      timeoutMs,
      message: `expected ${n} frames, received ${this.frames.filter(match).length}`,
    });
    return this.frames.filter(match);
  }

  send(text: string): void {
    this.socket.send(text);
  }

  close(): void {
    if (this.socket.readyState <= WebSocket.OPEN) this.socket.close(1000);
  }
}

const encoder = new TextEncoder();

/** A WebSocket client on a bare TCP connection (handshake by hand, masked frames). */
export class RawWsClient {
  #buffer = new Uint8Array(0);

  private constructor(readonly conn: Deno.TcpConn, readonly status: number) {}

  /** Connect and upgrade; `status` is the HTTP status the server answered. */
  static async open(port: number, path: string): Promise<RawWsClient> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
    await conn.write(encoder.encode(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    ));
    const client = new RawWsClient(conn, 0);
    const head = await client.#readUntil("\r\n\r\n");
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
    return Object.assign(client, { status }) as RawWsClient;
  }

  async #fill(): Promise<boolean> {
    const chunk = new Uint8Array(65536);
    const n = await this.conn.read(chunk);
    if (n === null) return false;
    const next = new Uint8Array(this.#buffer.length + n);
    next.set(this.#buffer);
    next.set(chunk.subarray(0, n), this.#buffer.length);
    this.#buffer = next;
    return true;
  }

  async #readUntil(marker: string): Promise<string> {
    while (true) {
      const text = new TextDecoder().decode(this.#buffer);
      const i = text.indexOf(marker);
      if (i >= 0) {
        const bytes = encoder.encode(text.slice(0, i + marker.length)).length;
        this.#buffer = this.#buffer.slice(bytes);
        return text.slice(0, i);
      }
      if (!await this.#fill()) return text;
    }
  }

  /** Send one masked frame (opcode 1 text, 2 binary, 8 close, 10 pong). */
  async sendFrame(opcode: number, payload: Uint8Array | string): Promise<void> {
    const data = typeof payload === "string" ? encoder.encode(payload) : payload;
    const mask = crypto.getRandomValues(new Uint8Array(4));
    const head: number[] = [0x80 | opcode];
    if (data.length < 126) head.push(0x80 | data.length);
    else if (data.length < 65536) head.push(0x80 | 126, data.length >> 8, data.length & 255);
    else {
      head.push(0x80 | 127, 0, 0, 0, 0);
      head.push((data.length >>> 24) & 255, (data.length >>> 16) & 255);
      head.push((data.length >>> 8) & 255, data.length & 255);
    }
    const frame = new Uint8Array(head.length + 4 + data.length);
    frame.set(head);
    frame.set(mask, head.length);
    for (let i = 0; i < data.length; i++) frame[head.length + 4 + i] = data[i] ^ mask[i & 3];
    let written = 0;
    while (written < frame.length) written += await this.conn.write(frame.subarray(written));
  }

  /**
   * Read frames until a close frame (returns its code), EOF (returns 1006) or the deadline.
   * Pings are NOT answered.
   */
  async readUntilClose(timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      while (this.#buffer.length >= 2) {
        const b = this.#buffer;
        const opcode = b[0] & 15;
        let len = b[1] & 127;
        let off = 2;
        if (len === 126) {
          if (b.length < 4) break;
          len = (b[2] << 8) | b[3];
          off = 4;
        } else if (len === 127) {
          if (b.length < 10) break;
          len = Number(new DataView(b.buffer, b.byteOffset + 2, 8).getBigUint64(0));
          off = 10;
        }
        if (b.length < off + len) break;
        const payload = b.slice(off, off + len);
        this.#buffer = b.slice(off + len);
        if (opcode === 8) return payload.length >= 2 ? (payload[0] << 8) | payload[1] : 1005;
      }
      const timer = setTimeout(() => {
        try {
          this.conn.close();
        } catch {
          // closed
        }
      }, Math.max(1, deadline - Date.now()));
      let more = false;
      try {
        more = await this.#fill();
      } catch {
        more = false;
      } finally {
        clearTimeout(timer);
      }
      if (!more) return 1006;
    }
    return 1006;
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }
}
