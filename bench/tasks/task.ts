/** What the benchmark asks a child process to do (see child-process.ts). */
export type Task =
  | ConsumerDrainTask
  | KeysetDrainTask
  | RawReplicationDrainTask
  | LiveConsumerTask
  | PeerDrainTask
  | RelayDrainTask
  | RawPublishTask
  | EnqueueTask;

/**
 * Tasks that may run with an OpenTelemetry SDK registered in their process (bench/telemetry-sdk.ts):
 * `telemetry: true` registers it before the task starts, and the result then carries how much
 * it exported (`Telemetry`).
 */
export interface Instrumentable {
  readonly telemetry?: boolean;
}

/** What the SDK of a `telemetry: true` task exported while it ran. */
export interface Telemetry {
  readonly spans: number;
  /** Metric exports (one a second) and the data points they held. */
  readonly metricExports: number;
  readonly metricPoints: number;
}

/**
 * A Poutbox client enqueues `n` jobs into `schema`: `single`, `n` transactions over 8
 * connections, each inserting a business row and enqueueing one job (as enqueue_single);
 * `many`, `enqueueMany` of 1,000 per call on one connection (as enqueue_bulk).
 */
export interface EnqueueTask extends Instrumentable {
  readonly kind: "enqueue";
  readonly shape: "single" | "many";
  readonly url: string;
  readonly schema: string;
  readonly n: number;
}

/** A relay (a consumer whose handler publishes to `broker`) drains `n` jobs into `destination`. */
export interface RelayDrainTask {
  readonly kind: "relay-drain";
  readonly broker: "nats" | "rabbitmq" | "redis" | "mqtt";
  readonly destination: string;
  readonly url: string;
  readonly schema: string;
  readonly name: string;
  readonly batchSize: number;
  readonly n: number;
}

/** The baseline of a relay: `n` messages of the same shape published straight to `broker`, `batchSize` at a time. */
export interface RawPublishTask {
  readonly kind: "raw-publish";
  readonly broker: "nats" | "rabbitmq" | "redis" | "mqtt";
  readonly destination: string;
  readonly batchSize: number;
  readonly n: number;
}

/** A Poutbox consumer handles `n` jobs with a no-op handler (or fails each job's first delivery). */
export interface ConsumerDrainTask extends Instrumentable {
  readonly kind: "consumer-drain";
  readonly url: string;
  readonly schema: string;
  readonly name: string;
  readonly mode: "polling" | "replication";
  readonly batchSize: number;
  readonly n: number;
  /** Fail every first delivery: then `n` jobs must come back through failed and the promoter. */
  readonly failFirstAttempt?: boolean;
  readonly promoteInterval?: number;
  /** The consumer's `subscribe` option; `n` counts the jobs it receives. */
  readonly subscribe?: readonly string[];
  /** Each job awaits this many ms of timer (asynchronous I/O), `concurrency` at a time (forEachJob). */
  readonly ioMs?: number;
  readonly concurrency?: number;
  /** With `ioMs`: the handler is made by perJob (a job at a time) instead of calling forEachJob on each batch. */
  readonly perJob?: boolean;
  /** The consumer's `ordering` option. */
  readonly ordering?: "none" | "key";
  /** The consumer's `maxBatchBytes` option. */
  readonly maxBatchBytes?: number;
  /** Every job of this key fails, for ever: the key stays blocked; `n` counts the other jobs. */
  readonly blockedKey?: string;
}

/** The cheapest reader of the same rows: keyset pagination with plain SELECTs. */
export interface KeysetDrainTask {
  readonly kind: "keyset-drain";
  readonly url: string;
  readonly schema: string;
  readonly batchSize: number;
  readonly n: number;
  /** Read only the rows of this topic (the same index scan, filtered), `n` of them. */
  readonly topic?: string;
}

/** The best raw reader of a pgoutput slot: counts inserts, decodes nothing. */
export interface RawReplicationDrainTask {
  readonly kind: "raw-replication-drain";
  readonly url: string;
  readonly slot: string;
  readonly publication: string;
  /** Pause the socket 1 ms after each read, so each read takes a larger chunk. */
  readonly coalesce: boolean;
  readonly n: number;
}

/** A consumer with default settings that records when each job reached its handler. */
export interface LiveConsumerTask {
  readonly kind: "live-consumer";
  readonly url: string;
  readonly schema: string;
  readonly name: string;
  readonly mode: "polling" | "replication";
  /** Wake up on NOTIFY (`listen: true`, `pollInterval` 1000) instead of polling every 10 ms. */
  readonly listen?: boolean;
}

/** pg-boss or graphile-worker drains `n` jobs queued beforehand. */
export interface PeerDrainTask {
  readonly kind: "peer-drain";
  readonly peer: "pg-boss" | "graphile-worker";
  readonly url: string;
  readonly queue: string;
  readonly n: number;
}

export interface Drained {
  readonly seconds: number;
  readonly peakRssMb: number;
  /** With `telemetry: true`: what the SDK exported. */
  readonly telemetry?: Telemetry;
}

/** When each job reached the handler: [id, ms on the wall clock, with fractions]. */
export type StartTimes = [string, number][];

/** Messages from a child to the benchmark. */
export type ChildMessage = { readonly type: "ready" } | { readonly type: "result"; readonly result: unknown };

/** Messages from the benchmark to a child, after the task. */
export type ParentMessage = { readonly type: "expect"; readonly count: number };

export function peakRssMb(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes. */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}
