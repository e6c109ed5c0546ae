import {
  assert,
  assertEquals,
  assertStringIncludes,
  assertThrows,
} from "../../../helpers/assert.ts";
import { MetricsRegistry } from "../../../../adapters/observability/metrics.ts";

Deno.test("metrics: get-or-create returns the same collector; conflicting types are rejected", () => {
  const registry = new MetricsRegistry();
  const a = registry.counter("augur_x_total", "x", ["topic"]);
  const b = registry.counter("augur_x_total", "x", ["topic"]);
  assert(a === b);
  a.inc({ topic: "t" });
  b.inc({ topic: "t" }, 2);
  assertEquals(a.get({ topic: "t" }), 3);
  assertThrows(
    () => registry.gauge("augur_x_total", "x", ["topic"]),
    TypeError,
    "already registered",
  );
  assertThrows(
    () => registry.counter("augur_x_total", "x", ["other"]),
    TypeError,
    "already registered",
  );
});

Deno.test("metrics: label sets are validated against the declared names", () => {
  const registry = new MetricsRegistry();
  const c = registry.counter("augur_y_total", "y", ["a", "b"]);
  assertThrows(() => c.inc({ a: "1" }), TypeError, "expected labels [a, b], received [a]");
  assertThrows(() => registry.counter("bad-name", "x"), TypeError, "invalid metric name");
  assertThrows(() => registry.gauge("augur_g", "x", ["__reserved"]), TypeError, "invalid label");
  assertThrows(() => registry.histogram("augur_h", "x", ["le"]), TypeError, '"le" is reserved');
  assertThrows(() => c.inc({ a: "1", b: "2" }, -1), RangeError);
});

Deno.test("metrics: histogram exposes cumulative buckets, +Inf, sum and count", () => {
  const registry = new MetricsRegistry();
  const h = registry.histogram("augur_t_seconds", "t", ["kind"], { buckets: [0.1, 1] });
  h.observe({ kind: "k" }, 0.05);
  h.observe({ kind: "k" }, 0.5);
  h.observe({ kind: "k" }, 5);
  const text = registry.expose();
  assertStringIncludes(text, "# TYPE augur_t_seconds histogram");
  assertStringIncludes(text, 'augur_t_seconds_bucket{kind="k",le="0.1"} 1\n');
  assertStringIncludes(text, 'augur_t_seconds_bucket{kind="k",le="1"} 2\n');
  assertStringIncludes(text, 'augur_t_seconds_bucket{kind="k",le="+Inf"} 3\n');
  assertStringIncludes(text, 'augur_t_seconds_sum{kind="k"} 5.55\n');
  assertStringIncludes(text, 'augur_t_seconds_count{kind="k"} 3\n');
  assertEquals(h.count({ kind: "k" }), 3);
});

Deno.test("metrics: label values escape backslash, quote and newline", () => {
  const registry = new MetricsRegistry();
  registry.gauge("augur_g", "help with \\ and\nnewline", ["v"]).set({ v: 'a"b\\c\nd' }, 1);
  const text = registry.expose();
  assertStringIncludes(text, "# HELP augur_g help with \\\\ and\\nnewline\n");
  assertStringIncludes(text, 'augur_g{v="a\\"b\\\\c\\nd"} 1\n');
});
