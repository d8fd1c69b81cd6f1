import type pg from "pg";
import { replicationClient } from "../database/replication-client.js";
import { ReplicationConnection } from "../replication/replication-connection.js";
import { awaitSlotRelease } from "../slots/slot-admin.js";
import type { LeaderTerm } from "./polling-leader.js";
import { replicationError } from "./replication-error.js";

// How long a term's end waits for its walsender to exit and free the slot.
const slotReleaseTimeout = 5000;

/** A walsender connection made as the pool makes its clients; refusals no retry can fix become setup errors. */
export async function openReplication(pool: pg.Pool, slot: string): Promise<ReplicationConnection> {
  try {
    return await ReplicationConnection.open(replicationClient(pool));
  } catch (error) {
    throw replicationError(error as Error, slot);
  }
}

/**
 * Closes a walsender connection and waits until the server has released the slot, so that
 * once a term is over (and stop() has resolved) the slot is free: for removeConsumer, for the
 * next term's stream, for another process taking over. Best effort when the term ends because
 * the server is gone.
 */
export async function closeReplication(
  term: LeaderTerm,
  connection: ReplicationConnection,
  slot: string,
): Promise<void> {
  const pid = connection.pid;
  await connection.close();
  if (pid === null) return;
  const released = await awaitSlotRelease(term.pool, slot, pid, slotReleaseTimeout).catch(() => true);
  if (!released) {
    term.options.logger.warn?.("the walsender still holds the slot after its connection closed", {
      epoch: term.epoch,
      slot,
      pid,
    });
  }
}
