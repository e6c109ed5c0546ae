/**
 * Spans over `@opentelemetry/api`, exported by Deno's built-in OpenTelemetry when enabled.
 *
 * Deno exports spans over OTLP when the process runs with `OTEL_DENO=true` (plus the usual
 * `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_PROTOCOL`, `OTEL_SERVICE_NAME`); without
 * it the API is a no-op and spans cost almost nothing. On top of that this helper does head
 * sampling at `traces.sampling_ratio`, so an enabled exporter still sees only a fraction of
 * transforms. The `traceparent` of a message travels in its headers.
 *
 * @example
 * ```ts
 * import { Tracing } from "./tracing.ts";
 * const tracing = new Tracing({ enabled: true, samplingRatio: 0.1 });
 * await tracing.span("transform", { "augur.worker": "feature" }, async () => {});
 * ```
 * @module
 */
import {
  context,
  propagation,
  type Span,
  SpanStatusCode,
  trace,
  type Tracer,
} from "@opentelemetry/api";

/** Options of {@linkcode Tracing}. */
export interface TracingOptions {
  /** Whether spans are created at all (observability.toml `traces.enabled`). */
  enabled: boolean;
  /** Head-sampling ratio in [0, 1]. */
  samplingRatio: number;
  /** Tracer name (default "augur"). */
  serviceName?: string;
  /** Random source in [0,1) (injectable for tests). */
  random?: () => number;
}

/** Span attributes. */
export type Attributes = Record<string, string | number | boolean>;

/** Creates spans around units of work, with head sampling. */
export class Tracing {
  readonly #tracer: Tracer;
  readonly #options: TracingOptions;

  constructor(options: TracingOptions) {
    this.#options = options;
    this.#tracer = trace.getTracer(options.serviceName ?? "augur");
  }

  /** Whether this unit of work is sampled. */
  sampled(): boolean {
    if (!this.#options.enabled || this.#options.samplingRatio <= 0) return false;
    return (this.#options.random ?? Math.random)() < this.#options.samplingRatio;
  }

  /**
   * Run `fn` inside a span named `name` (when sampled), continuing the trace of
   * `carrier.traceparent` if given. Errors are recorded on the span and rethrown.
   */
  async span<T>(
    name: string,
    attributes: Attributes,
    fn: (span: Span | undefined) => Promise<T>,
    carrier?: Record<string, string>,
  ): Promise<T> {
    if (!this.sampled()) return await fn(undefined);
    const parent = carrier ? propagation.extract(context.active(), carrier) : context.active();
    return await this.#tracer.startActiveSpan(name, { attributes }, parent, async (span) => {
      try {
        return await fn(span);
      } catch (error) {
        span.recordException(error as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
        throw error;
      } finally {
        span.end();
      }
    });
  }

  /** Write the active trace context (`traceparent`) into message headers. */
  inject(headers: Record<string, string>): void {
    propagation.inject(context.active(), headers);
  }
}
