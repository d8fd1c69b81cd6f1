import type { Job } from "../core/job.js";
import type { JobId } from "../core/job-id.js";
import { traceSettle } from "../telemetry/settle-span.js";
import { retryDelay } from "./backoff.js";
import { runChecked } from "./checked-handler.js";
import { type ResolvedConsumerOptions, retryPolicyOf } from "./consumer-options.js";
import type { Handler } from "./handler.js";
import type { FailedJob, QueueStep } from "./job-outcome.js";

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
      const result = await runChecked(context, batch.jobs);
      if (result.kind === "abandoned") break;
      const failures = new Map<JobId, FailedJob>(result.failures);
      await writing;
      const settle = { jobs: batch.jobs, failed: failures.size };
      writing = traceSettle(context.options, settle, () => flow.commit(batch, failures));
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
  readonly queue: QueueStep | null;
  /** Position in the batch: rows join a key queue in this order. */
  readonly ord: number;
}

/** The failed jobs of a batch as the commit statements take them. */
export function failureRows(
  jobs: readonly Job<unknown>[],
  failures: ReadonlyMap<JobId, FailedJob>,
  options: ResolvedConsumerOptions,
): FailureRow[] {
  if (failures.size === 0) return [];
  const byId = new Map(jobs.map((job, index) => [job.id, { job, index }]));
  return [...failures].map(([id, { error, dead, queue }]) => {
    const found = byId.get(id);
    const job = found?.job;
    const attempt = job?.attempt ?? 1;
    const policy = retryPolicyOf(job, options);
    const waiting = queue === "wait" || (queue === "leave" && !dead);
    return {
      id: String(id),
      xid: String(job?.transactionId),
      // A job that waits was not delivered this time: its attempts so far do not change.
      attempt: queue === "wait" ? attempt - 1 : attempt,
      error: storableText(error),
      delay_ms: waiting ? 0 : retryDelay(policy.backoff, attempt),
      dead: !waiting && (dead || attempt >= policy.maxAttempts),
      queue: queue ?? null,
      ord: found?.index ?? 0,
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
