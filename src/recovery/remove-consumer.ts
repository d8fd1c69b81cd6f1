import { PoutboxError } from "../core/errors.js";
import { advisoryLockHolder } from "../database/advisory-locks.js";
import { queryRow, queryRows } from "../database/query-rows.js";
import type { Queryable } from "../database/queryable.js";
import { resolveSchema } from "../schema/schema-name.js";
import { leaderLockKey, publicationName } from "../schema/server-names.js";
import { consumerSlot, dropSlot, slotState } from "../slots/slot-admin.js";
import { publicationDrop, publicationFind } from "../slots/slot-queries.js";
import type { ConsumerSelection } from "../slots/slot-status.js";
import { consumerRemove } from "./recovery-queries.js";

export interface RemovedConsumer {
  /** The consumer's row existed and was deleted. */
  readonly row: boolean;
  /** Its replication slot existed and was dropped. */
  readonly slot: boolean;
  /** The schema's publication was dropped, no replication consumer being left. */
  readonly publication: boolean;
  /** Failed jobs waiting for a retry by this consumer, deleted with it. */
  readonly failed: number;
}

/**
 * Removes a consumer for good: its progress row, its pending retries, and for a replication
 * consumer its slot (which otherwise keeps WAL forever) and, when it was the schema's last,
 * the publication. Its dead letters stay until purged. Refuses while the consumer runs (a
 * process holds its leader lock or its slot).
 * Maintenance never does this by itself: a consumer that is merely down keeps its place.
 */
export async function removeConsumer(db: Queryable, selection: ConsumerSelection = {}): Promise<RemovedConsumer> {
  const { schema, quotedSchema } = resolveSchema(selection.schema);
  const consumer = selection.consumer ?? "default";
  // A polling consumer has no slot to show that it runs; its leader lock does. Removing the row
  // under a running leader would make it start over from the first job.
  const leaderPid = await advisoryLockHolder(db, leaderLockKey(schema, consumer));
  if (leaderPid !== null) {
    throw new PoutboxError(
      "CONSUMER_ACTIVE",
      `consumer "${consumer}" is running (process ${leaderPid} holds its leader lock); stop it first`,
    );
  }
  const slot = await consumerSlot(db, schema, consumer);
  const state = await slotState(db, slot);
  if (state?.active) {
    throw new PoutboxError(
      "CONSUMER_ACTIVE",
      `consumer "${consumer}" is running (its slot ${slot} is in use by process ${state.activePid}); stop it first`,
    );
  }
  const droppedSlot = state ? await dropSlot(db, slot) : false;
  const result = await queryRow(db, consumerRemove(quotedSchema), [consumer]);
  let droppedPublication = false;
  if (result.last) {
    const publication = publicationName(schema);
    if ((await queryRows(db, publicationFind, [publication])).length > 0) {
      await db.query(publicationDrop(publication));
      droppedPublication = true;
    }
  }
  return { row: result.rows > 0, slot: droppedSlot, publication: droppedPublication, failed: result.failed };
}
