import type { Context, SpanContext } from "@opentelemetry/api";
import type { Job } from "../core/job.js";
import type { OtelApi } from "./otel-api.js";

/**
 * The context the producer recorded in a job's headers (`traceparent`...), read by the
 * registered propagator; undefined when the job carries none.
 */
export function producerContext(api: OtelApi, job: Job<unknown>): { context: Context; span: SpanContext } | undefined {
  const context = api.propagation.extract(api.ROOT_CONTEXT, job.headers);
  const span = api.trace.getSpanContext(context);
  return span && api.isSpanContextValid(span) ? { context, span } : undefined;
}
