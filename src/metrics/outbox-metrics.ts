import type { ConsumerStatus, OutboxStatus } from "../status/status.js";

// The figures of status() as metrics, in OpenTelemetry's terms: dotted names, the unit apart
// (UCUM: `{job}` counts jobs, `s` seconds, `By` bytes, `1` a flag), attributes naming what a
// sample is of. The OpenTelemetry and Prometheus exports are both built on this one list, so
// both say the same thing under names that translate one into the other.

/** One value of a metric, for one set of attributes (one consumer, one schema...). */
export interface MetricSample {
  readonly attributes: Readonly<Record<string, string>>;
  readonly value: number;
}

/** What a metric is, before any value: enough to register an instrument for it. */
export interface OutboxMetricDescriptor {
  /** Dotted, OpenTelemetry style: `poutbox.consumer.pending_jobs`. */
  readonly name: string;
  readonly description: string;
  /** UCUM: `{job}`, `{key}`, `s`, `By` or `1`. */
  readonly unit: string;
  /** The attribute names its samples carry. */
  readonly attributes: readonly string[];
}

/** A metric with its values as read from one status(). */
export interface OutboxMetric extends OutboxMetricDescriptor {
  /** Empty when nothing is known (no consumer yet, a polling consumer's slot figures...). */
  readonly samples: readonly MetricSample[];
}

/** The attribute names, as OpenTelemetry spells them. */
export const metricAttributes = {
  schema: "poutbox.schema",
  consumer: "poutbox.consumer",
  walStatus: "poutbox.slot.wal_status",
} as const;

/**
 * What pg_replication_slots says of a slot's WAL. Every one is reported for a slot, 1 for the
 * one it is in and 0 for the others: an OpenTelemetry SDK keeps reporting, under cumulative
 * temporality, the last value of an attribute set it no longer hears of, so a status reported
 * only while true would stay 1 after the slot left it.
 */
const walStatuses = ["reserved", "extended", "unreserved", "lost"] as const;

type Definition =
  | (Named & { readonly scope: "schema"; readonly value: (status: OutboxStatus) => number })
  // Null when the figure is not known: no sample then, rather than a 0 that would mean something.
  | (Named & { readonly scope: "consumer"; readonly value: (consumer: ConsumerStatus) => number | bigint | null })
  | (Named & { readonly scope: "walStatus" });

type Scope = Definition["scope"];

interface Named {
  readonly name: string;
  readonly description: string;
  readonly unit: string;
}

const perSchema = (name: string, description: string, value: (status: OutboxStatus) => number): Definition => ({
  name,
  description,
  unit: "{job}",
  scope: "schema",
  value,
});

const perConsumer = (
  name: string,
  unit: string,
  description: string,
  value: (consumer: ConsumerStatus) => number | bigint | null,
): Definition => ({ name, description, unit, scope: "consumer", value });

