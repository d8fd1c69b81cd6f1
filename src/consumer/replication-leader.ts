import type pg from "pg";
import { SlotLostError } from "../core/errors.js";
import { connectListening } from "../database/connect.js";
import { queryRow, queryRows } from "../database/query-rows.js";
import { replicationClient } from "../database/replication-client.js";
import { lsnToString, parseLsn } from "../replication/lsn.js";
import { decodePgOutput } from "../replication/pgoutput.js";
import { ReplicationConnection } from "../replication/replication-connection.js";
import { publicationName } from "../schema/server-names.js";
import {
  awaitSlotRelease,
  checkLogicalReplication,
  consumerSlot,
  dropSlot,
  ensurePublication,
  releaseSlot,
  slotState,
} from "../slots/slot-admin.js";
import { type ReplicatedBatch, type ReplicationProgress, ReplicationSource } from "../sources/replication-source.js";
import { validSnapshot } from "../sources/snapshot.js";
import { type BatchFlow, type FailureRow, failureRows, runBatches } from "./batch-loop.js";
import { commitOutcome } from "./commit-outcome.js";
import { FencedError } from "./leader-lock.js";
import { type LeaderTerm, leadPolling, outcomeWriting } from "./polling-leader.js";
import { replicationError } from "./replication-error.js";

/** The stored state of a replication consumer, as claimed. */
export interface ReplicationClaim {
  readonly ackedLsn: string | null;
  readonly partialLsn: string | null;
  readonly partialCount: number | null;
}

// How often an idle consumer records its advanced position and a passed snapshot.
const idleProgressInterval = 1000;
// How often a new (snapshot, WAL position) pair is taken to move the progress snapshot.
const snapshotPairInterval = 1000;
// How often the slot's state (and the WAL it retains) is reported.
const slotReportInterval = 10_000;
// With nothing to deliver, the loop wakes this often to record idle progress.
const idleTimeout = 200;
// How long a term's end waits for its walsender to exit and free the slot.
const slotReleaseTimeout = 5000;

/**
 * One term as leader of a replication consumer: make sure the publication and slot exist,
 * catch up by polling with what the slot cannot see (jobs committed before it was created),
 * then stream from the slot, committing each batch's outcome and acknowledging exactly what
 * is done.
 */
