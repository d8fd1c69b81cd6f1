import type { Attributes, Counter, Histogram, Meter, MeterProvider, UpDownCounter } from "@opentelemetry/api";
import { otel, scopeName } from "./otel-api.js";

/** The instruments the library records into, on the meter of the registered provider. */
export interface Instruments {
  /** messaging.client.sent.messages: jobs enqueued. */
  readonly sent: SentCounter;
  /** messaging.client.consumed.messages: jobs handed to a handler. */
  readonly consumed: Counter;
  /** messaging.client.operation.duration: an enqueue (send) or an outcome commit (settle), in s. */
  readonly operationDuration: Histogram;
  /** messaging.process.duration: one handler call, in s. */
  readonly processDuration: Histogram;
  /** poutbox.process.leading: 1 while this process leads the consumer. */
  readonly leader: UpDownCounter;
  /** poutbox.outcome_write.failures: job outcomes whose write failed (each failed try). */
  readonly outcomeWriteFailures: Counter;
  /** poutbox.maintenance.runs: maintenance runs, by outcome. */
  readonly maintenanceRuns: Counter;
  /** poutbox.maintenance.partitions: partitions created or dropped by maintenance. */
  readonly maintenancePartitions: Counter;
}

// Seconds, with boundaries from 5 ms to 10 s as the messaging conventions advise.
const durationBuckets = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

let made: { provider: MeterProvider; instruments: Instruments | undefined } | undefined;
/** The class of the API's no-op meter: what every provider gives while no SDK is registered. */
let noopMeter: (new (...args: never[]) => unknown) | undefined;

/**
 * The instruments on the meter provider registered now, or undefined while none is (nothing
 * to record: callers skip the work of measuring). The API has no proxy for meters (as it has
 * for tracers): instruments made before the application registers its SDK would stay no-ops,
 * so they are made again whenever the registered provider changes.
 */
export function instruments(): Instruments | undefined {
  if (!otel) return undefined;
  const provider = otel.metrics.getMeterProvider();
  if (made?.provider === provider) return made.instruments;
  const meter = provider.getMeter(scopeName);
  noopMeter ??= otel.createNoopMeter().constructor as new (...args: never[]) => unknown;
  if (meter instanceof noopMeter) {
    made = { provider, instruments: undefined };
    return undefined;
  }
  const duration = (name: string, description: string) =>
    meter.createHistogram(name, { description, unit: "s", advice: { explicitBucketBoundaries: durationBuckets } });
  const instruments: Instruments = {
    sent: new SentCounter(meter),
    consumed: meter.createCounter("messaging.client.consumed.messages", {
      description: "Jobs handed to a consumer's handler",
      unit: "{message}",
    }),
    operationDuration: duration(
      "messaging.client.operation.duration",
      "Duration of an enqueue (send) or of a batch's outcome commit (settle)",
    ),
    processDuration: duration("messaging.process.duration", "Duration of one handler call"),
    leader: meter.createUpDownCounter("poutbox.process.leading", {
      description:
        "1 while this process leads the consumer, 0 otherwise (poutbox.consumer.leader, read from the database, says whether any process does)",
      unit: "1",
    }),
    outcomeWriteFailures: meter.createCounter("poutbox.outcome_write.failures", {
      description:
        "Failed writes of a job's outcome (its retry or dead letter), held and tried again: one per failed try",
      unit: "{outcome}",
    }),
    maintenanceRuns: meter.createCounter("poutbox.maintenance.runs", {
      description: "Maintenance runs, by outcome (ran, skipped)",
      unit: "{run}",
    }),
    maintenancePartitions: meter.createCounter("poutbox.maintenance.partitions", {
      description: "Partitions maintenance created or dropped (poutbox.maintenance.action)",
      unit: "{partition}",
    }),
  };
  made = { provider, instruments };
  return instruments;
}

// One under the SDK's default cardinality limit (2,000 attribute sets an instrument, the last
// of them its overflow set): past it, sends fold into one overflow series here, as the SDK
// would fold them. Not at the SDK's limit itself: there, the SDK would fold the last series
// into its overflow set and our overflow observation, last value wins, would replace it.
const maxSentSeries = 1999;
const overflow: Attributes = { "otel.metric.overflow": true };

/**
 * messaging.client.sent.messages, counted here and reported when the SDK collects (an
 * asynchronous counter: the same monotonic sum once exported). An enqueue is the hottest call
 * the library makes, and a synchronous counter would have the SDK hash its attributes at every
 * call, on top of the duration histogram's own hashing: counting here costs a Map lookup.
 */
export class SentCounter {
  readonly #totals = new Map<string, { readonly attributes: Attributes; value: number }>();

  constructor(meter: Meter) {
    meter
      .createObservableCounter("messaging.client.sent.messages", {
        description: "Jobs enqueued into the outbox",
        unit: "{message}",
      })
      .addCallback((result) => {
        for (const { attributes, value } of this.#totals.values()) result.observe(value, attributes);
      });
  }

  /** Adds `count` jobs to the series `key` names: the same key, the same attributes. */
  add(count: number, key: string, attributes: Attributes): void {
    let total = this.#totals.get(key);
    if (!total) {
      const full = this.#totals.size >= maxSentSeries;
      total = this.#totals.get(full ? "" : key) ?? { attributes: full ? overflow : attributes, value: 0 };
      this.#totals.set(full ? "" : key, total);
    }
    total.value += count;
  }
}
