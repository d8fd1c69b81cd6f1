import { connectListening } from "../database/connect.js";
import { queryRows } from "../database/query-rows.js";
import { lsnToString } from "../replication/lsn.js";
import { dropSlot, slotState } from "../slots/slot-admin.js";
import { validSnapshot } from "../sources/snapshot.js";
import { FencedError } from "./leader-lock.js";
import type { LeaderTerm } from "./polling-leader.js";
import { replicationError } from "./replication-error.js";
import { closeReplication, openReplication } from "./replication-walsender.js";

/** Where a new slot starts: it streams what commits after the point; the snapshot shows the rest. */
export interface StartedSlot {
  readonly consistentPoint: bigint;
  readonly snapshot: string;
}

/** Creates the slot and reads, in the snapshot it exported, where the catch-up must end. */
export async function startSlot(term: LeaderTerm, slot: string): Promise<StartedSlot> {
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
    const snapshot = await importedSnapshot(term, created.snapshotName);
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

/** The exported snapshot as pg_current_snapshot() prints it, read while its walsender still holds it. */
async function importedSnapshot(term: LeaderTerm, snapshotName: string): Promise<string> {
  // Errors reach this start through its queries; the listener only keeps an error event
  // (a walsender or backend cut meanwhile) from ending the process.
  const ignore = () => {};
  const client = await connectListening(term.pool, ignore);
  let broken: Error | undefined;
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ");
    await client.query(`SET TRANSACTION SNAPSHOT '${snapshotName.replace(/'/g, "")}'`);
    const { rows } = await client.query("SELECT pg_current_snapshot()::text AS snapshot");
    await client.query("COMMIT");
    return validSnapshot(rows[0].snapshot);
  } catch (error) {
    // The import fails when the walsender exporting the snapshot is gone; the connection is
    // then inside an aborted transaction and must not go back to the caller's pool.
    broken = error instanceof Error ? error : new Error(String(error));
    throw error;
  } finally {
    if (!broken) client.off("error", ignore);
    client.release(broken);
  }
}