export async function leadReplication(term: LeaderTerm, claim: ReplicationClaim): Promise<void> {
  const { pool, options, queries } = term;
  const slot = await consumerSlot(pool, options.schema, options.name);
  const publication = publicationName(options.schema);
  await checkLogicalReplication(pool);
  await ensurePublication(pool, options.quotedSchema, publication);

  let ackedLsn = claim.ackedLsn === null ? null : parseLsn(claim.ackedLsn);
  let partial = { lsn: claim.partialLsn === null ? null : parseLsn(claim.partialLsn), count: claim.partialCount ?? 0 };
  if (ackedLsn !== null) {
    const state = await slotState(pool, slot);
    const lost = !state ? "does not exist (dropped?)" : state.walStatus === "lost" ? "was invalidated" : undefined;
    if (lost !== undefined) {
      if (options.slotLost === "fail") throw new SlotLostError(slot, lost);
      // Configured to recover: the progress snapshot says which jobs are surely done, so a
      // new slot plus a catch-up by polling from that snapshot loses nothing (jobs done
      // after the snapshot was recorded are delivered again).
      options.logger.warn?.("replication slot lost; catching up by polling from the progress snapshot", {
        slot,
        reason: lost,
      });
      ackedLsn = null;
    }
  }
  let catchUp = term.progress;
  if (ackedLsn === null) {
    const started = await startSlot(term, slot);
    ackedLsn = started.consistentPoint;
    partial = { lsn: null, count: 0 };
    catchUp = { ...term.progress, window: started.snapshot, afterXid: "0", afterId: "0" };
  }

  // A stored window in replication mode is the snapshot the slot started from: every job it
  // shows and the consumer's snapshot does not was committed before the slot existed.
  if (catchUp.window !== null) {
    await leadPolling({ ...term, progress: catchUp, until: catchUp.window });
    if (term.stopping.aborted) return;
  }

  // This process holds the leader lock, so a walsender still on the slot serves a former
  // leader (paused, or cut off) that can no longer commit: end it rather than wait for
  // wal_sender_timeout.
  const ended = await releaseSlot(pool, slot);
  if (ended !== null) {
    options.logger.warn?.("ended the walsender of a former leader still holding the slot", { slot, pid: ended });
  }
  const connection = await openReplication(pool, slot);
  const failed = new AbortController();
  connection.onError((error) => failed.abort(error));
  // While the socket is paused for backpressure the server's keepalive requests go unread, so
  // only the status timer keeps the walsender alive: it must fire well inside the timeout.
  const senderTimeout = parseDuration(
    String((await connection.command("SHOW wal_sender_timeout"))[0]?.wal_sender_timeout),
  );
  const statusInterval =
    senderTimeout > 0
      ? Math.max(10, Math.min(options.statusInterval, Math.floor(senderTimeout / 4)))
      : options.statusInterval;
  const from: ReplicationProgress = { ackedLsn, partialLsn: partial.lsn, partialCount: partial.count };
  const source = new ReplicationSource(
    {
      schema: options.schema,
      consumer: options.name,
      batchSize: options.batchSize,
      maxBatchBytes: options.maxBatchBytes,
      flushDelay: options.flushDelay,
      idleTimeout,
    },
    from,
  );
  const streaming = connection
    .stream(
      slot,
      publication,
      ackedLsn,
      {
        data: (bytes) => {
          if (failed.signal.aborted) return;
          try {
            source.push(decodePgOutput(bytes));
          } catch (error) {
            // Bytes that do not decode: nothing after them can be trusted. End the term (the
            // consumer reconnects from its acknowledged position); never skip them.
            failed.abort(error);
            void connection.close();
            return;
          }
          if (source.full) connection.pause();
        },
      },
      statusInterval,
    )
    .then(
      () => failed.abort(new Error("the server ended the replication stream")),
      (error: Error) => failed.abort(replicationError(error, slot)),
    );

  let committed = from;
  let handedOut = from;
  let lastCommit = Date.now();
  const snapshots = new SnapshotPairs(pool);
  const commit = async (progress: ReplicationProgress, failures: readonly FailureRow[]) => {
    const passed = snapshots.passedBy(progress.ackedLsn);
    await commitOutcome({
      ...outcomeWriting(term),
      failures,
      progress: (db, failed, held) =>
        queryRow(db, queries.consumerCommitReplication, [
          options.name,
          term.epoch,
          lsnToString(progress.ackedLsn),
          progress.partialLsn === null ? null : lsnToString(progress.partialLsn),
          progress.partialCount,
          passed ?? null,
          failed,
          held,
        ]),
    });
    committed = progress;
    lastCommit = Date.now();
    connection.confirm(progress.ackedLsn);
    await snapshots.refresh();
  };
  const stopping = AbortSignal.any([term.stopping, failed.signal]);
  const flow: BatchFlow<ReplicatedBatch> = {
    next: async () => {
      const batch = await source.next(stopping);
      if (!source.full) connection.resume();
      handedOut = batch.progress;
      return batch;
    },
    commit: (batch, failures) => commit(batch.progress, failureRows(batch.jobs, failures, options)),
    idle: async (batch) => {
      let progress = batch.progress;
      // Nothing queued, nothing half received, nothing in the handler: everything the server
      // has sent is done, so the slot may move to the server's position. An idle outbox then
      // never pins WAL, however much other tables write.
      if (sameProgress(committed, handedOut) && connection.serverEnd > progress.ackedLsn) {
        progress = source.advance(connection.serverEnd);
        handedOut = progress;
      }
      if (progress.ackedLsn !== committed.ackedLsn && Date.now() - lastCommit > idleProgressInterval) {
        await commit(progress, []);
      }
    },
  };
  const reportSlot = setInterval(() => {
    slotState(pool, slot).then(
      (state) => state && term.events.slot({ name: slot, ...state }),
      (error: Error) => term.events.error(error),
    );
  }, slotReportInterval);
  reportSlot.unref();
  try {
    await runBatches(
      { handler: term.handler, options, stopping, abandon: term.abandon, onBatch: term.events.batch },
      flow,
    );
    if (failed.signal.aborted && !term.stopping.aborted) throw failed.signal.reason;
  } finally {
    clearInterval(reportSlot);
    await closeReplication(term, connection, slot);
    await streaming;
  }
}

function sameProgress(a: ReplicationProgress, b: ReplicationProgress): boolean {
  return a.ackedLsn === b.ackedLsn && a.partialLsn === b.partialLsn && a.partialCount === b.partialCount;
}

/**
 * Keeps the replication consumer's progress snapshot, the one model of progress that polling,
 * partition maintenance and status share. A pair (snapshot S, WAL insert position W) read in
 * one statement says: every transaction visible in S committed before W. So once the
 * acknowledged LSN reaches W, every job visible in S is done and S may be recorded.
 */
