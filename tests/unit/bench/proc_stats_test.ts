/**
 * /proc parsing of the distributed benchmark (bench/proc_stats.ts): stat fields counted from
 * the last ")" (names may hold spaces and parentheses), status memory lines, and a live
 * reading of this test's own process tree.
 */
import { assert, assertEquals, assertThrows } from "../../helpers/assert.ts";
import {
  parseProcStat,
  parseProcStatus,
  processTree,
  sampleTree,
} from "../../../bench/proc_stats.ts";

Deno.test("proc stat: pid, name, ppid, utime, stime; odd names; garbage rejected", () => {
  const tail = "S 7 42 42 0 -1 4194560 10 0 0 0 250 30 1 2 20 0 9 0 100 0 0";
  assertEquals(parseProcStat(`42 (deno) ${tail}`), {
    pid: 42,
    comm: "deno",
    ppid: 7,
    utime: 250,
    stime: 30,
  });
  assertEquals(parseProcStat(`43 (a b) (c)) ${tail}`).comm, "a b) (c)");
  assertEquals(parseProcStat(`43 (a b) (c)) ${tail}`).utime, 250);
  assertThrows(() => parseProcStat("not a stat line"), SyntaxError);
  assertThrows(() => parseProcStat("1 (x) S"), SyntaxError);
});

Deno.test("proc status: VmRSS and VmHWM in bytes, 0 when absent", () => {
  assertEquals(
    parseProcStatus("Name:\tdeno\nVmPeak:\t 9999 kB\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n"),
    { rssBytes: 1024 * 1024, peakRssBytes: 2048 * 1024 },
  );
  assertEquals(parseProcStatus("Name:\tzombie\nState:\tZ\n"), { rssBytes: 0, peakRssBytes: 0 });
});

Deno.test({
  name: "proc tree: this process and a child; CPU and memory read live",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const child = new Deno.Command("sleep", { args: ["30"] }).spawn();
    try {
      const tree = processTree(Deno.pid);
      assertEquals(tree[0], Deno.pid);
      assert(tree.includes(child.pid), `child ${child.pid} in ${tree}`);
      const before = sampleTree(Deno.pid);
      // Burn CPU until the reading moves (10 ms ticks; a loaded machine may slow it down).
      let after = sampleTree(Deno.pid);
      let x = 0;
      const deadline = performance.now() + 10_000;
      while (after.cpuSeconds === before.cpuSeconds && performance.now() < deadline) {
        const until = performance.now() + 20;
        while (performance.now() < until) x += Math.sqrt(x + 1);
        after = sampleTree(Deno.pid);
      }
      assert(before.alive && after.alive);
      assert(
        after.cpuSeconds > before.cpuSeconds,
        `CPU ${before.cpuSeconds} → ${after.cpuSeconds}`,
      );
      assert(after.rssBytes > 0 && after.peakRssBytes >= after.rssBytes);
      assertEquals(sampleTree(2 ** 22 + 12_345).alive, false, "no such process");
    } finally {
      child.kill();
      await child.status;
    }
  },
});
