import { queryRow } from "../database/query-rows.js";
import type { Queryable } from "../database/queryable.js";
import { sqlStateOf, sqlStates } from "../database/sql-state.js";

/**
 * Rows of `immediate` whose transaction_id this server has not assigned yet. The column's
 * default is the inserting transaction's id, so such a row was copied from another cluster:
 * a dump loaded, a table copied. Left alone, no consumer would see it until the server's own
 * ids caught up with it, at a time nobody can predict (never, for a replication consumer).
 */
export function futureRowsExist(quotedSchema: string): string {
  return `SELECT EXISTS (SELECT 1 FROM ${quotedSchema}.immediate
                         WHERE transaction_id >= pg_snapshot_xmax(pg_current_snapshot())) AS found`;
}

/**
 * Makes such rows deliverable: each is re-inserted, with all its columns but transaction_id,
 * which becomes this statement's transaction. Every consumer then delivers it once (a
 * replication consumer gets it as a new insert), keeping its id, payload, attempts and times.
 */
export function futureRowsRestamp(quotedSchema: string): string {
  const columns = "id, topic, payload, headers, attempt, consumer, created_at, enqueued_at";
  return `
    WITH moved AS (
      DELETE FROM ${quotedSchema}.immediate
      WHERE transaction_id >= pg_snapshot_xmax(pg_current_snapshot())
      RETURNING ${columns}
    ), inserted AS (
      INSERT INTO ${quotedSchema}.immediate (${columns}) SELECT ${columns} FROM moved RETURNING 1
    )
    SELECT count(*)::int AS rows FROM inserted`;
}

/** What restampFutureRows found and did. */
export interface RestampResult {
  /** Rows re-inserted with a transaction id of this server. */
  readonly rows: number;
  /** Set when such rows exist but could not be re-inserted (the role may not delete from immediate). */
  readonly refused?: Error;
}

/**
 * Re-inserts the rows of `immediate` whose transaction ids come from another cluster (see
 * futureRowsExist), so that they are delivered now. Cheap when there are none: one index probe
 * per partition. Must not run inside the caller's transaction (a refusal is reported, not thrown).
 */
export async function restampFutureRows(db: Queryable, quotedSchema: string): Promise<RestampResult> {
  const { found } = await queryRow<{ found: boolean }>(db, futureRowsExist(quotedSchema));
  if (!found) return { rows: 0 };
  try {
    const { rows } = await queryRow<{ rows: number }>(db, futureRowsRestamp(quotedSchema));
    return { rows: Number(rows) };
  } catch (error) {
    // A consumer's role may insert and read only: say so, and let the consumer go on with the
    // rest; the rows wait for someone who may (moveConsumer, or the table's owner).
    if (sqlStateOf(db, error) === sqlStates.insufficientPrivilege) return { rows: 0, refused: error as Error };
    throw error;
  }
}