class SnapshotPairs {
  readonly #pool: pg.Pool;
  #pending: { readonly snapshot: string; readonly lsn: bigint } | undefined;
  #takenAt = 0;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  /** The pending snapshot if `acked` has passed its WAL position (then it is consumed). */
  passedBy(acked: bigint): string | undefined {
    const pending = this.#pending;
    if (!pending || acked < pending.lsn) return undefined;
    this.#pending = undefined;
    return pending.snapshot;
  }

  /** Takes a new pair when none is pending and the last was taken over a second ago. */
  async refresh(): Promise<void> {
    if (this.#pending || Date.now() - this.#takenAt < snapshotPairInterval) return;
    this.#takenAt = Date.now();
    const { rows } = await this.#pool.query(
      "SELECT pg_current_snapshot()::text AS snapshot, pg_current_wal_insert_lsn()::text AS lsn",
    );
    this.#pending = { snapshot: rows[0].snapshot, lsn: parseLsn(rows[0].lsn) };
  }
}

/** Creates the slot and reads, in the snapshot it exported, where the catch-up must end. */
async function startSlot(term: LeaderTerm, slot: string): Promise<{ consistentPoint: bigint; snapshot: string }> {
  const { pool, options, queries } = term;
  const existing = await slotState(pool, slot);
  // A slot with no recorded start was created by a run that died before recording it:
  // nothing was consumed from it, so starting over loses nothing.
  if (existing) await dropSlot(pool, slot);
  const connection = await openReplication(pool, slot);
  // The walsender holds the new slot while its snapshot is exported. If it is cut meanwhile
  // (terminated, network), pg emits `error` on an idle client, and with no listener that
  // would crash the process; with one, the failure reaches this start through the query in
  // flight, or through the import of the snapshot, which dies with the walsender.
  connection.onError(() => {});
  try {
    const created = await connection.createSlot(slot).catch((error: Error) => {
      throw replicationError(error, slot);
    });
    // Errors reach this start through its queries; the listener only keeps an error event
    // (a walsender or backend cut meanwhile) from ending the process.
    const ignore = () => {};
    const client = await connectListening(pool, ignore);
    let snapshot: string;
    let broken: Error | undefined;
    try {
      await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ");
      await client.query(`SET TRANSACTION SNAPSHOT '${created.snapshotName.replace(/'/g, "")}'`);
      const { rows } = await client.query("SELECT pg_current_snapshot()::text AS snapshot");
      await client.query("COMMIT");
      snapshot = validSnapshot(rows[0].snapshot);
    } catch (error) {
      // The import fails when the walsender exporting the snapshot is gone; the connection is
      // then inside an aborted transaction and must not go back to the caller's pool.
      broken = error instanceof Error ? error : new Error(String(error));
      throw error;
    } finally {
      if (!broken) client.off("error", ignore);
      client.release(broken);
    }
    const rows = await queryRows(pool, queries.consumerStartSlot, [
      options.name,
      term.epoch,
      lsnToString(created.consistentPoint),
      snapshot,
    ]);
    if (rows.length === 0) throw new FencedError(options.name);
    return { consistentPoint: created.consistentPoint, snapshot };
  } finally {
    await closeReplication(term, connection, slot);
  }
}

/**
 * Closes a walsender connection and waits until the server has released the slot, so that
 * once a term is over (and stop() has resolved) the slot is free: for removeConsumer, for the
 * next term's stream, for another process taking over. Best effort when the term ends because
 * the server is gone.
 */
async function closeReplication(term: LeaderTerm, connection: ReplicationConnection, slot: string): Promise<void> {
  const pid = connection.pid;
  await connection.close();
  if (pid === null) return;
  const released = await awaitSlotRelease(term.pool, slot, pid, slotReleaseTimeout).catch(() => true);
  if (!released) {
    term.options.logger.warn?.("the walsender still holds the slot after its connection closed", { slot, pid });
  }
}

/** A PostgreSQL time setting as SHOW prints it (`60s`, `500ms`, `1min`, `0`), in ms. */
export function parseDuration(text: string): number {
  const match = /^(\d+)\s*(us|ms|s|min|h|d)?$/.exec(text.trim());
  if (!match) return 0;
  const unit = { us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] ?? "ms"] ?? 1;
  return Number(match[1]) * unit;
}

/** A walsender connection made as the pool makes its clients; refusals no retry can fix become setup errors. */
async function openReplication(pool: pg.Pool, slot: string): Promise<ReplicationConnection> {
  try {
    return await ReplicationConnection.open(replicationClient(pool));
  } catch (error) {
    throw replicationError(error as Error, slot);
  }
}
