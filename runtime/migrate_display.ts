/**
 * Progress output of `augur migrate`: a redrawn bar on a terminal (rows, rows/s, ETA), plain
 * periodic lines otherwise (logs, CI, pipes).
 *
 * @example
 * ```ts
 * import { MigrateDisplay } from "./migrate_display.ts";
 * const display = new MigrateDisplay({ total: 1000, tty: false, write: console.error });
 * display.add(500);
 * display.finish();
 * ```
 * @module
 */

/** Options of {@linkcode MigrateDisplay}. */
export interface MigrateDisplayOptions {
  /** Rows planned. */
  total: number;
  /** Draw a bar (true on a terminal). */
  tty: boolean;
  /** Where text goes (default: stderr). */
  write?: (text: string) => void;
  /** Plain-line interval in ms (default 5000). */
  intervalMs?: number;
  /** Monotonic clock in ms (default performance.now). */
  clock?: () => number;
}

const encoder = new TextEncoder();

function stderrWrite(text: string): void {
  Deno.stderr.writeSync(encoder.encode(text));
}

/** Format a number with thousands separators. */
function n(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

/** Format seconds as `1h02m03s` / `2m03s` / `3s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  if (h) return `${h}h${String(m).padStart(2, "0")}m${String(r).padStart(2, "0")}s`;
  if (m) return `${m}m${String(r).padStart(2, "0")}s`;
  return `${r}s`;
}

/** Rows done, rate and ETA, drawn as a bar or printed as periodic lines. */
export class MigrateDisplay {
  readonly #total: number;
  readonly #tty: boolean;
  readonly #write: (text: string) => void;
  readonly #interval: number;
  readonly #clock: () => number;
  readonly #started: number;
  #done = 0;
  #last = -Infinity;
  #label = "";

  constructor(options: MigrateDisplayOptions) {
    this.#total = options.total;
    this.#tty = options.tty;
    this.#write = options.write ?? stderrWrite;
    this.#interval = options.intervalMs ?? (options.tty ? 100 : 5000);
    this.#clock = options.clock ?? (() => performance.now());
    this.#started = this.#clock();
  }

  /** Rows done so far. */
  get done(): number {
    return this.#done;
  }

  /** Current partition label (e.g. `snapshots 2026-03-15`). */
  set label(value: string) {
    this.#label = value;
  }

  /** Count rows as done; redraws at most every interval. */
  add(rows: number): void {
    this.#done += rows;
    const now = this.#clock();
    if (now - this.#last >= this.#interval) {
      this.#last = now;
      this.#render(now, false);
    }
  }

  /** A message on its own line (keeps the bar intact on a terminal). */
  note(text: string): void {
    this.#write(this.#tty ? `\r\x1b[2K${text}\n` : `${text}\n`);
    if (this.#tty) this.#render(this.#clock(), false);
  }

  /** Final line. */
  finish(): void {
    this.#render(this.#clock(), true);
  }

  #render(now: number, final: boolean): void {
    const seconds = Math.max(1e-3, (now - this.#started) / 1000);
    const rate = this.#done / seconds;
    const left = Math.max(0, this.#total - this.#done);
    const eta = rate > 0 ? left / rate : Infinity;
    const pct = this.#total > 0 ? Math.min(100, (100 * this.#done) / this.#total) : 100;
    const stats = `${n(this.#done)}/${n(this.#total)} rows  ${n(rate)} rows/s  ETA ${
      final ? "0s" : formatDuration(eta)
    }`;
    if (this.#tty) {
      const width = 30;
      const fill = Math.round((pct / 100) * width);
      const bar = "#".repeat(fill) + ".".repeat(width - fill);
      this.#write(
        `\r\x1b[2K[${bar}] ${pct.toFixed(1)}% ${stats}${this.#label ? `  ${this.#label}` : ""}${
          final ? "\n" : ""
        }`,
      );
    } else {
      this.#write(
        `migrate: ${pct.toFixed(1)}% ${stats}${this.#label ? ` (${this.#label})` : ""}\n`,
      );
    }
  }
}
