import { decodePgOutput } from "../replication/pgoutput.js";
import type { ReplicationConnection } from "../replication/replication-connection.js";
import { releaseSlot } from "../slots/slot-admin.js";
import { type ReplicationProgress, ReplicationSource } from "../sources/replication-source.js";
import type { LeaderTerm } from "./polling-leader.js";
import { replicationError } from "./replication-error.js";
import { statusInterval } from "./replication-status-interval.js";
import { openReplication } from "./replication-walsender.js";

// With nothing to deliver, the loop wakes this often to record idle progress.
const idleTimeout = 200;

/** A running stream from the slot into a source of batches. */
export interface SlotStream {
  readonly connection: ReplicationConnection;
  readonly source: ReplicationSource;
  /** Aborted, with the reason, once the stream can no longer deliver: the term must end. */
  readonly failed: AbortSignal;
  /** Settles (never rejects) once the server's stream is over. */
  readonly ended: Promise<void>;
}

/** Takes the slot over and streams it from `from` into a new source. */
export async function openStream(
  term: LeaderTerm,
  slot: string,
  publication: string,
  from: ReplicationProgress,
): Promise<SlotStream> {
  const { pool, options } = term;
  // This process holds the leader lock, so a walsender still on the slot serves a former
  // leader (paused, or cut off) that can no longer commit: end it rather than wait for
  // wal_sender_timeout.
  const ended = await releaseSlot(pool, slot);
  if (ended !== null) {
    options.logger.warn?.("ended the walsender of a former leader still holding the slot", {
      epoch: term.epoch,
      slot,
      pid: ended,
    });
  }
  const connection = await openReplication(pool, slot);
  const failed = new AbortController();
  connection.onError((error) => failed.abort(error));
  const interval = await statusInterval(connection, options.statusInterval);
  const source = new ReplicationSource(
    {
      schema: options.schema,
      consumer: options.name,
      batchSize: options.batchSize,
      maxBatchBytes: options.maxBatchBytes,
      flushDelay: options.flushDelay,
      idleTimeout,
      subscription: options.subscription,
    },
    from,
  );
  const streaming = connection
    .stream(slot, publication, from.ackedLsn, { data: receiver(connection, source, failed) }, interval)
    .then(
      () => failed.abort(new Error("the server ended the replication stream")),
      (error: Error) => failed.abort(replicationError(error, slot)),
    );
  return { connection, source, failed: failed.signal, ended: streaming };
}

/** Feeds each message of the stream to the source, pausing the socket while the source is full. */
function receiver(
  connection: ReplicationConnection,
  source: ReplicationSource,
  failed: AbortController,
): (bytes: Uint8Array) => void {
  return (bytes) => {
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
  };
}
