import { describeError } from "../core/describe-error.js";
import type { HandlerContext, Job } from "../core/job.js";
import type { JobId } from "../core/job-id.js";
import { otelInUse } from "../telemetry/in-use.js";
import { traceProcess } from "../telemetry/process-span.js";
import { validateJobs } from "../topics/validate-jobs.js";
import { type ResolvedConsumerOptions, retryPolicyOf } from "./consumer-options.js";
import type { JobOutcomes } from "./job-outcome.js";
import type { PerJobRun } from "./per-job.js";

type Outcome = Extract<JobOutcomes, { kind: "done" }> | { readonly kind: "abandoned" };

const succeeded: Outcome = { kind: "done", failures: new Map() };
const abandoned: Outcome = { kind: "abandoned" };

export interface JobRunner {
  /** Runs the work on one job: validated against its topic's schema, traced, under handlerTimeout. */
  run(job: Job<unknown>): Promise<Outcome>;
  /** Stops listening for abandon; call once the loop is done. */
  close(): void;
}

/**
 * What runChecked and runHandler do for a handler call, for one job of a perJob handler, and
 * lighter: such a handler makes a call per job. One listener on `abandon` stops every job in
 * progress (instead of one per job), and the job's AbortSignal is made only if its work reads it.
 */
export function jobRunner(
  context: { readonly options: ResolvedConsumerOptions; readonly abandon: AbortSignal },
  perJob: PerJobRun,
): JobRunner {
  const { options, abandon } = context;
  const timeout = options.handlerTimeout;
  const schemas = options.topics?.schemas;
  const inProgress = new Set<() => void>();
  const onAbandon = () => {
    for (const stop of [...inProgress]) stop();
  };
  abandon.addEventListener("abort", onAbandon, { once: true });
  const willDie = (job: Job<unknown>, dead: boolean) => dead || job.attempt >= retryPolicyOf(job, options).maxAttempts;

  const attempt = (job: Job<unknown>): Promise<Outcome> =>
    new Promise((resolve) => {
      let controller: AbortController | undefined;
      let reason: unknown;
      let finished = false;
      const finish = (outcome: Outcome, why?: unknown) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        inProgress.delete(stop);
        if (why !== undefined) {
          reason = why;
          controller?.abort(why);
        }
        resolve(outcome);
      };
      const stop = () => finish(abandoned, abandon.reason ?? new Error("abandoned"));
      const timer = setTimeout(() => {
        const error = `handler timed out after ${timeout} ms`;
        finish(failed(job.id, error), new Error(error));
      }, timeout);
      if (abandon.aborted) return stop();
      inProgress.add(stop);
      const jobContext: HandlerContext = {
        get signal() {
          if (!controller) {
            controller = new AbortController();
            if (reason !== undefined) controller.abort(reason);
          }
          return controller.signal;
        },
      };
      try {
        Promise.resolve(perJob.work(job, jobContext)).then(
          () => finish(succeeded),
          (error: unknown) => finish(failed(job.id, describeError(error))),
        );
      } catch (error) {
        finish(failed(job.id, describeError(error)));
      }
    });

  const validated = async (job: Job<unknown>): Promise<Outcome> => {
    if (!schemas) return attempt(job);
    const checked = await validateJobs(schemas, [job]);
    const refused = checked.rejected.get(job.id);
    if (refused !== undefined) return { kind: "done", failures: new Map([[job.id, { error: refused, dead: true }]]) };
    return attempt(checked.jobs[0] as Job<unknown>);
  };
  return {
    // A layer of async functions costs about a microsecond a job: none without a schema to
    // check or an SDK to trace for.
    run: (job) =>
      otelInUse()
        ? traceProcess(options, [job], willDie, () => validated(job))
        : schemas
          ? validated(job)
          : attempt(job),
    close: () => abandon.removeEventListener("abort", onAbandon),
  };
}

function failed(id: JobId, error: string): Outcome {
  return { kind: "done", failures: new Map([[id, { error, dead: false }]]) };
}
