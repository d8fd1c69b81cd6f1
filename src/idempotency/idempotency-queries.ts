import { type Sql, sql } from "../database/query-rows.js";

/**
 * The SQL that keeps idempotency keys: a key is held while its job is pending, which the
 * schema's `job_pending(job_id, transaction_id)` function judges from the key's row (see the
 * migration that creates it). Whatever moves a job back before consumers stamps its key with
 * its own transaction, so the job stays pending until every consumer has passed that move.
 */

/**
 * A CTE, `idempotency_restamp`, for a statement that has just put jobs back before consumers:
 * `moved` names an earlier CTE of the statement returning their ids.
 */
export function idempotencyKeysRestamp(quotedSchema: string, moved: string): string {
  return `idempotency_restamp AS (
        UPDATE ${quotedSchema}.idempotency_keys k SET transaction_id = pg_current_xact_id()
        WHERE k.job_id IN (SELECT id FROM ${moved}))`;
}

/**
 * Deletes the keys whose jobs are no longer pending, so the table holds about as many rows as
 * there are pending jobs with a key. A key taken over by a new job meanwhile is judged again
 * on its new row, and kept. First, keys stamped by another cluster (a restored or copied
 * database: transaction ids this server has not reached), which nothing could judge, get a
 * transaction id of this server: their jobs stay pending until every consumer passes it.
 */
export function idempotencyKeysRelease(quotedSchema: string): Sql<{ restamped: number; released: number }> {
  return sql(`
    WITH restamped AS (
      UPDATE ${quotedSchema}.idempotency_keys SET transaction_id = pg_current_xact_id()
      WHERE transaction_id >= pg_snapshot_xmax(pg_current_snapshot())
      RETURNING 1
    ), released AS (
      DELETE FROM ${quotedSchema}.idempotency_keys k
      WHERE NOT ${quotedSchema}.job_pending(k.job_id, k.transaction_id)
      RETURNING 1
    )
    SELECT (SELECT count(*) FROM restamped)::int AS restamped, (SELECT count(*) FROM released)::int AS released`);
}
