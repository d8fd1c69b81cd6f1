import { epochMs } from "../database/epoch.js";
import { type Sql, sql } from "../database/query-rows.js";

/**
 * The SQL of `status()`, for one schema (validated and quoted by the caller). Entity first,
 * verb second. Each reads committed rows only: they run in one read-only REPEATABLE READ
 * transaction, so the figures agree with each other.
 *
 * Counts are int8 and times epoch milliseconds (int8): neither's text depends on the session's
 * settings, where float8 follows extra_float_digits (-15 prints 12345 as "1e+04") and
 * timestamptz follows DateStyle and TimeZone.
 */

// What the statements return through the library's own types: int8 (counts, epochs, bytes)
// as text, int4 as numbers. Other connections may give numbers or bigints: every figure goes
// through Number() or BigInt().
export interface ConsumerRow {
  name: string;
  mode: "polling" | "replication";
  leader_id: string | null;
  leader_epoch: string;
  heartbeat_ms: string | null;
  snapshot: string | null;
  window_snapshot: string | null;
  position_xid: string | null;
  position_id: string | null;
  acked_lsn: string | null;
  ack_lag_bytes: string | null;
  pending_jobs: string | null;
  oldest_pending_ms: string | null;
  retrying: string;
  blocked_keys: string;
  waiting_behind_keys: string;
  dead_letters: string;
  held_outcomes: number;
  moved_ms: string | null;
  moved_by: string | null;
  move_target: string | null;
  move_reason: string | null;
}

export interface TablesRow {
  immediate: string;
  scheduled: string;
  scheduled_due: string;
  failed: string;
  failed_due: string;
  dead_letter: string;
  now_ms: string;
}

/**
 * $1: where to stop counting `immediate` (it keeps history until partitions are dropped, so a
 * full count could read millions of rows). Rows waiting in the other tables, and how many of
 * them are due now.
 */
export function tablesCount(quotedSchema: string): Sql<TablesRow> {
  return sql(`
    SELECT (SELECT count(*) FROM (SELECT FROM ${quotedSchema}.immediate LIMIT $1) i) AS immediate,
           (SELECT count(*) FROM ${quotedSchema}.scheduled) AS scheduled,
           (SELECT count(*) FROM ${quotedSchema}.scheduled WHERE run_at <= now()) AS scheduled_due,
           (SELECT count(*) FROM ${quotedSchema}.failed) AS failed,
           (SELECT count(*) FROM ${quotedSchema}.failed WHERE next_retry_at <= now()) AS failed_due,
           (SELECT count(*) FROM ${quotedSchema}.dead_letter) AS dead_letter,
           ${epochMs("now()")} AS now_ms`);
}

/**
 * One row per consumer with its stored progress and what is still pending for it.
 *
 * Pending: jobs for this consumer (for all, or a retry of its own) whose transaction is not
 * visible in its progress snapshot, less those of the window in hand it has passed, i.e. those
 * visible in the window snapshot up to (position_xid, position_id). Rows below the snapshot's
 * xmin are always visible in it, so the (transaction_id, id) index skips history. The count
 * costs in proportion to the backlog, not to the table.
 */
export function consumersRead(quotedSchema: string): Sql<ConsumerRow> {
  return sql(`
    SELECT c.name, c.mode, c.leader_id, c.leader_epoch::text AS leader_epoch,
           ${epochMs("c.heartbeat_at")} AS heartbeat_ms,
           c.snapshot::text AS snapshot, c.window_snapshot::text AS window_snapshot,
           c.position_xid::text AS position_xid, c.position_id::text AS position_id,
           c.acked_lsn::text AS acked_lsn,
           CASE WHEN c.acked_lsn IS NOT NULL AND NOT pg_is_in_recovery()
                THEN greatest(pg_wal_lsn_diff(pg_current_wal_lsn(), c.acked_lsn), 0)::int8 END AS ack_lag_bytes,
           CASE WHEN c.snapshot IS NOT NULL THEN pending.jobs END AS pending_jobs,
           ${epochMs("pending.oldest")} AS oldest_pending_ms,
           (SELECT count(*) FROM ${quotedSchema}.failed f
             WHERE f.consumer = c.name AND f.key_state IS DISTINCT FROM 'waiting') AS retrying,
           (SELECT count(DISTINCT f.key) FROM ${quotedSchema}.failed f
             WHERE f.consumer = c.name AND f.key_state IS NOT NULL) AS blocked_keys,
           (SELECT count(*) FROM ${quotedSchema}.failed f
             WHERE f.consumer = c.name AND f.key_state = 'waiting') AS waiting_behind_keys,
           (SELECT count(*) FROM ${quotedSchema}.dead_letter d WHERE d.consumer = c.name) AS dead_letters,
           coalesce(jsonb_array_length(c.held_outcomes), 0) AS held_outcomes,
           ${epochMs("move.moved_at")} AS moved_ms, move.moved_by, move.target AS move_target, move.reason AS move_reason
    FROM ${quotedSchema}.consumers c
    LEFT JOIN LATERAL (
      SELECT m.moved_at, m.moved_by, m.target, m.reason FROM ${quotedSchema}.consumer_moves m
      WHERE m.consumer = c.name ORDER BY m.moved_at DESC, m.id DESC LIMIT 1
    ) move ON true
    LEFT JOIN LATERAL (
      SELECT count(*) AS jobs, min(i.created_at) AS oldest
      FROM ${quotedSchema}.immediate i
      WHERE ${pendingFor("i", "c")}
    ) pending ON true
    ORDER BY c.name`);
}

/**
 * The condition that a row `i` of `immediate` is pending for the consumer row `c` (see
 * consumersRead): for it, and not shown as done by its progress snapshot or its window.
 */
export function pendingFor(i: string, c: string): string {
  return `${i}.transaction_id >= pg_snapshot_xmin(${c}.snapshot)
        AND NOT pg_visible_in_snapshot(${i}.transaction_id, ${c}.snapshot)
        AND (${i}.consumer IS NULL OR ${i}.consumer = ${c}.name)
        AND NOT (${c}.window_snapshot IS NOT NULL AND ${c}.position_xid IS NOT NULL
                 AND pg_visible_in_snapshot(${i}.transaction_id, ${c}.window_snapshot)
                 AND (${i}.transaction_id, ${i}.id) <= (${c}.position_xid, ${c}.position_id))`;
}
