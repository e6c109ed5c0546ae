import { assertEquals, assertRejects } from "../../../helpers/assert.ts";
import { Tracing } from "../../../../adapters/observability/tracing.ts";

Deno.test("tracing: disabled tracing runs the work without a span", async () => {
  const tracing = new Tracing({ enabled: false, samplingRatio: 1 });
  let seen: unknown = "unset";
  const result = await tracing.span("t", {}, (span) => {
    seen = span;
    return Promise.resolve(42);
  });
  assertEquals([result, seen], [42, undefined]);
});

Deno.test("tracing: head sampling follows the ratio; errors propagate", async () => {
  const draws = [0.05, 0.5];
  const tracing = new Tracing({ enabled: true, samplingRatio: 0.1, random: () => draws.shift()! });
  assertEquals(tracing.sampled(), true);
  assertEquals(tracing.sampled(), false);
  const always = new Tracing({ enabled: true, samplingRatio: 1 });
  await assertRejects(
    () => always.span("t", { "augur.worker": "feature" }, () => Promise.reject(new Error("x"))),
    Error,
    "x",
  );
});
