import { describeError } from "../core/describe-error.js";
import type { Job, JobFailure } from "../core/job.js";
import type { JobId } from "../core/job-id.js";
import type { Logger } from "../core/logger.js";
import type { Handler } from "./handler.js";

/** How one job failed: its error text, and whether it goes to dead letter without retries. */
export interface HandlerFailure {
  readonly error: string;
  readonly dead: boolean;
}

/** The result of one batch: each failed job (none when all succeeded). */
export type BatchResult =
  | { readonly kind: "done"; readonly failures: Map<JobId, HandlerFailure> }
  | { readonly kind: "abandoned" };

/**
 * Calls the handler under a timeout. A throw fails every job; a timeout aborts the handler's
 * signal and fails every job. When `abandon` is aborted (shutdown grace period over, or
 * leadership lost) the batch is given up without an outcome: it will be delivered again.
 */
export async function runHandler(
  handler: Handler<unknown>,
  jobs: readonly Job[],
  timeout: number,
  abandon: AbortSignal,
  logger: Logger,
): Promise<BatchResult> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let onAbandon = () => {};
  const stopped = new Promise<"timeout" | "abandoned">((resolve) => {
    timer = setTimeout(() => {
      controller.abort(new Error(`handler timed out after ${timeout} ms`));
      resolve("timeout");
    }, timeout);
    onAbandon = () => {
      controller.abort(abandon.reason);
      resolve("abandoned");
    };
    if (abandon.aborted) onAbandon();
    else abandon.addEventListener("abort", onAbandon, { once: true });
  });
  try {
    const outcome = await Promise.race([
      Promise.resolve()
        .then(() => handler(jobs, { signal: controller.signal }))
        .then(
          (value) => ({ value }),
          (error: unknown) => ({ error }),
        ),
      stopped,
    ]);
    if (outcome === "abandoned") return { kind: "abandoned" };
    if (outcome === "timeout") return failAll(jobs, `handler timed out after ${timeout} ms`);
    if ("error" in outcome) return failAll(jobs, describeError(outcome.error));
    return { kind: "done", failures: failuresOf(jobs, outcome.value, logger) };
  } finally {
    clearTimeout(timer);
    abandon.removeEventListener("abort", onAbandon);
  }
}

function failAll(jobs: readonly Job<unknown>[], error: string): BatchResult {
  return { kind: "done", failures: new Map(jobs.map((job) => [job.id, { error, dead: false }])) };
}

function failuresOf(jobs: readonly Job<unknown>[], value: unknown, logger: Logger): Map<JobId, HandlerFailure> {
  const failures = new Map<JobId, HandlerFailure>();
  if (value === undefined || value === null) return failures;
  if (!Array.isArray(value)) {
    logger.warn?.("handler returned something other than nothing or an array of failures; treating the batch as done", {
      returned: typeof value,
      batchSize: jobs.length,
      jobIds: jobs.map((job) => String(job.id)),
    });
    return failures;
  }
  const inBatch = new Set(jobs.map((job) => job.id));
  for (const entry of value as JobFailure[]) {
    const id = typeof entry?.job === "bigint" ? entry.job : entry?.job?.id;
    if (id === undefined || !inBatch.has(id)) {
      logger.warn?.("handler reported a failure for a job that is not in the batch; ignored", {
        jobId: String(id),
        batchSize: jobs.length,
      });
      continue;
    }
    failures.set(id, { error: describeError(entry.error), dead: entry.permanent === true });
  }
  return failures;
}
