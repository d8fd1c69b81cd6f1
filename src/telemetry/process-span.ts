import type { Attributes, Context, Link, Span, SpanContext } from "@opentelemetry/api";
import type { Job } from "../core/job.js";
import type { JobId } from "../core/job-id.js";
import { messaging, poutboxAttributes, systemName } from "./attributes.js";
import { otelInUse } from "./in-use.js";
import { instruments } from "./instruments.js";
import { type ProducerReader, producerReader } from "./job-trace-context.js";
import { otel, poutboxTracer } from "./otel-api.js";
import { recordFailure } from "./span-failure.js";

/** The consumer a handler call belongs to. */
export interface ProcessTarget {
  readonly name: string;
  readonly schema: string;
}

// Carries a call's attributes to the spans forEachJob makes for its jobs.
const processKey = otel?.createContextKey("poutbox process attributes") ?? Symbol("unused");

/** The attributes of the `process` span active in `context`, if one is. */
export function processAttributesOf(context: Context): Attributes | undefined {
  return context.getValue(processKey) as Attributes | undefined;
}

// The span of each handler call, by the array of jobs it was given: the commit of that batch
// links to it (when the batch and the call are one, as without ordering by key).
const callSpans = new WeakMap<readonly Job<unknown>[], SpanContext>();

/** The span of the handler call that was given exactly `jobs`, if it was recorded. */
export function callSpanOf(jobs: readonly Job<unknown>[]): SpanContext | undefined {
  return callSpans.get(jobs);
}

/** What came of a handler call, as the consumer records it. */
export type ProcessOutcome =
  | { readonly kind: "done"; readonly failures: ReadonlyMap<JobId, { readonly error: string; readonly dead: boolean }> }
  | { readonly kind: "abandoned" };

/**
 * Runs one handler call (`process`) in a consumer span and records it in the messaging
 * metrics. A call of one job continues the producer's trace (its span is the child of the
 * enqueue's); a call of several starts a trace of its own, linked to each job's producer. The
 * span is active while the handler runs (with the producer's baggage when there is one job),
 * so the handler's own spans nest in it. Each failed
 * job adds a `poutbox.job.failed` event saying whether it goes to dead letter (`willDie`).
 */
export async function traceProcess<Outcome extends ProcessOutcome>(
  target: ProcessTarget,
  jobs: readonly Job<unknown>[],
  willDie: (job: Job<unknown>, dead: boolean) => boolean,
  run: () => Promise<Outcome>,
): Promise<Outcome> {
  const api = otelInUse();
  if (!api || jobs.length === 0) return run();
  const started = performance.now();
  const topic = commonTopic(jobs);
  const attributes: Attributes = {
    [messaging.system]: systemName,
    [messaging.operationName]: "process",
    [messaging.operationType]: "process",
    [messaging.consumerGroup]: target.name,
    [poutboxAttributes.schema]: target.schema,
    ...(topic == null ? {} : { [messaging.destinationName]: topic }),
  };
  const single = jobs.length === 1 ? (jobs[0] as Job<unknown>) : undefined;
  const read = producerReader(api);
  const producer = single && read(single);
  const span = poutboxTracer(api).startSpan(
    `process ${topic ?? systemName}`,
    {
      kind: api.SpanKind.CONSUMER,
      attributes: single
        ? {
            ...attributes,
            [messaging.messageId]: String(single.id),
            [poutboxAttributes.attempt]: single.attempt,
            ...(single.key === null ? {} : { [poutboxAttributes.key]: single.key }),
          }
        : { ...attributes, [messaging.batchCount]: jobs.length },
      links: producer ? [{ context: producer.span }] : [],
    },
    producer?.context ?? api.ROOT_CONTEXT,
  );
  if (span.isRecording()) {
    if (!single) span.addLinks(producerLinks(jobs, read));
    callSpans.set(jobs, span.spanContext());
  }
  const active = api.trace.setSpan(producer?.context ?? api.ROOT_CONTEXT, span).setValue(processKey, attributes);
  try {
    const outcome = await api.context.with(active, run);
    if (span.isRecording()) recordOutcome(span, jobs, outcome, willDie);
    return outcome;
  } catch (error) {
    recordFailure(api, span, error, attributes);
    throw error;
  } finally {
    span.end();
    const measure = instruments();
    if (measure) {
      measure.processDuration.record((performance.now() - started) / 1000, attributes);
      if (topic !== undefined) measure.consumed.add(jobs.length, attributes);
      else
        for (const [each, count] of countByTopic(jobs)) measure.consumed.add(count, topicAttributes(attributes, each));
    }
  }
}

function recordOutcome(
  span: Span,
  jobs: readonly Job<unknown>[],
  outcome: ProcessOutcome,
  willDie: (job: Job<unknown>, dead: boolean) => boolean,
): void {
  const api = otel;
  if (!api) return;
  if (outcome.kind === "abandoned") {
    span.addEvent("poutbox.batch.abandoned");
    span.setAttribute(poutboxAttributes.outcome, "abandoned");
    return;
  }
  if (outcome.failures.size === 0) {
    span.setAttribute(poutboxAttributes.outcome, "success");
    return;
  }
  let dead = 0;
  for (const job of jobs) {
    const failure = outcome.failures.get(job.id);
    if (!failure) continue;
    const dies = willDie(job, failure.dead);
    if (dies) dead++;
    span.addEvent("poutbox.job.failed", {
      [messaging.messageId]: String(job.id),
      [poutboxAttributes.attempt]: job.attempt,
      [poutboxAttributes.deadLetter]: dies,
      "exception.message": firstLine(failure.error),
      "exception.stacktrace": failure.error,
    });
  }
  const failed = outcome.failures.size;
  span.setAttribute(poutboxAttributes.outcome, dead === failed ? "dead_letter" : dead > 0 ? "mixed" : "retry");
  span.setStatus({
    code: api.SpanStatusCode.ERROR,
    message:
      jobs.length === 1
        ? firstLine([...outcome.failures.values()][0]?.error ?? "")
        : `${failed} of ${jobs.length} jobs failed (${dead} to dead letter)`,
  });
}

/** A stored error's first line: an Error's `name: message`, without its stack. */
function firstLine(text: string): string {
  const end = text.indexOf("\n");
  return end < 0 ? text : text.slice(0, end);
}

// A batch's span links to the first 32 producers: each link costs the reading of a job's headers,
// and the SDK keeps 128 at most anyway; the jobs' own spans (forEachJob) link every producer.
const maxLinks = 32;

function producerLinks(jobs: readonly Job<unknown>[], read: ProducerReader): Link[] {
  const links: Link[] = [];
  for (const job of jobs) {
    const producer = read(job);
    if (producer) links.push({ context: producer.span, attributes: { [messaging.messageId]: String(job.id) } });
    if (links.length === maxLinks) break;
  }
  return links;
}

/**
 * The topic every job of the call has; null when none has one; undefined when they differ.
 */
function commonTopic(jobs: readonly Job<unknown>[]): string | null | undefined {
  const first = jobs[0]?.topic ?? null;
  for (const job of jobs) if (job.topic !== first) return undefined;
  return first;
}

function countByTopic(jobs: readonly Job<unknown>[]): Map<string | null, number> {
  const counts = new Map<string | null, number>();
  for (const job of jobs) counts.set(job.topic, (counts.get(job.topic) ?? 0) + 1);
  return counts;
}

function topicAttributes(attributes: Attributes, topic: string | null): Attributes {
  return topic === null ? attributes : { ...attributes, [messaging.destinationName]: topic };
}
