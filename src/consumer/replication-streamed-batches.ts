import type { JobId } from "../core/job-id.js";
import { queryRow } from "../database/query-rows.js";
import { lsnToString } from "../replication/lsn.js";
import type { ReplicatedBatch, ReplicationProgress } from "../sources/replication-source.js";
import { type BatchFlow, type FailureRow, failureRows } from "./batch-loop.js";
import { commitOutcome } from "./commit-outcome.js";
import type { FailedJob } from "./job-outcome.js";
import { type LeaderTerm, outcomeWriting } from "./polling-leader.js";
import { SnapshotPairs } from "./replication-snapshot-pairs.js";
import type { SlotStream } from "./replication-stream.js";

// How often an idle consumer records its advanced position and a passed snapshot.
const idleProgressInterval = 1000;

/**
 * The batches of a term's stream, and the acknowledgement of what is done. Both the progress
 * handed out and the progress committed are kept: the slot moves only past what is committed,
 * and may skip ahead to the server's position only when nothing handed out is still pending.
 */
export class StreamedBatches implements BatchFlow<ReplicatedBatch> {
  readonly #term: LeaderTerm;
  readonly #stream: SlotStream;
  readonly #stopping: AbortSignal;
  readonly #snapshots: SnapshotPairs;
  #committed: ReplicationProgress;
  #handedOut: ReplicationProgress;
  #lastCommit = Date.now();

  constructor(term: LeaderTerm, stream: SlotStream, from: ReplicationProgress, stopping: AbortSignal) {
    this.#term = term;
    this.#stream = stream;
    this.#stopping = stopping;
    this.#committed = from;
    this.#handedOut = from;
    this.#snapshots = new SnapshotPairs(term.pool);
  }

  async next(): Promise<ReplicatedBatch> {
    const { source, connection } = this.#stream;
    const batch = await source.next(this.#stopping);
    if (!source.full) connection.resume();
    this.#handedOut = batch.progress;
    return batch;
  }

  commit(batch: ReplicatedBatch, failures: ReadonlyMap<JobId, FailedJob>): Promise<void> {
    return this.#commit(batch.progress, failureRows(batch.jobs, failures, this.#term.options));
  }

  async idle(batch: ReplicatedBatch): Promise<void> {
    const { source, connection } = this.#stream;
    let progress = batch.progress;
    // Nothing queued, nothing half received, nothing in the handler: everything the server
    // has sent is done, so the slot may move to the server's position. An idle outbox then
    // never pins WAL, however much other tables write.
    if (sameProgress(this.#committed, this.#handedOut) && connection.serverEnd > progress.ackedLsn) {
      progress = source.advance(connection.serverEnd);
      this.#handedOut = progress;
    }
    if (progress.ackedLsn !== this.#committed.ackedLsn && Date.now() - this.#lastCommit > idleProgressInterval) {
      await this.#commit(progress, []);
    }
  }

  async #commit(progress: ReplicationProgress, failures: readonly FailureRow[]): Promise<void> {
    const term = this.#term;
    const { options, queries } = term;
    const passed = this.#snapshots.passedBy(progress.ackedLsn);
    await commitOutcome({
      ...outcomeWriting(term),
      failures,
      progress: (db, failed, held) => {
        const position = [
          options.name,
          term.epoch,
          lsnToString(progress.ackedLsn),
          progress.partialLsn === null ? null : lsnToString(progress.partialLsn),
          progress.partialCount,
          passed ?? null,
        ];
        return failed === "[]" && held === "[]"
          ? queryRow(db, queries.consumerAdvanceReplication, position)
          : queryRow(db, queries.consumerCommitReplication, [...position, failed, held]);
      },
    });
    this.#committed = progress;
    this.#lastCommit = Date.now();
    this.#stream.connection.confirm(progress.ackedLsn);
    await this.#snapshots.refresh();
  }
}

function sameProgress(a: ReplicationProgress, b: ReplicationProgress): boolean {
  return a.ackedLsn === b.ackedLsn && a.partialLsn === b.partialLsn && a.partialCount === b.partialCount;
}
