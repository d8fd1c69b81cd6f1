import type { Job } from "../core/job.js";
import type { JobId } from "../core/job-id.js";
import { traceProcess } from "../telemetry/process-span.js";
import { validateJobs } from "../topics/validate-jobs.js";
import { type ResolvedConsumerOptions, retryPolicyOf } from "./consumer-options.js";
import type { Handler } from "./handler.js";
import type { JobOutcomes } from "./job-outcome.js";
import { type BatchResult, runHandler } from "./run-handler.js";

/**
 * One handler call: validates the jobs' payloads (with a topic map), then runs the handler on
 * those that pass. A job refused by its schema fails dead, without the handler.
 */
export async function runChecked(
  context: {
    readonly handler: Handler<unknown>;
    readonly options: ResolvedConsumerOptions;
    readonly abandon: AbortSignal;
  },
  jobs: readonly Job<unknown>[],
): Promise<JobOutcomes> {
  const { options } = context;
  // A failure dies when the handler said so or when the job used up its attempts.
  const willDie = (job: Job<unknown>, dead: boolean) => dead || job.attempt >= retryPolicyOf(job, options).maxAttempts;
  return traceProcess(options, jobs, willDie, () => check(context, jobs));
}

async function check(
  context: {
    readonly handler: Handler<unknown>;
    readonly options: ResolvedConsumerOptions;
    readonly abandon: AbortSignal;
  },
  jobs: readonly Job<unknown>[],
): Promise<JobOutcomes> {
  const { options } = context;
  const schemas = options.topics?.schemas;
  const checked = schemas ? await validateJobs(schemas, jobs) : { jobs, rejected: new Map<JobId, string>() };
  const result: BatchResult =
    checked.jobs.length > 0
      ? await runHandler(context.handler, checked.jobs, options.handlerTimeout, context.abandon, options.logger)
      : { kind: "done", failures: new Map() };
  if (result.kind === "abandoned") return result;
  const failures = new Map<JobId, { error: string; dead: boolean }>();
  for (const [id, failure] of result.failures) failures.set(id, failure);
  for (const [id, error] of checked.rejected) failures.set(id, { error, dead: true });
  return { kind: "done", failures };
}
