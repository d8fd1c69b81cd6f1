import type { Job } from "../core/job.js";
import type { JobId } from "../core/job-id.js";
import { validateJobs } from "../topics/validate-jobs.js";
import { retryDelay } from "./backoff.js";
import type { ResolvedConsumerOptions } from "./consumer-options.js";
import type { Handler } from "./handler.js";
import { type BatchResult, runHandler } from "./run-handler.js";

/** A job the batch did not process, and whether it goes to dead letter now whatever its attempt. */
export interface FailedJob {
  readonly error: string;
  /** Refused before the handler (its payload or topic does not fit): no retry can help. */
  readonly dead: boolean;
}

/** Where batches come from and how their outcome is made durable; one per source kind. */
export interface BatchFlow<Batch extends { readonly jobs: readonly Job<unknown>[] }> {
  /** The next batch, fetched while the handler may still work on the previous one. Empty when idle. */
  next(): Promise<Batch>;
  /** Records a handled batch: its failures and the progress past it, in one transaction. */
  commit(batch: Batch, failures: ReadonlyMap<JobId, FailedJob>): Promise<void>;
  /** After an empty batch: wait for more work (and record idle progress now and then). */
  idle(batch: Batch): Promise<void>;
  /** True once the flow has reached its end (a catch-up target); checked after each commit. */
  done?(): boolean;
}

export interface BatchLoopContext {
  readonly handler: Handler<unknown>;
  readonly options: ResolvedConsumerOptions;
  /** Stop taking new batches. */
  readonly stopping: AbortSignal;
  /** Give up the batch in the handler without an outcome. */
  readonly abandon: AbortSignal;
  readonly onBatch: (summary: { jobs: number; failed: number; ms: number }) => void;
}

/**
 * The delivery loop shared by both sources: fetch a batch ahead while the handler works on
 * the current one, then commit each batch's outcome in batch order, one commit in flight at
 * most. So no more than two batches are ever handled but not yet committed: the bound on
 * duplicates after a crash.
 */
export async function runBatches<Batch extends { readonly jobs: readonly Job<unknown>[] }>(
  context: BatchLoopContext,
  flow: BatchFlow<Batch>,
): Promise<void> {
  const { options } = context;
  let writing: Promise<void> = Promise.resolve();
  let next = flow.next();
  try {
    while (!context.stopping.aborted && !flow.done?.()) {
      const batch = await next;
      if (batch.jobs.length === 0) {
        await writing;
        await flow.idle(batch);
        next = flow.next();
        continue;
      }
      next = flow.next();
      next.catch(() => undefined);
      const started = performance.now();
      const schemas = options.topics?.schemas;
      const checked = schemas ? await validateJobs(schemas, batch.jobs) : { jobs: batch.jobs, rejected: new Map() };
      const result: BatchResult =
        checked.jobs.length > 0
          ? await runHandler(context.handler, checked.jobs, options.handlerTimeout, context.abandon, options.logger)
          : { kind: "done", failures: new Map() };
      if (result.kind === "abandoned") break;
      const failures = new Map<JobId, FailedJob>();
      for (const [id, error] of result.failures) failures.set(id, { error, dead: false });
      for (const [id, error] of checked.rejected) failures.set(id, { error, dead: true });
      await writing;
      writing = flow.commit(batch, failures);
      writing.catch(() => undefined);
      context.onBatch({ jobs: batch.jobs.length, failed: failures.size, ms: performance.now() - started });
      if (flow.done) await writing;
    }
    await writing;
  } finally {
    next.catch(() => undefined);
    writing.catch(() => undefined);
  }
}

/** A failed job as the outcome statements take it (json_to_recordset in consumer-queries.ts). */
export interface FailureRow {
  readonly id: string;
  readonly xid: string;
  readonly attempt: number;
  readonly error: string;
  readonly delay_ms: number;
  readonly dead: boolean;
}

/** The failed jobs of a batch as the commit statements take them. */
export function failureRows(
  jobs: readonly Job<unknown>[],
  failures: ReadonlyMap<JobId, FailedJob>,
  options: ResolvedConsumerOptions,
): FailureRow[] {
  if (failures.size === 0) return [];
  const byId = new Map(jobs.map((job) => [job.id, job]));
  return [...failures].map(([id, { error, dead }]) => {
    const job = byId.get(id);
    const attempt = job?.attempt ?? 1;
    const policy = (job?.topic != null && options.retryByTopic.get(job.topic)) || options;
    return {
      id: String(id),
      xid: String(job?.transactionId),
      attempt,
      error: storableText(error),
      delay_ms: retryDelay(policy.backoff, attempt),
      dead: dead || attempt >= policy.maxAttempts,
    };
  });
}

/**
 * Error text as a text column can hold it. PostgreSQL text cannot contain NUL, and JSON's
 * `\u0000` or a lone surrogate's escape make the whole statement fail ("unsupported Unicode
 * escape sequence"): one error message from a handler would then stop every commit.
 */
export function storableText(text: string): string {
  return text.replace(unstorable, "\uFFFD");
}

// NUL, a high surrogate not followed by a low one, a low surrogate not preceded by a high one.
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is what this looks for.
const unstorable = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
