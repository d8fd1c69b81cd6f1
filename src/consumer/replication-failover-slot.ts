import { checkFailoverSlots, releaseSlot, type SlotState } from "../slots/slot-admin.js";
import type { LeaderTerm } from "./polling-leader.js";
import { replicationError } from "./replication-error.js";
import { closeReplication, openReplication } from "./replication-walsender.js";

/**
 * With `failoverSlot`, makes a slot created without it (before the option was set) a failover
 * slot, so that standbys with sync_replication_slots start keeping a copy. The slot must be
 * free: this process leads, so a former leader's walsender still on it is ended first, as
 * openStream would.
 */
export async function ensureFailoverSlot(term: LeaderTerm, slot: string, state: SlotState): Promise<void> {
  const { pool, options } = term;
  if (!options.failoverSlot || state.failover) return;
  await checkFailoverSlots(pool);
  await releaseSlot(pool, slot);
  const connection = await openReplication(pool, slot);
  connection.onError(() => {});
  try {
    await connection.setFailover(slot, true).catch((error: Error) => {
      throw replicationError(error, slot);
    });
  } finally {
    await closeReplication(term, connection, slot);
  }
  options.logger.info?.("the replication slot is now a failover slot", { epoch: term.epoch, slot });
}
