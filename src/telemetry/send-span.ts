import type { Attributes } from "@opentelemetry/api";
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
  const key = `${target.schema}\u0000${target.topic ?? ""}`;
  const common = sendAttributes(key, target);
  // A failure adds error.type to the attributes its duration is recorded with: a copy then.
  let attributes: Attributes = common;
  const span = poutboxTracer(api).startSpan(`send ${target.topic ?? systemName}`, {
    kind: api.SpanKind.PRODUCER,
    attributes: target.count === 1 ? common : { ...common, [messaging.batchCount]: target.count },
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
    attributes = { ...common };
    recordFailure(api, span, error, attributes);
    throw error;
  } finally {
    span.end();
    const measure = instruments();
    if (measure) {
      if (attributes === common) measure.sent.add(target.count, key, common);
      measure.operationDuration.record((performance.now() - started) / 1000, attributes);
    }
  }
}

// The attributes of a send, by schema and topic: made once, as an application enqueues into a
// few topics over and over. Bounded, for one that names a topic per entity. SentCounter keys
// its totals the same way but keeps them apart: spans need these sets with no meter provider,
// and its totals go with the provider they were counted for (a new one starts from zero).
const sendAttributeSets = new Map<string, Readonly<Record<string, string>>>();
const maxSendAttributeSets = 1000;

function sendAttributes(key: string, target: SendTarget): Readonly<Record<string, string>> {
  const known = sendAttributeSets.get(key);
  if (known) return known;
  const made = {
    [messaging.system]: systemName,
    [messaging.operationName]: "send",
    [messaging.operationType]: "send",
    [poutboxAttributes.schema]: target.schema,
    ...(target.topic === null ? {} : { [messaging.destinationName]: target.topic }),
  };
  if (sendAttributeSets.size < maxSendAttributeSets) sendAttributeSets.set(key, made);
  return made;
}
