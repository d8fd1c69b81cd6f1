import type { Job } from "../core/job.js";
import type { JobId } from "../core/job-id.js";
import { traceSettle } from "../telemetry/settle-span.js";
import type { BatchFlow, BatchLoopContext } from "./batch-loop.js";
import { runChecked } from "./checked-handler.js";
import type { FailedJob } from "./job-outcome.js";
import type { KeyOrder, KeyQueues, ScheduledBatch } from "./key-order.js";

interface Fetched<Batch> {
  readonly batch: Batch;
  readonly queues: KeyQueues | undefined;
}

/**
 * The delivery loop of a consumer with `ordering: "key"`. Like runBatches, it fetches ahead
 * and commits batches in order, one commit in flight at most, and never holds more than two
 * batches handled but not committed. In between, KeyOrder forms the handler calls from the
 * lanes of the batches in hand: a batch's last jobs share calls with the next batch's first.
 */
export async function runOrderedBatches<Batch extends { readonly jobs: readonly Job<unknown>[] }>(
  context: BatchLoopContext,
  flow: BatchFlow<Batch>,
  keyOrder: KeyOrder<Batch>,
): Promise<void> {
  let writing: Promise<void> = Promise.resolve();
  let committing = false;
  /** Taken into the schedule, not yet handed to a commit, in batch order. */
  const inHand: ScheduledBatch<Batch>[] = [];
  const fetch = () =>
    settling(async (): Promise<Fetched<Batch>> => {
      const batch = await flow.next();
      return { batch, queues: batch.jobs.length > 0 ? await keyOrder.read(batch.jobs) : undefined };
    });
  let next = fetch();
  /** An empty batch, handled once everything in hand is committed. */
  let idle: Batch | undefined;
  try {
    while (!context.stopping.aborted && !flow.done?.()) {
      const room = inHand.length + (committing ? 1 : 0) < 2;
      // Wait for the fetch only when nothing else can run: a replication source holds an
      // empty fetch back for a while, and the jobs in hand would wait for nothing.
      if (room && idle === undefined && (next.settled || !keyOrder.ready)) {
        const { batch, queues } = await next.promise;
        if (queues === undefined) idle = batch;
        else {
          inHand.push(keyOrder.add(batch, batch.jobs, queues));
          next = fetch();
        }
      }
      if (keyOrder.ready) {
        const result = await runChecked(context, keyOrder.nextCall());
        if (result.kind === "abandoned") break;
        keyOrder.record(result);
      }
      while (inHand[0]?.open === 0) {
        const done = inHand.shift() as ScheduledBatch<Batch>;
        await writing;
        committing = true;
        const settle = { jobs: done.batch.jobs, failed: failedCount(done.outcomes) };
        writing = traceSettle(context.options, settle, () => flow.commit(done.batch, done.outcomes)).then(() => {
          committing = false;
          keyOrder.committed();
        });
        writing.catch(() => undefined);
        const { jobs } = done.batch;
        context.onBatch({
          jobs: jobs.length,
          failed: failedCount(done.outcomes),
          ms: performance.now() - done.started,
        });
        if (flow.done) await writing;
      }
      if (idle !== undefined && inHand.length === 0 && !keyOrder.ready) {
        await writing;
        await flow.idle(idle);
        idle = undefined;
        next = fetch();
      }
    }
    await writing;
  } finally {
    next.promise.catch(() => undefined);
    writing.catch(() => undefined);
  }
}

/** A promise and whether it has settled, so a loop can look without waiting. */
function settling<T>(start: () => Promise<T>): { readonly promise: Promise<T>; settled: boolean } {
  const state = { promise: start(), settled: false };
  state.promise.then(
    () => {
      state.settled = true;
    },
    () => {
      state.settled = true;
    },
  );
  return state;
}

/** Jobs that failed, not counting those that only wait behind their key or left its queue. */
function failedCount(outcomes: ReadonlyMap<JobId, FailedJob>): number {
  let failed = 0;
  for (const outcome of outcomes.values()) if (outcome.queue !== "wait" && outcome.error !== "") failed++;
  return failed;
}
