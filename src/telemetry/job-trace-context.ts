import type { Context, SpanContext } from "@opentelemetry/api";
import type { Job } from "../core/job.js";
import type { OtelApi } from "./otel-api.js";

/** Reads producers' contexts from job headers; one per handler call. */
export type ProducerReader = (job: Job<unknown>) => { context: Context; span: SpanContext } | undefined;

/**
 * A reader of the context the producer recorded in a job's headers (`traceparent`...), by
 * the registered propagator; undefined for a job that carries none. The propagator's header
 * names are looked up once, and a job with none of them is passed over without extracting:
 * in a batch of a thousand jobs enqueued outside any trace, that is most of the work saved.
 */
export function producerReader(api: OtelApi): ProducerReader {
  const fields = api.propagation.fields();
  // The W3C propagator's context is all in `traceparent`: one lookup says whether a job has any.
  const key = fields.includes("traceparent") ? ["traceparent"] : fields;
  return (job) => {
    const headers = job.headers;
    if (!key.some((field) => headers[field] !== undefined)) return undefined;
    const context = api.propagation.extract(api.ROOT_CONTEXT, headers);
    const span = api.trace.getSpanContext(context);
    return span && api.isSpanContextValid(span) ? { context, span } : undefined;
  };
}
