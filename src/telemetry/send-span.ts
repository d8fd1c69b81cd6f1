import { messaging, poutboxAttributes, systemName } from "./attributes.js";
import { otelInUse } from "./in-use.js";
import { instruments } from "./instruments.js";
import { poutboxTracer } from "./otel-api.js";
import { recordFailure } from "./span-failure.js";

/** What an enqueue call writes: into which schema, under which topic, how many jobs. */
export interface SendTarget {
  readonly schema: string;
  readonly topic: string | null;
  readonly count: number;
}

/**
 * Runs an enqueue (`send`) under a producer span and counts it. When a trace is being recorded,
 * `send` gets the job headers to store instead of `given`: `given` with the span's context
 * added by the registered propagator (W3C `traceparent`, `tracestate`, `baggage`), so the
 * consumer's span can follow from it. Headers the caller set win over the injected ones.
 * Without `@opentelemetry/api`, or with no SDK registered, `send` runs as it is and gets
 * undefined: nothing is added to the job.
 */
export async function traceSend<T>(
  target: SendTarget,
  given: Readonly<Record<string, string>> | undefined,
  send: (headers: string | undefined) => Promise<T>,
): Promise<T> {
  const api = otelInUse();
  if (!api) return send(undefined);
  const started = performance.now();
  const attributes: Record<string, string> = {
    [messaging.system]: systemName,
    [messaging.operationName]: "send",
    [messaging.operationType]: "send",
    [poutboxAttributes.schema]: target.schema,
    ...(target.topic === null ? {} : { [messaging.destinationName]: target.topic }),
  };
  const span = poutboxTracer(api).startSpan(`send ${target.topic ?? systemName}`, {
    kind: api.SpanKind.PRODUCER,
    attributes: {
      ...attributes,
      ...(target.count === 1 ? {} : { [messaging.batchCount]: target.count }),
    },
  });
  let headers: string | undefined;
  if (api.isSpanContextValid(span.spanContext())) {
    const carrier: Record<string, string> = {};
    api.propagation.inject(api.trace.setSpan(api.context.active(), span), carrier);
    if (Object.keys(carrier).length > 0) headers = JSON.stringify({ ...carrier, ...given });
  }
  // The statement runs in the caller's context, not the send span's: making the span active
  // would cost an async-context switch per enqueue for the sake of a driver's span nesting in
  // it; the driver's span is in the same trace either way.
  try {
    const result = await send(headers);
    if (typeof result === "bigint" && span.isRecording()) span.setAttribute(messaging.messageId, String(result));
    return result;
  } catch (error) {
    recordFailure(api, span, error, attributes);
    throw error;
  } finally {
    span.end();
    const measure = instruments();
    if (measure) {
      if (attributes[messaging.errorType] === undefined) measure.sent.add(target.count, attributes);
      measure.operationDuration.record((performance.now() - started) / 1000, attributes);
    }
  }
}
