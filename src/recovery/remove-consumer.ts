import { PoutboxError } from "../core/errors.js";
import { advisoryLockHolder } from "../database/advisory-locks.js";
import { queryRow } from "../database/query-rows.js";
import type { Queryable } from "../database/queryable.js";
import { resolveSchema } from "../schema/schema-name.js";
import { leaderLockKey, publicationName } from "../schema/server-names.js";
import { consumerSlot, dropSlot, slotState } from "../slots/slot-admin.js";
import type { ConsumerSelection } from "../slots/slot-status.js";

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
  const result = await queryRow<{ rows: number; failed: number; last: boolean }>(
    db,
    `WITH gone AS (DELETE FROM ${quotedSchema}.consumers WHERE name = $1 RETURNING 1),
          retries AS (DELETE FROM ${quotedSchema}.failed WHERE consumer = $1 RETURNING 1)
     SELECT (SELECT count(*) FROM gone)::int AS rows, (SELECT count(*) FROM retries)::int AS failed,
            NOT EXISTS (SELECT 1 FROM ${quotedSchema}.consumers WHERE mode = 'replication' AND name <> $1) AS last`,
    [consumer],
  );
  let droppedPublication = false;
  if (result.last) {
    const publication = publicationName(schema);
    const { rows: found } = await db.query("SELECT 1 FROM pg_publication WHERE pubname = $1", [publication]);
    if (found.length > 0) {
      await db.query(`DROP PUBLICATION IF EXISTS "${publication}"`);
      droppedPublication = true;
    }
  }
  return { row: result.rows > 0, slot: droppedSlot, publication: droppedPublication, failed: result.failed };
}
