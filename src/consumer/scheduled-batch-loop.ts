import type { Job } from "../core/job.js";
import type { JobId } from "../core/job-id.js";
import { traceSettle } from "../telemetry/settle-span.js";
import type { BatchFlow, BatchLoopContext } from "./batch-loop.js";
import { runChecked } from "./checked-handler.js";
import type { FailedJob } from "./job-outcome.js";
import type { KeyOrder, KeyQueues, ScheduledBatch } from "./key-order.js";
import type { PerJobRun } from "./per-job.js";
import { jobRunner } from "./run-job.js";

interface Fetched<Batch> {
  readonly batch: Batch;
  readonly queues: KeyQueues | undefined;
}

/**
 * The delivery loop of a consumer with `ordering: "key"` or a perJob handler. Like runBatches,
 * it fetches ahead and commits batches in order, one commit in flight at most, and never holds
 * more than two batches handled but not committed. In between, KeyOrder gives out the work of
 * the batches in hand: to a batch handler, a call at a time, each call the first job of every
 * key's lane (a batch's last jobs share calls with the next batch's first); to a perJob
 * handler, a job at a time, up to its concurrency, each as soon as a slot and its key are free.
 */
export async function runScheduledBatches<Batch extends { readonly jobs: readonly Job<unknown>[] }>(
  context: BatchLoopContext,
  flow: BatchFlow<Batch>,
  keyOrder: KeyOrder<Batch>,
  perJob?: PerJobRun,
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
  /** Handler calls in progress; each removes itself when its outcome is recorded. */
  const running = new Set<Promise<void>>();
  let abandoned = false;
  let crashed: { readonly error: unknown } | undefined;
  // Resolved when a call ends: the loop waits on this one promise, not on a race of them all.
  let callEnded: () => void = () => {};
  const track = (call: () => Promise<void>) => {
    // Assigned before its body gets past the first await, where it is read.
    let tracked!: Promise<void>;
    tracked = (async () => {
      try {
        await call();
      } catch (error) {
        crashed ??= { error };
      } finally {
        running.delete(tracked);
        callEnded();
      }
    })();
    running.add(tracked);
  };
  const jobs = perJob && jobRunner(context, perJob);
  const startWork = () => {
    if (perJob === undefined) {
      // A batch handler: one call at a time.
      if (running.size > 0 || !keyOrder.ready) return;
      const call = keyOrder.nextCall();
      track(async () => {
        const result = await runChecked(context, call);
        if (result.kind === "abandoned") abandoned = true;
        else keyOrder.record(result);
      });
      return;
    }
    // A perJob handler: up to `concurrency` lanes, each taking the next job that can start as
    // soon as its last one is settled (as forEachJob's lanes do), without a pass of this loop.
    while (jobs && running.size < perJob.concurrency && keyOrder.ready) {
      track(async () => {
        for (let entry = keyOrder.take(); entry !== undefined; entry = halted() ? undefined : keyOrder.take()) {
          const result = await jobs.run(entry.job);
          if (result.kind === "abandoned") {
            abandoned = true;
            return;
          }
          keyOrder.settle(entry, result.failures.get(entry.job.id));
          // The loop commits a batch once its last job is settled, and starts lanes for
          // slots left free.
          if (entry.owner.open === 0 || running.size < perJob.concurrency) callEnded();
        }
      });
    }
  };
  /** No job may start: the loop is ending. */
  const halted = () => abandoned || context.stopping.aborted || flow.done?.() === true;
  try {
    for (;;) {
      // Made first, so that a call ending anywhere in this pass is not missed.
      const aCallEnded = new Promise<void>((resolve) => {
        callEnded = resolve;
      });
      if (crashed) throw crashed.error;
      // A catch-up has reached its end: what is in hand beyond it is not for this term.
      if (abandoned || flow.done?.() === true) break;
      const stopping = context.stopping.aborted;
      const room = inHand.length + (committing ? 1 : 0) < 2;
      if (!stopping && room && idle === undefined && next.settled) {
        const { batch, queues } = await next.promise;
        if (queues === undefined) idle = batch;
        else {
          inHand.push(keyOrder.add(batch, batch.jobs, queues));
          next = fetch();
        }
      }
      if (!stopping) startWork();
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
        context.onBatch({
          jobs: done.batch.jobs.length,
          failed: failedCount(done.outcomes),
          ms: performance.now() - done.started,
        });
        if (flow.done) await writing;
      }
      if (stopping) {
        // Let the calls in progress finish (or be abandoned), commit what they completed.
        if (running.size === 0) break;
        await aCallEnded;
        continue;
      }
      if (idle !== undefined && inHand.length === 0 && running.size === 0 && !keyOrder.ready) {
        await writing;
        await flow.idle(idle);
        idle = undefined;
        next = fetch();
        continue;
      }
      // Wait for whatever can let the loop on: a call ending, a commit ending, the fetch.
      const events: Promise<unknown>[] = [];
      if (running.size > 0) events.push(aCallEnded);
      if (committing) events.push(writing);
      if (inHand.length + (committing ? 1 : 0) < 2 && idle === undefined) {
        // Settled while this pass awaited a commit: take it now.
        if (next.settled) continue;
        events.push(next.promise.catch(() => undefined));
      }
      // Nothing running, committing or being fetched, with jobs in hand: KeyOrder lost count.
      if (events.length === 0) throw new Error("delivery loop stalled: jobs in hand, none can start");
      await Promise.race(events);
    }
    await writing;
  } finally {
    next.promise.catch(() => undefined);
    writing.catch(() => undefined);
    // No handler call is left running behind the loop (an abandoned one has already returned).
    await Promise.all(running);
    jobs?.close();
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
