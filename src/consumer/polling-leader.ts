import type pg from "pg";
import { queryRow } from "../database/query-rows.js";
import type { Queryable } from "../database/queryable.js";
import { wakeChannel } from "../schema/server-names.js";
import type { ReplicationSlotStatus } from "../slots/slot-status.js";
import { type PolledBatch, type PollingProgress, PollingSource } from "../sources/polling-source.js";
import type { SnapshotText } from "../sources/snapshot.js";
import { type BatchFlow, type BatchLoopContext, type FailureRow, failureRows, runBatches } from "./batch-loop.js";
import { commitOutcome } from "./commit-outcome.js";
import type { ResolvedConsumerOptions } from "./consumer-options.js";
import type { ConsumerQueries } from "./consumer-queries.js";
import type { Handler } from "./handler.js";
import type { HeldOutcome, HeldOutcomes } from "./held-outcomes.js";
import { keyOrderFor } from "./key-order.js";
import type { LongTransaction } from "./long-transactions.js";
import { describeTransactions, LongTransactionWatch } from "./long-transactions.js";
import { perJobRunOf } from "./per-job.js";
import { runScheduledBatches } from "./scheduled-batch-loop.js";
import { NotificationWakeup, timerWakeup } from "./wakeup.js";

/** What the leader reports to its Consumer. */
export interface LeaderEvents {
  batch(summary: { jobs: number; failed: number; ms: number }): void;
  longTransaction(transaction: LongTransaction): void;
  slot(status: ReplicationSlotStatus): void;
  error(error: Error): void;
}

export interface LeaderTerm {
  readonly pool: pg.Pool;
  readonly handler: Handler<unknown>;
  readonly options: ResolvedConsumerOptions;
  readonly queries: ConsumerQueries;
  readonly epoch: string;
  readonly progress: PollingProgress;
  /** Outcomes whose write failed, retried alone; commits add to them. */
  readonly held: HeldOutcomes;
  /**
   * Stop once progress reaches this snapshot (whose window must be `progress.window`): the
   * catch-up of a replication consumer, up to the snapshot its slot starts from.
   */
  readonly until?: SnapshotText;
  /** Stop taking new batches (stop() was called). */
  readonly stopping: AbortSignal;
  /** Give up the batch in the handler (shutdown grace over, or leadership lost). */
  readonly abandon: AbortSignal;
  readonly events: LeaderEvents;
  /** Runs the promoter now: a key queue has a job due at once (its head left, or was told to wait). */
  readonly promoteNow: () => void;
}

// How often an idle consumer records that it has seen everything up to a newer snapshot.
// Only partition maintenance and status need it; correctness does not.
const idleProgressInterval = 1000;

/**
 * One term as leader: fetch a batch ahead while the handler works on the current one, then
 * commit each batch's outcome in order. Returns when stopping, throws on database errors
 * and when fenced.
 */
export async function leadPolling(term: LeaderTerm): Promise<void> {
  const { pool, options, queries, events } = term;
  const source = new PollingSource(pool, options.quotedSchema, term.progress, {
    consumer: options.name,
    batchSize: options.batchSize,
    maxBatchBytes: options.maxBatchBytes,
    subscription: options.subscription,
  });
  const watch = new LongTransactionWatch(options.longTransactionThreshold);
  const wakeup = options.listen
    ? new NotificationWakeup(pool, wakeChannel(options.schema), (error) => events.error(error))
    : timerWakeup;

  let lastCommit = Date.now();
  let committedSnapshot = term.progress.snapshot;
  const commit = async (progress: PollingProgress, failures: readonly FailureRow[]) => {
    await commitOutcome({
      ...outcomeWriting(term),
      failures,
      progress: (db, failed, held) => {
        const position = [
          options.name,
          term.epoch,
          progress.snapshot,
          progress.window,
          progress.afterXid,
          progress.afterId,
        ];
        return failed === "[]" && held === "[]"
          ? queryRow(db, queries.consumerAdvance, position)
          : queryRow(db, queries.consumerCommit, [...position, failed, held]);
      },
    });
    lastCommit = Date.now();
    committedSnapshot = progress.snapshot;
  };
  /** The last batch handed out. */
  let handedOut: PolledBatch | undefined;
  const flow: BatchFlow<PolledBatch> = {
    next: async () => {
      // A catch-up ends at its snapshot: the jobs of later windows are the stream's. Handed
      // out here, they could be handled (the next batch's jobs run while this one's commit
      // is in flight) and then come again from the stream.
      const reached = handedOut?.progress;
      if (term.until !== undefined && reached?.snapshot === term.until && reached.window === null) {
        return { jobs: [], progress: reached, windowSnapshot: term.until };
      }
      const batch = await source.next();
      handedOut = batch;
      const due = watch.observe(batch.windowSnapshot);
      if (due.length > 0) reportLongTransactions(term, due);
      return batch;
    },
    commit: (batch, failures) => commit(batch.progress, failureRows(batch.jobs, failures, options)),
    idle: async (batch) => {
      const caughtUp = term.until !== undefined && batch.progress.snapshot === term.until;
      if (caughtUp || Date.now() - lastCommit > idleProgressInterval) await commit(batch.progress, []);
      if (!caughtUp) await wakeup.wait(options.pollInterval, term.stopping);
    },
    done: term.until === undefined ? undefined : () => committedSnapshot === term.until,
  };
  try {
    const perJob = perJobRunOf(term.handler);
    const keyOrder = keyOrderFor<PolledBatch>(term, perJob !== undefined);
    const context: BatchLoopContext = {
      handler: term.handler,
      options,
      stopping: term.stopping,
      abandon: term.abandon,
      onBatch: events.batch,
    };
    await (keyOrder ? runScheduledBatches(context, flow, keyOrder, perJob) : runBatches(context, flow));
  } finally {
    await wakeup.close();
  }
}

/** What every commit of a term shares: where outcomes are written, and where held ones go. */
export function outcomeWriting(term: LeaderTerm) {
  const { pool, options, queries } = term;
  return {
    name: options.name,
    pool,
    writeOutcomes: async (db: Queryable, failures: string) =>
      (await queryRow(db, queries.outcomesWrite, [options.name, failures])).written,
    held: (outcomes: readonly HeldOutcome[]) => term.held.add(outcomes),
    released: () => term.promoteNow(),
  };
}

function reportLongTransactions(term: LeaderTerm, xids: bigint[]): void {
  describeTransactions(term.pool, xids).then(
    (found) => {
      for (const transaction of found) {
        term.options.logger.warn?.("a long-open transaction is holding back outbox progress", {
          epoch: term.epoch,
          transactionId: String(transaction.transactionId),
          pid: transaction.pid,
          ageMs: transaction.ageMs,
          database: transaction.database,
          state: transaction.state,
          preparedGid: transaction.preparedGid,
        });
        term.events.longTransaction(transaction);
      }
    },
    (error: Error) => term.events.error(error),
  );
}
