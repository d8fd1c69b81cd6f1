import type pg from "pg";
import { Consumer } from "../consumer/consumer.js";
import type { ConsumerOptions } from "../consumer/consumer-options.js";
import type { Handler } from "../consumer/handler.js";
import type { HandlerResult, Job } from "../core/job.js";
import type { JobId } from "../core/job-id.js";
import { integer } from "../core/option-checks.js";
import { resolveSchema } from "../schema/schema-name.js";
import type { JobOf } from "../topics/topics.js";
import { type OutboxContents, outboxContents } from "./outbox-contents.js";
import { type DrainRemainder, DrainTimeoutError } from "./testing-errors.js";

export interface DrainOptions extends Omit<ConsumerOptions, "signal"> {
  /**
   * Give up after this many ms: the consumer is stopped and a DrainTimeoutError names what
   * remains. Default 10,000.
   */
  readonly timeout?: number;
  /**
   * Retries and scheduled jobs falling due within this many ms of the drain's start (by the
   * server's clock) are waited for and delivered; later ones are left where they are, and show
   * in the result's `contents`. Default 5,000.
   */
  readonly dueWithin?: number;
  /**
   * How often the outbox is checked for being drained, in ms. Default 20.
   */
  readonly checkInterval?: number;
  /**
   * As the consumer's option: how often due scheduled and failed jobs are moved into
   * `immediate`, in ms. Default 50 here (500 for a Consumer), so that retries come back fast.
   */
  readonly promoteInterval?: number;
}

/** What a drain delivered, and what it left. */
export interface DrainResult<Payload = unknown> {
  /** Every job handed to the handler, in order, once per delivery (a retried job shows up again). */
  readonly deliveries: readonly JobOf<Payload>[];
  /** The deliveries the handler completed: it did not throw for their batch or return them as failed. */
  readonly succeeded: readonly JobOf<Payload>[];
  /** The outbox as the consumer left it: scheduled jobs and retries not due yet, dead letters. */
  readonly contents: OutboxContents;
}

/**
 * Runs a Consumer with `handler` until the outbox is drained for it, then stops it. Drained
 * means, read from one snapshot: the consumer has recorded progress; no committed job in
 * `immediate` is pending for it; it has no failed job whose retry falls due within
 * `dueWithin` of the start, and no scheduled job falls due within it either; it holds no
 * unwritten outcome. Jobs due later are not waited for: they stay in `contents`. Jobs
 * committed while it runs are delivered too, if they come before it finds the outbox drained.
 *
 * @throws {DrainTimeoutError} when it is not drained within `timeout`, naming what remains.
 * @throws the consumer's `failure` when it stopped by itself (a replication setup error, say).
 * @example
 * ```ts
 * const { deliveries, contents } = await drain(pool, handler, { name: "mailer" });
 * assert.equal(contents.dead.length, 0);
 * ```
 */
export async function drain<Payload = unknown>(
  pool: pg.Pool,
  handler: Handler<Payload>,
  options: DrainOptions = {},
): Promise<DrainResult<Payload>> {
  const {
    timeout: timeoutOption,
    dueWithin: dueWithinOption,
    checkInterval: checkOption,
    ...consumerOptions
  } = options;
  const timeout = integer("timeout", timeoutOption, 10_000, 1, 2 ** 31 - 1);
  const dueWithin = integer("dueWithin", dueWithinOption, 5_000, 0, 2 ** 40);
  const checkInterval = integer("checkInterval", checkOption, 20, 1, 60_000);
  const name = consumerOptions.name ?? "default";
  const deliveries: JobOf<Payload>[] = [];
  const succeeded: JobOf<Payload>[] = [];
  const recording: Handler<Payload> = async (jobs, context) => {
    deliveries.push(...jobs);
    const result: HandlerResult = await handler(jobs, context);
    const failed = new Set<JobId>((result ?? []).map((failure) => jobIdOf(failure.job)));
    succeeded.push(...jobs.filter((job) => !failed.has((job as Job).id)));
    return result;
  };
  const consumer = new Consumer<Payload>(pool, recording, { promoteInterval: 50, ...consumerOptions, name });
  const contentsOptions = { schema: resolveSchema(consumerOptions.schema).schema, consumer: name };
  const started = Date.now();
  let horizon: number | undefined;
  try {
    await consumer.start();
    for (;;) {
      const contents = await outboxContents(pool, contentsOptions);
      horizon ??= contents.at.getTime() + dueWithin;
      const remaining = remainder(contents, horizon);
      if (contents.recorded && isEmpty(remaining)) return { deliveries, succeeded, contents };
      if (consumer.failure) throw consumer.failure;
      if (Date.now() - started >= timeout) throw new DrainTimeoutError(name, timeout, remaining);
      await new Promise((resolve) => setTimeout(resolve, checkInterval));
    }
  } finally {
    await consumer.stop();
  }
}

/** What stands between the outbox and drained, by the server's clock `horizon` (epoch ms). */
function remainder(contents: OutboxContents, horizon: number): DrainRemainder {
  return {
    pending: contents.pending.map((job) => job.id),
    retries: contents.failed.filter((job) => job.nextRetryAt.getTime() <= horizon).map((job) => job.id),
    scheduled: contents.scheduled.filter((job) => job.runAt.getTime() <= horizon).map((job) => job.id),
    heldOutcomes: contents.heldOutcomes,
  };
}

function isEmpty(remaining: DrainRemainder): boolean {
  return (
    remaining.pending.length === 0 &&
    remaining.retries.length === 0 &&
    remaining.scheduled.length === 0 &&
    remaining.heldOutcomes === 0
  );
}

function jobIdOf(job: Job | JobId): JobId {
  return typeof job === "bigint" ? job : job.id;
}
