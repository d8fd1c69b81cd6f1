import { ProgressMismatchError } from "../core/errors.js";
import { queryRows } from "../database/query-rows.js";
import type { Queryable } from "../database/queryable.js";
import { lsnToString, parseLsn } from "../replication/lsn.js";
import { consumerProgressRead } from "./recovery-queries.js";
import { readServerPosition, type ServerPosition } from "./server-position.js";

/** A consumer's progress as stored in its row, in text as read. */
export interface StoredProgress {
  /** Polling progress snapshot (replication consumers keep one too). */
  readonly snapshot: string | null;
  /** The polling window (or a replication consumer's catch-up target), and the position in it. */
  readonly window: string | null;
  readonly afterXid: string | null;
  /** Replication: the acknowledged LSN, and the transaction split across batches. */
  readonly ackedLsn: string | null;
  readonly partialLsn: string | null;
  /** The cluster and timeline it was recorded on; null before it was first recorded. */
  readonly systemIdentifier: string | null;
  readonly timeline: number | null;
}

/**
 * Whether a consumer's stored progress can be resumed on this server. It cannot when it was
 * recorded on another cluster, or names a transaction id or WAL position the server has not
 * reached: a backup restored, a dump loaded into another cluster, a table copied. Resuming
 * would then treat jobs committed from now on as done (their ids are below the stored ones)
 * and, in replication mode, acknowledge WAL the consumer never read.
 *
 * Timelines only grow along a server's history: progress recorded on a timeline above the
 * server's own was recorded on another branch of history (a copy of a server that was promoted
 * later, say). A newer timeline than the stored one (a promoted standby, a point-in-time
 * recovery) is not a mismatch by itself: the consumers table is part of the database, so the
 * stored progress is what the server's own history holds, and the positions are checked as
 * always. Returns the error to stop with, or undefined.
 */
export function checkProgress(
  consumer: string,
  stored: StoredProgress,
  server: ServerPosition,
): ProgressMismatchError | undefined {
  const storedText = {
    snapshot: stored.snapshot,
    window: stored.window,
    ackedLsn: stored.ackedLsn,
    systemIdentifier: stored.systemIdentifier,
    timeline: stored.timeline === null ? null : String(stored.timeline),
  };
  const serverText = {
    nextTransactionId: String(server.nextXid),
    walLsn: lsnToString(server.walLsn),
    systemIdentifier: server.systemIdentifier,
    timeline: server.timeline === null ? null : String(server.timeline),
  };
  const mismatch = (reason: ProgressMismatchError["reason"], detail: string) =>
    new ProgressMismatchError(consumer, reason, detail, storedText, serverText);

  if (
    stored.systemIdentifier !== null &&
    server.systemIdentifier !== null &&
    stored.systemIdentifier !== server.systemIdentifier
  ) {
    return mismatch(
      "other-cluster",
      `it was recorded on the cluster with system identifier ${stored.systemIdentifier}, this is ${server.systemIdentifier} ` +
        "(a dump or copy loaded into another cluster, or a cluster rebuilt with initdb)",
    );
  }
  if (stored.timeline !== null && server.timeline !== null && stored.timeline > server.timeline) {
    return mismatch(
      "other-timeline",
      `it was recorded on timeline ${stored.timeline}, but this server is on timeline ${server.timeline}, ` +
        "so its history never went through that one (progress copied from a server on another branch of history)",
    );
  }
  for (const [name, snapshot] of [
    ["progress snapshot", stored.snapshot],
    ["window snapshot", stored.window],
  ] as const) {
    const xmax = snapshot === null ? undefined : snapshotXmax(snapshot);
    if (xmax !== undefined && xmax > server.nextXid) {
      return mismatch(
        "ahead",
        `its ${name} ${snapshot} reaches transaction id ${xmax - 1n}, but this server has assigned ids only up to ` +
          `${server.nextXid - 1n} (a restored backup, or a dump loaded into another cluster)`,
      );
    }
  }
  if (stored.window !== null && stored.afterXid !== null && BigInt(stored.afterXid) >= server.nextXid) {
    return mismatch(
      "ahead",
      `its position in the window, transaction id ${stored.afterXid}, has not been assigned by this server yet ` +
        `(next: ${server.nextXid})`,
    );
  }
  for (const [name, lsn] of [
    ["acknowledged WAL position", stored.ackedLsn],
    ["position in a split transaction", stored.partialLsn],
  ] as const) {
    if (lsn !== null && parseLsn(lsn) > server.walLsn) {
      return mismatch(
        "ahead",
        `its ${name} ${lsn} is past this server's WAL, which ends at ${lsnToString(server.walLsn)} ` +
          "(a restored backup, or progress copied from another server)",
      );
    }
  }
  return undefined;
}

/** The xmax of a snapshot's text `xmin:xmax:xip,...`, or undefined when it is not that form. */
function snapshotXmax(snapshot: string): bigint | undefined {
  const xmax = snapshot.split(":")[1];
  return xmax !== undefined && /^\d+$/.test(xmax) ? BigInt(xmax) : undefined;
}

/**
 * Reads a consumer's stored progress and checks it against the server `db` is connected to
 * (not inside a transaction): the mismatch, or undefined when it fits or there is no consumer.
 */
export async function storedProgressMismatch(
  db: Queryable,
  quotedSchema: string,
  consumer: string,
): Promise<ProgressMismatchError | undefined> {
  const [row] = await queryRows(db, consumerProgressRead(quotedSchema), [consumer]);
  if (!row) return undefined;
  return checkProgress(
    consumer,
    {
      snapshot: row.snapshot,
      window: row.window,
      afterXid: row.after_xid,
      ackedLsn: row.acked_lsn,
      partialLsn: row.partial_lsn,
      systemIdentifier: row.system_identifier,
      timeline: row.timeline === null ? null : Number(row.timeline),
    },
    await readServerPosition(db),
  );
}
