/**
 * Structured logs: one JSON object per line on stderr. Registered secret values are
 * scrubbed from every line, so a DSN or API key that slips into a message never leaves.
 *
 * @example
 * ```ts
 * import { createLogger } from "./logger.ts";
 * const log = createLogger({ component: "bus" });
 * log.info("connected", { servers: "nats://127.0.0.1:4222" });
 * ```
 * @module
 */

/** Log levels in increasing severity. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** A structured logger. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A logger that adds `fields` to every line. */
  child(fields: Record<string, unknown>): Logger;
}

/** Options of {@linkcode createLogger}. */
export interface LoggerOptions {
  /** Minimum level written; defaults to the global level (see {@linkcode setLogLevel}). */
  level?: LogLevel;
  /** Component name added as `component`. */
  component?: string;
  /** Where lines go; defaults to stderr. */
  sink?: (line: string) => void;
}

const secrets = new Set<string>();
let globalLevel: LogLevel = (Deno.env.get("AUGUR_LOG_LEVEL")?.toLowerCase() as LogLevel) ??
  "info";
if (!(globalLevel in LEVELS)) globalLevel = "info";

/** Set the level used by loggers created without an explicit level. */
export function setLogLevel(level: LogLevel): void {
  globalLevel = level;
}

/** Register a secret value; it is replaced by `***` wherever {@linkcode redact} runs. */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 4) secrets.add(value);
}

/** Replace every registered secret in `text` with `***`. */
export function redact(text: string): string {
  let out = text;
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join("***");
  }
  return out;
}

const encoder = new TextEncoder();
function stderrSink(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
}

/** Create a JSON-lines logger. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const base: Record<string, unknown> = options.component ? { component: options.component } : {};
  return makeLogger(base, options);
}

function makeLogger(base: Record<string, unknown>, options: LoggerOptions): Logger {
  const sink = options.sink ?? stderrSink;
  const write = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (LEVELS[level] < LEVELS[options.level ?? globalLevel]) return;
    const record = { ts: new Date().toISOString(), level, msg, ...base, ...fields };
    sink(redact(JSON.stringify(record, errorReplacer)));
  };
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
    child: (fields) => makeLogger({ ...base, ...fields }, options),
  };
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (typeof value === "bigint") return value.toString();
  return value;
}
