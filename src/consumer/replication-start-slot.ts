import { queryRows } from "../database/query-rows.js";
import { withConnection } from "../database/with-connection.js";
import { lsnToString } from "../replication/lsn.js";
import { dropSlot, slotState } from "../slots/slot-admin.js";
import { snapshotRead } from "../sources/polling-queries.js";
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
    const created = await connection.createSlot(slot, { failover: options.failoverSlot }).catch((error: Error) => {
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
  // The import fails when the walsender exporting the snapshot is gone; the connection is then
  // inside an aborted transaction, and withConnection closes it rather than give it back.
  return withConnection(term.pool, async (client) => {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ");
    await client.query(`SET TRANSACTION SNAPSHOT '${snapshotName.replace(/'/g, "")}'`);
    const [row] = await queryRows(client, snapshotRead);
    await client.query("COMMIT");
    return validSnapshot(row?.snapshot ?? "");
  });
}
