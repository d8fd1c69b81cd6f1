import type { Job, JobFailure } from "../core/job.js";
import { traceEachJob } from "../telemetry/job-span.js";

export interface ForEachJobOptions {
  /** How many jobs run at once. Default 10. */
  readonly concurrency?: number;
  /** Stops starting new jobs once aborted; the jobs not started are reported failed. Default: none. */
  readonly signal?: AbortSignal;
}

/**
 * Runs `work` for every job of a batch with bounded concurrency and returns the failures in
 * the shape a handler returns, so a handler can be one line:
 *
 * @example
 * ```ts
 * const consumer = new Consumer(pool, (jobs, { signal }) =>
 *   forEachJob(jobs, (job) => sendEmail(job.payload, { signal }), { concurrency: 20, signal }),
 * );
 * ```
 */
export async function forEachJob<J extends Job>(
  jobs: readonly J[],
  work: (job: J) => Promise<unknown>,
  options: ForEachJobOptions = {},
): Promise<JobFailure[]> {
  const concurrency = options.concurrency ?? 10;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`forEachJob: concurrency must be a positive integer, got ${concurrency}`);
  }
  const failures: JobFailure[] = [];
  const run = traceEachJob(jobs, work);
  let next = 0;
  const lane = async (): Promise<void> => {
    for (;;) {
      const job = jobs[next++];
      if (!job) return;
      if (options.signal?.aborted) {
        failures.push({ job, error: options.signal.reason ?? new Error("aborted") });
        continue;
      }
      try {
        await run(job);
      } catch (error) {
        failures.push({ job, error });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, lane));
  return failures;
}
