import type { Attributes } from "@opentelemetry/api";
import type { Job } from "../core/job.js";
import { messaging, poutboxAttributes, systemName } from "./attributes.js";
import { producerReader } from "./job-trace-context.js";
import { otel, poutboxTracer } from "./otel-api.js";
import { processAttributesOf } from "./process-span.js";
import { recordFailure } from "./span-failure.js";

/**
 * `work` for each job of a handler call, each run in a span of its own when the call's
 * `process` span is being recorded and holds several jobs: the job's span is the child of
 * its producer's (so each job's trace runs from the request that enqueued it through its
 * handling) and links to the call's span. With one job, the call's span already is that
 * child, and `work` runs as it is.
 */
export function traceEachJob<J extends Job, R>(
  jobs: readonly J[],
  work: (job: J) => Promise<R>,
): (job: J) => Promise<R> {
  const api = otel;
  if (!api || jobs.length < 2) return work;
  const active = api.context.active();
  const call = api.trace.getSpan(active);
  const attributes = processAttributesOf(active);
  if (!call?.isRecording() || attributes === undefined) return work;
  const tracer = poutboxTracer(api);
  const read = producerReader(api);
  return async (job) => {
    const producer = read(job);
    const jobAttributes: Attributes = {
      ...attributes,
      [messaging.messageId]: String(job.id),
      [poutboxAttributes.attempt]: job.attempt,
      ...(job.topic === null ? {} : { [messaging.destinationName]: job.topic }),
      ...(job.key === null ? {} : { [poutboxAttributes.key]: job.key }),
    };
    delete jobAttributes[messaging.batchCount];
    const span = tracer.startSpan(
      `process ${job.topic ?? systemName}`,
      { kind: api.SpanKind.CONSUMER, attributes: jobAttributes, links: [{ context: call.spanContext() }] },
      producer?.context ?? active,
    );
    try {
      return await api.context.with(api.trace.setSpan(producer?.context ?? active, span), () => work(job));
    } catch (error) {
      recordFailure(api, span, error);
      throw error;
    } finally {
      span.end();
    }
  };
}
