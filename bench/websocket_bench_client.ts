/**
 * Web Worker side of bench/websocket_bench.ts: opens `count` real WebSocket clients, and for
 * every signal frame records the delivery latency (receive time − the send time the
 * publisher wrote into `signal.detected_at`) in a 0.1 ms histogram.
 *
 * Protocol: `{ url, count }` → opens, answers `"ready"` once every client got its connect
 * heartbeat; `"report"` → `{ received, histogram }`; `"close"` → closes the clients.
 *
 * @example
 * ```ts
 * const w = new Worker(new URL("./websocket_bench_client.ts", import.meta.url), { type: "module" });
 * w.postMessage({ url: "ws://127.0.0.1:8765/ws?consumer=dashboard", count: 10 });
 * ```
 * @module
 */

/// <reference lib="deno.worker" />

const BUCKETS = 100_000; // 0.1 ms buckets up to 10 s (last bucket = overflow)
const histogram = new Uint32Array(BUCKETS);
let received = 0;
const sockets: WebSocket[] = [];
const origin = performance.timeOrigin;
const MARK = '"detected_at":"';

function parseIsoMs(text: string): number {
  // 2026-03-15T12:00:07.123456Z → epoch ms with the µs fraction
  const whole = Date.parse(text.slice(0, 19) + "Z");
  const frac = text.length > 21 ? Number("0" + text.slice(19, -1)) : 0;
  return whole + frac * 1000;
}

self.onmessage = async (event: MessageEvent) => {
  const msg = event.data;
  if (msg === "report") {
    self.postMessage({ received, histogram });
    return;
  }
  if (msg === "reset") {
    histogram.fill(0);
    received = 0;
    self.postMessage("reset");
    return;
  }
  if (msg === "close") {
    for (const s of sockets) s.close();
    self.postMessage("closed");
    return;
  }
  const { url, count } = msg as { url: string; count: number };
  const opened: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const socket = new WebSocket(url);
    sockets.push(socket);
    opened.push(
      new Promise((resolve, reject) => {
        socket.onerror = () => reject(new Error("bench client refused"));
        socket.onmessage = (e) => {
          const data = e.data as string;
          if (data.startsWith('{"frame_type":"heartbeat"')) {
            resolve();
            return;
          }
          const now = origin + performance.now();
          const at = data.indexOf(MARK);
          if (at < 0) return;
          const start = at + MARK.length;
          const sentMs = parseIsoMs(data.slice(start, data.indexOf('"', start)));
          const bucket = Math.min(BUCKETS - 1, Math.max(0, Math.floor((now - sentMs) * 10)));
          histogram[bucket]++;
          received++;
        };
      }),
    );
    if (i % 50 === 49) await Promise.all(opened.slice(i - 49, i + 1));
  }
  await Promise.all(opened);
  self.postMessage("ready");
};
