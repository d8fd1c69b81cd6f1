import type { Attributes, Link, SpanContext } from "@opentelemetry/api";
import type { Job } from "../core/job.js";
import { messaging, poutboxAttributes, systemName } from "./attributes.js";
import { otelInUse } from "./in-use.js";
import { instruments } from "./instruments.js";
import { poutboxTracer } from "./otel-api.js";
import { callSpanOf, type ProcessTarget } from "./process-span.js";
import { recordFailure } from "./span-failure.js";

/**
 * Runs the commit of a batch's outcomes (`settle`: the progress past the batch, its retries and
 * dead letters, in one transaction) in a client span, linked to the span of the handler call
 * that handled the batch when there was one such call, and records its duration.
 */
export async function traceSettle(
  target: ProcessTarget,
  batch: { readonly jobs: readonly Job<unknown>[]; readonly failed: number },
  commit: () => Promise<void>,
): Promise<void> {
  const api = otelInUse();
  if (!api) return commit();
  const started = performance.now();
  const attributes: Attributes = {
    [messaging.system]: systemName,
    [messaging.operationName]: "commit",
    [messaging.operationType]: "settle",
    [messaging.consumerGroup]: target.name,
    [poutboxAttributes.schema]: target.schema,
  };
  const span = poutboxTracer(api).startSpan(
    `commit ${target.name}`,
    {
      kind: api.SpanKind.CLIENT,
      attributes: { ...attributes, [messaging.batchCount]: batch.jobs.length, "poutbox.batch.failed": batch.failed },
      links: linkTo(callSpanOf(batch.jobs)),
    },
    api.ROOT_CONTEXT,
  );
  try {
    await api.context.with(api.trace.setSpan(api.ROOT_CONTEXT, span), commit);
  } catch (error) {
    recordFailure(api, span, error, attributes);
    throw error;
  } finally {
    span.end();
    instruments()?.operationDuration.record((performance.now() - started) / 1000, attributes);
  }
}

function linkTo(call: SpanContext | undefined): Link[] {
  return call ? [{ context: call }] : [];
}
