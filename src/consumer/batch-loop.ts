import type { Job } from "../core/job.js";
import type { JobId } from "../core/job-id.js";
import { validateJobs } from "../topics/validate-jobs.js";
import { retryDelay } from "./backoff.js";
import { type ResolvedConsumerOptions, retryPolicyOf } from "./consumer-options.js";
import type { Handler } from "./handler.js";
import type { FailedJob, QueueStep } from "./job-outcome.js";
import type { KeyOrder, RoundResult } from "./key-order.js";
import { type BatchResult, runHandler } from "./run-handler.js";

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
  /** Delivery by key, for a consumer with `ordering: "key"`. */
  readonly keyOrder?: KeyOrder;
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
  const { keyOrder } = context;
  let writing: Promise<void> = Promise.resolve();
  const fetch = async () => {
    const batch = await flow.next();
    const queues = keyOrder && batch.jobs.length > 0 ? await keyOrder.read(batch.jobs) : undefined;
    return { batch, queues };
  };
  let next = fetch();
  try {
    while (!context.stopping.aborted && !flow.done?.()) {
      const { batch, queues } = await next;
      if (batch.jobs.length === 0) {
        await writing;
        await flow.idle(batch);
        next = fetch();
        continue;
      }
      next = fetch();
      next.catch(() => undefined);
      const started = performance.now();
      const failures =
        keyOrder && queues
          ? await keyOrder.deliver(batch.jobs, queues, (jobs) => runChecked(context, jobs))
          : outcomesOf(await runChecked(context, batch.jobs));
      if (failures === undefined) break;
      await writing;
      writing = flow.commit(batch, failures);
      if (keyOrder) writing = writing.then(() => keyOrder.committed());
      writing.catch(() => undefined);
      context.onBatch({ jobs: batch.jobs.length, failed: failedCount(failures), ms: performance.now() - started });
      if (flow.done) await writing;
    }
    await writing;
  } finally {
    next.catch(() => undefined);
    writing.catch(() => undefined);
  }
}

/** Validates the jobs' payloads (with a topic map), then runs the handler on those that pass. */
async function runChecked(context: BatchLoopContext, jobs: readonly Job<unknown>[]): Promise<RoundResult> {
  const { options } = context;
  const schemas = options.topics?.schemas;
  const checked = schemas ? await validateJobs(schemas, jobs) : { jobs, rejected: new Map<JobId, string>() };
  const result: BatchResult =
    checked.jobs.length > 0
      ? await runHandler(context.handler, checked.jobs, options.handlerTimeout, context.abandon, options.logger)
      : { kind: "done", failures: new Map() };
  if (result.kind === "abandoned") return result;
  const failures = new Map<JobId, { error: string; dead: boolean }>();
  for (const [id, error] of result.failures) failures.set(id, { error, dead: false });
  for (const [id, error] of checked.rejected) failures.set(id, { error, dead: true });
  return { kind: "done", failures };
}

function outcomesOf(result: RoundResult): Map<JobId, FailedJob> | undefined {
  return result.kind === "abandoned" ? undefined : new Map(result.failures);
}

/** Jobs that failed, not counting those that only wait behind their key or left its queue. */
function failedCount(outcomes: ReadonlyMap<JobId, FailedJob>): number {
  let failed = 0;
  for (const outcome of outcomes.values()) if (outcome.queue !== "wait" && outcome.error !== "") failed++;
  return failed;
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