const definitions: readonly Definition[] = [
  perConsumer(
    "poutbox.consumer.pending_jobs",
    "{job}",
    "Committed jobs the consumer has not handled yet (its backlog)",
    (c) => c.pendingJobs,
  ),
  perConsumer("poutbox.consumer.lag", "s", "Age of the consumer's oldest pending job; 0 with nothing pending", (c) =>
    c.lagMs === null ? null : c.lagMs / 1000,
  ),
  perConsumer(
    "poutbox.consumer.retrying_jobs",
    "{job}",
    "Failed jobs of the consumer waiting for their retry",
    (c) => c.retrying,
  ),
  perConsumer(
    "poutbox.consumer.blocked_keys",
    "{key}",
    "Ordering keys the consumer holds back behind a head job that has not succeeded",
    (c) => c.blockedKeys,
  ),
  perConsumer(
    "poutbox.consumer.jobs_behind_blocked_keys",
    "{job}",
    "Jobs waiting behind the head of a blocked ordering key, not yet delivered",
    (c) => c.waitingBehindKeys,
  ),
  perConsumer(
    "poutbox.consumer.dead_letters",
    "{job}",
    "Jobs that used up their attempts in the consumer",
    (c) => c.deadLetters,
  ),
  perConsumer(
    "poutbox.consumer.held_outcomes",
    "{job}",
    "Handled jobs whose outcome could not be written yet, held and retried alone",
    (c) => c.heldOutcomes,
  ),
  perConsumer("poutbox.consumer.leader", "1", "1 while a process holds the consumer's leader lock, else 0", (c) =>
    c.leader === null ? 0 : 1,
  ),
  perConsumer(
    "poutbox.consumer.ack_lag",
    "By",
    "Replication: WAL written since the consumer's last acknowledged position",
    (c) => c.ackLagBytes,
  ),
  perConsumer(
    "poutbox.consumer.slot.retained_wal",
    "By",
    "Replication: WAL the consumer's slot keeps from being recycled",
    (c) => c.slot?.retainedBytes ?? null,
  ),
  perConsumer(
    "poutbox.consumer.slot.active",
    "1",
    "Replication: 1 while a walsender streams from the consumer's slot, else 0",
    (c) => (c.slot ? Number(c.slot.active) : null),
  ),
  {
    name: "poutbox.consumer.slot.wal_status",
    description:
      "Replication: 1 for the wal_status the consumer's slot is in (reserved, extended, unreserved, lost), 0 for the others",
    unit: "1",
    scope: "walStatus",
  },
  perSchema("poutbox.scheduled.jobs", "Jobs in scheduled, waiting for their time", (s) => s.tables.scheduled.rows),
  perSchema(
    "poutbox.scheduled.due_jobs",
    "Jobs in scheduled whose time has come, for the promoter's next run",
    (s) => s.tables.scheduled.due,
  ),
  perSchema("poutbox.failed.jobs", "Jobs in failed, waiting for their retry", (s) => s.tables.failed.rows),
  perSchema(
    "poutbox.failed.due_jobs",
    "Jobs in failed whose retry time has come, for the promoter's next run",
    (s) => s.tables.failed.due,
  ),
  perSchema("poutbox.dead_letter.jobs", "Jobs in dead_letter, of every consumer", (s) => s.tables.deadLetter.rows),
  perSchema(
    "poutbox.immediate.jobs",
    "Rows in immediate, delivered or not, until their partition is dropped; the planner's estimate above 100,000",
    (s) => s.tables.immediate.rows,
  ),
];

const attributesOf: Readonly<Record<Scope, readonly string[]>> = {
  schema: [metricAttributes.schema],
  consumer: [metricAttributes.schema, metricAttributes.consumer],
  walStatus: [metricAttributes.schema, metricAttributes.consumer, metricAttributes.walStatus],
};

/** Every metric outboxMetrics() returns, in its order: to register instruments before any read. */
export const outboxMetricDescriptors: readonly OutboxMetricDescriptor[] = definitions.map(
  ({ name, description, unit, scope }) => ({ name, description, unit, attributes: attributesOf[scope] }),
);

/**
 * The figures of one status() read as metrics: per consumer (attributes `poutbox.schema` and
 * `poutbox.consumer`) its backlog, lag, retries, blocked keys, dead letters, held outcomes,
 * leader and, for a replication consumer, its acknowledgement lag and slot; per schema
 * (attribute `poutbox.schema`) the rows of each table. Every metric of
 * {@link outboxMetricDescriptors} is returned, in that order; a figure status() does not know
 * (no progress recorded yet, no slot) has no sample rather than a 0. Pure: no I/O.
 *
 * @example
 * ```ts
 * for (const metric of outboxMetrics(await status(pool))) {
 *   for (const { attributes, value } of metric.samples) console.log(metric.name, attributes, value, metric.unit);
 * }
 * ```
 */
export function outboxMetrics(status: OutboxStatus): OutboxMetric[] {
  return definitions.map((definition, index) => ({
    ...(outboxMetricDescriptors[index] as OutboxMetricDescriptor),
    samples: samplesOf(definition, status),
  }));
}

function samplesOf(definition: Definition, status: OutboxStatus): MetricSample[] {
  const schema = { [metricAttributes.schema]: status.schema };
  if (definition.scope === "schema") return [{ attributes: schema, value: definition.value(status) }];
  return status.consumers.flatMap((consumer) => {
    const attributes = { ...schema, [metricAttributes.consumer]: consumer.name };
    if (definition.scope === "walStatus") return walStatusSamples(attributes, consumer.slot?.walStatus ?? null);
    const value = definition.value(consumer);
    return value === null ? [] : [{ attributes, value: Number(value) }];
  });
}

/** The known statuses, 1 for the slot's own and 0 for the rest; a status not known here is added. */
function walStatusSamples(attributes: Record<string, string>, walStatus: string | null): MetricSample[] {
  if (walStatus === null) return [];
  const all: readonly string[] = walStatuses.includes(walStatus as (typeof walStatuses)[number])
    ? walStatuses
    : [...walStatuses, walStatus];
  return all.map((each) => ({
    attributes: { ...attributes, [metricAttributes.walStatus]: each },
    value: each === walStatus ? 1 : 0,
  }));
}
