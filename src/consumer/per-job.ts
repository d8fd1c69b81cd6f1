import { InvalidOptionError } from "../core/errors.js";
import type { HandlerContext, Job } from "../core/job.js";
import type { JobOf } from "../topics/topics.js";
import { forEachJob } from "./for-each-job.js";
import type { Handler } from "./handler.js";

export interface PerJobOptions {
  /** How many jobs run at once. Default 10. */
  readonly concurrency?: number;
}

/** How the consumer runs a handler made by perJob: `work` on one job at a time, `concurrency` at once. */
export interface PerJobRun {
  readonly concurrency: number;
  readonly work: (job: Job<unknown>, context: HandlerContext) => Promise<unknown>;
}

// Keyed by the handler function perJob returns, so the handler stays a plain function that
// works wherever a handler does (called with a batch, it runs forEachJob over it).
const runs = new WeakMap<object, PerJobRun>();

/**
 * A handler that works a job at a time, up to `concurrency` at once. The consumer starts each
 * job as soon as a slot is free instead of handing over a batch and waiting for its slowest
 * job; with `ordering: "key"`, a key's next job starts as soon as its previous one succeeded.
 * A job fails when `work` throws (or rejects); `handlerTimeout` applies to each job.
 *
 * @example
 * ```ts
 * const consumer = new Consumer(pool, perJob((job, { signal }) => sendEmail(job.payload, { signal }), { concurrency: 64 }), {
 *   name: "mailer",
 *   ordering: "key",
 * });
 * ```
 */
export function perJob<Payload = unknown>(
  work: (job: JobOf<Payload>, context: HandlerContext) => Promise<unknown>,
  options: PerJobOptions = {},
): Handler<Payload> {
  if (typeof work !== "function") throw new InvalidOptionError("work", "expected a function");
  const concurrency = options.concurrency ?? 10;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new InvalidOptionError("concurrency", `expected a positive integer, got ${String(concurrency)}`);
  }
  const batch: Handler<Payload> = (jobs, { signal }) =>
    forEachJob(jobs, (job) => work(job, { signal }), { concurrency, signal });
  runs.set(batch, { concurrency, work: work as PerJobRun["work"] });
  return batch;
}

/** How to run `handler` a job at a time, if perJob made it. */
export function perJobRunOf(handler: object): PerJobRun | undefined {
  return runs.get(handler);
}
