/**
 * CPU time and memory of processes from Linux `/proc`, for benchmarks that run real `augur`
 * processes: `/proc/<pid>/stat` (utime + stime, in clock ticks) and `/proc/<pid>/status`
 * (VmRSS now, VmHWM = peak resident set). A process is measured with its descendants, so
 * whatever a launcher (`deno run`) may fork is counted with it.
 *
 * @example
 * ```ts
 * import { sampleTree } from "./proc_stats.ts";
 * const s = sampleTree(Deno.pid);
 * console.log(s.cpuSeconds, s.rssBytes, s.peakRssBytes);
 * ```
 * @module
 */

/** Clock ticks per second of `/proc/<pid>/stat` times (USER_HZ, 100 on Linux x86 and arm). */
export const CLOCK_TICKS_PER_SECOND = 100;

/** The fields of `/proc/<pid>/stat` a benchmark needs. */
export interface ProcStat {
  readonly pid: number;
  /** Executable name (the parenthesised field; may contain spaces and parentheses). */
  readonly comm: string;
  readonly ppid: number;
  /** User and system CPU time, in clock ticks. */
  readonly utime: number;
  readonly stime: number;
}

/**
 * Parse one `/proc/<pid>/stat` line. The name field is parenthesised and may contain spaces or
 * `)`, so fields are counted from the LAST `)`.
 *
 * @example
 * ```ts
 * import { parseProcStat } from "./proc_stats.ts";
 * parseProcStat("42 (deno) S 7 42 42 0 -1 4194560 1 0 0 0 250 30 0 0 20 0 9 0 1 0 0");
 * // { pid: 42, comm: "deno", ppid: 7, utime: 250, stime: 30 }
 * ```
 */
export function parseProcStat(line: string): ProcStat {
  const open = line.indexOf("(");
  const close = line.lastIndexOf(")");
  if (open < 0 || close < open) {
    throw new SyntaxError(`/proc stat: expected "pid (comm) state …", received ${line}`);
  }
  // After ")": state(3) ppid(4) pgrp session tty tpgid flags minflt cminflt majflt cmajflt
  // utime(14) stime(15) — numbered as in proc(5).
  const rest = line.slice(close + 2).trim().split(/\s+/);
  const field = (n: number) => Number(rest[n - 3]);
  const stat = {
    pid: Number(line.slice(0, open).trim()),
    comm: line.slice(open + 1, close),
    ppid: field(4),
    utime: field(14),
    stime: field(15),
  };
  if (![stat.pid, stat.ppid, stat.utime, stat.stime].every(Number.isFinite)) {
    throw new SyntaxError(`/proc stat: unexpected fields in ${line}`);
  }
  return stat;
}

/**
 * VmRSS and VmHWM (bytes) of one `/proc/<pid>/status` text; 0 when absent (a zombie).
 *
 * @example
 * ```ts
 * import { parseProcStatus } from "./proc_stats.ts";
 * parseProcStatus("Name:\tdeno\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n");
 * // { rssBytes: 1048576, peakRssBytes: 2097152 }
 * ```
 */
export function parseProcStatus(text: string): { rssBytes: number; peakRssBytes: number } {
  const kb = (key: string) => {
    const match = new RegExp(`^${key}:\\s*(\\d+)\\s*kB`, "m").exec(text);
    return match ? Number(match[1]) * 1024 : 0;
  };
  return { rssBytes: kb("VmRSS"), peakRssBytes: kb("VmHWM") };
}

function readStat(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return undefined; // gone
  }
}

/**
 * `pid` and every live descendant of it, found by walking the parent links of `/proc`.
 *
 * @example
 * ```ts
 * import { processTree } from "./proc_stats.ts";
 * console.log(processTree(Deno.pid)); // [Deno.pid, …children]
 * ```
 */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const stat = readStat(Number(entry.name));
    if (!stat) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(stat.pid);
    children.set(stat.ppid, list);
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = queue.shift()!;
    out.push(next);
    queue.push(...(children.get(next) ?? []));
  }
  return out;
}

/** One reading of a process tree. */
export interface TreeSample {
  /** utime + stime of the live processes of the tree, in seconds. */
  readonly cpuSeconds: number;
  /** Sum of their VmRSS now, in bytes. */
  readonly rssBytes: number;
  /** Sum of their VmHWM (peak resident set), in bytes. */
  readonly peakRssBytes: number;
  /** False when the root process is gone. */
  readonly alive: boolean;
}

/**
 * CPU seconds and memory of `pid` with its descendants (see {@linkcode processTree}).
 *
 * @example
 * ```ts
 * import { sampleTree } from "./proc_stats.ts";
 * const before = sampleTree(Deno.pid);
 * // … work …
 * console.log(sampleTree(Deno.pid).cpuSeconds - before.cpuSeconds);
 * ```
 */
export function sampleTree(pid: number): TreeSample {
  let ticks = 0;
  let rss = 0;
  let peak = 0;
  let alive = false;
  for (const member of processTree(pid)) {
    const stat = readStat(member);
    if (!stat) continue;
    if (member === pid) alive = true;
    ticks += stat.utime + stat.stime;
    try {
      const mem = parseProcStatus(Deno.readTextFileSync(`/proc/${member}/status`));
      rss += mem.rssBytes;
      peak += mem.peakRssBytes;
    } catch { /* exited between the two reads */ }
  }
  return {
    cpuSeconds: ticks / CLOCK_TICKS_PER_SECOND,
    rssBytes: rss,
    peakRssBytes: peak,
    alive,
  };
}
