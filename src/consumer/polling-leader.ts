import type pg from "pg";
import type { JobId } from "../client/job-id.js";
import { wakeChannel } from "../schema/wake-channel.js";
import { type PolledBatch, type PollingProgress, PollingSource } from "../sources/polling-source.js";
import { retryDelay } from "./backoff.js";
import type { ResolvedConsumerOptions } from "./consumer-options.js";
import type { ConsumerQueries } from "./consumer-queries.js";
import type { Handler } from "./job.js";
import type { LongTransaction } from "./long-transactions.js";
import { describeTransactions, LongTransactionWatch } from "./long-transactions.js";
import { runHandler } from "./run-handler.js";
import { sleep } from "./sleep.js";
import { NotificationWakeup, timerWakeup } from "./wakeup.js";

/** What the leader reports to its Consumer. */
export interface LeaderEvents {
  batch(summary: { jobs: number; failed: number; ms: number }): void;
  longTransaction(transaction: LongTransaction): void;
  error(error: Error): void;
}

export interface LeaderTerm {
  readonly pool: pg.Pool;
  readonly handler: Handler<unknown>;
  readonly options: ResolvedConsumerOptions;
  readonly queries: ConsumerQueries;
  readonly epoch: string;
  readonly progress: PollingProgress;
  /** Stop taking new batches (stop() was called). */
  readonly stopping: AbortSignal;
  /** Give up the batch in the handler (shutdown grace over, or leadership lost). */
  readonly abandon: AbortSignal;
  readonly events: LeaderEvents;
}

/** The epoch moved: another process took leadership. Nothing of this term may be committed. */
export class FencedError extends Error {
  constructor(name: string) {
    super(`consumer "${name}" lost leadership: another process claimed it; this process stands down`);
  }
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
  const source = new PollingSource(pool, options.quotedSchema, options.name, options.batchSize, term.progress);
  const watch = new LongTransactionWatch(options.longTransactionThreshold);
  const promoter = promote(term);
  const wakeup = options.listen
    ? new NotificationWakeup(pool, wakeChannel(options.schema), (error) => events.error(error))
    : timerWakeup;

  const commit = async (progress: PollingProgress, failures: ReadonlyMap<JobId, string>, batch?: PolledBatch) => {
    const jobs = failures.size > 0 ? new Map(batch?.jobs.map((job) => [job.id, job])) : undefined;
    const rows = [...failures].map(([id, error]) => {
      const job = jobs?.get(id);
      const attempt = job?.attempt ?? 1;
      return {
        id: String(id),
        xid: String(job?.transactionId),
        attempt,
        error,
        delay_ms: retryDelay(options.backoff, attempt),
        dead: attempt >= options.maxAttempts,
      };
    });
    const { rows: result } = await pool.query(queries.consumerCommit, [
      options.name,
      term.epoch,
      progress.snapshot,
      progress.window,
      progress.afterXid,
      progress.afterId,
      JSON.stringify(rows),
    ]);
    if (result[0].fenced === 0) throw new FencedError(options.name);
  };

  let writing: Promise<void> = Promise.resolve();
  let lastCommit = Date.now();
  let next = source.next();
  try {
    while (!term.stopping.aborted) {
      const batch = await next;
      const due = watch.observe(batch.windowSnapshot);
      if (due.length > 0) reportLongTransactions(term, due);
      if (batch.jobs.length === 0) {
        if (Date.now() - lastCommit > idleProgressInterval) {
          await writing;
          writing = commit(batch.progress, new Map());
          writing.catch(() => undefined);
          lastCommit = Date.now();
        }
        await wakeup.wait(options.pollInterval, term.stopping);
        next = source.next();
        continue;
      }
      // Fetch ahead: the next page is read while the handler works on this one.
      next = source.next();
      next.catch(() => undefined);
      const started = performance.now();
      const result = await runHandler(term.handler, batch.jobs, options.handlerTimeout, term.abandon, options.logger);
      if (result.kind === "abandoned") break;
      // Outcomes commit in batch order; one may be in flight while the next batch is handled.
      await writing;
      writing = commit(batch.progress, result.failures, batch);
      writing.catch(() => undefined);
      lastCommit = Date.now();
      events.batch({ jobs: batch.jobs.length, failed: result.failures.size, ms: performance.now() - started });
    }
    await writing;
  } finally {
    next.catch(() => undefined);
    writing.catch(() => undefined);
    await promoter.stop();
    await wakeup.close();
  }
}

function reportLongTransactions(term: LeaderTerm, xids: bigint[]): void {
  describeTransactions(term.pool, xids).then(
    (found) => {
      for (const transaction of found) {
        term.options.logger.warn?.("a long-open transaction is holding back outbox progress", {
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

/** Moves due scheduled and failed jobs into immediate, every promoteInterval, until stopped. */
function promote(term: LeaderTerm): { stop(): Promise<void> } {
  const done = new AbortController();
  const loop = (async () => {
    while (!done.signal.aborted) {
      try {
        const { rows } = await term.pool.query(term.queries.jobsPromote, [1000]);
        // A full round means more are due: go again at once.
        if (rows[0].moved >= 1000) continue;
      } catch (error) {
        term.events.error(error as Error);
      }
      await sleep(term.options.promoteInterval, done.signal);
    }
  })();
  return {
    async stop() {
      done.abort();
      await loop;
    },
  };
}
