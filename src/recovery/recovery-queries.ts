import { epochMs } from "../database/epoch.js";
import { type Sql, sql } from "../database/query-rows.js";

/**
 * $1 consumer name. Deletes its progress row and its pending retries; `last` says whether no
 * other replication consumer is left in the schema (its publication can then go too).
 */
export function consumerRemove(quotedSchema: string): Sql<{ rows: number; failed: number; last: boolean }> {
  return sql(
    `WITH gone AS (DELETE FROM ${quotedSchema}.consumers WHERE name = $1 RETURNING 1),
          retries AS (DELETE FROM ${quotedSchema}.failed WHERE consumer = $1 RETURNING 1)
     SELECT (SELECT count(*) FROM gone)::int AS rows, (SELECT count(*) FROM retries)::int AS failed,
            NOT EXISTS (SELECT 1 FROM ${quotedSchema}.consumers WHERE mode = 'replication' AND name <> $1) AS last`,
  );
}

/**
 * Rows of `immediate` whose transaction_id this server has not assigned yet. The column's
 * default is the inserting transaction's id, so such a row was copied from another cluster:
 * a dump loaded, a table copied. Left alone, no consumer would see it until the server's own
 * ids caught up with it, at a time nobody can predict (never, for a replication consumer).
 */
export function futureRowsExist(quotedSchema: string): Sql<{ found: boolean }> {
  return sql(`SELECT EXISTS (SELECT 1 FROM ${quotedSchema}.immediate
                         WHERE transaction_id >= pg_snapshot_xmax(pg_current_snapshot())) AS found`);
}

/**
 * Makes such rows deliverable: each is re-inserted, with all its columns but transaction_id,
 * which becomes this statement's transaction. Every consumer then delivers it once (a
 * replication consumer gets it as a new insert), keeping its id, payload, attempts and times.
 */
export function futureRowsRestamp(quotedSchema: string): Sql<{ rows: number }> {
  const columns = "id, topic, key, retry, payload, headers, attempt, consumer, created_at, enqueued_at";
  return sql(`
    WITH moved AS (
      DELETE FROM ${quotedSchema}.immediate
      WHERE transaction_id >= pg_snapshot_xmax(pg_current_snapshot())
      RETURNING ${columns}
    ), inserted AS (
      INSERT INTO ${quotedSchema}.immediate (${columns}) SELECT ${columns} FROM moved RETURNING 1
    )
    SELECT count(*)::int AS rows FROM inserted`);
}

/** $1 consumer name. Its stored position, locked until the move commits. */
export function consumerPositionLock(quotedSchema: string): Sql<{
  mode: string;
  snapshot: string | null;
  window_snapshot: string | null;
  acked_lsn: string | null;
  system_identifier: string | null;
  timeline: number | null;
}> {
  return sql(
    `SELECT mode, snapshot::text AS snapshot, window_snapshot::text AS window_snapshot, acked_lsn::text AS acked_lsn,
            system_identifier, timeline
       FROM ${quotedSchema}.consumers WHERE name = $1 FOR UPDATE`,
  );
}

/**
 * $1 consumer name, $2 system identifier, $3 timeline, $4 the new progress snapshot (null: the
 * server's current one). Sets the consumer's progress, creating the consumer if need be, and
 * bumps its epoch so that a leader of the old position can commit nothing more.
 */
export function consumerPositionReset(quotedSchema: string): Sql<{ snapshot: string }> {
  return sql(
    `INSERT INTO ${quotedSchema}.consumers AS c (name, mode, snapshot, system_identifier, timeline)
     VALUES ($1, 'polling', coalesce($4::pg_snapshot, pg_current_snapshot()), $2, $3)
     ON CONFLICT (name) DO UPDATE
       SET snapshot = excluded.snapshot, window_snapshot = NULL, position_xid = NULL, position_id = NULL,
           acked_lsn = NULL, partial_lsn = NULL, partial_count = NULL,
           system_identifier = excluded.system_identifier, timeline = excluded.timeline,
           leader_epoch = c.leader_epoch + 1, updated_at = now()
     RETURNING snapshot::text AS snapshot`,
  );
}

/**
 * $1 a time. The oldest transaction that wrote a row of immediate at or after it (the rows'
 * created_at; partitions by that column keep the scan to the partitions from then on).
 * min() has no xid8 version before PostgreSQL 15, so the first row in transaction_id order
 * stands for it (one row, null when there is none, as min() gives).
 */
export function transactionSinceRead(quotedSchema: string): Sql<{ xid: string | null }> {
  return sql(
    `SELECT (SELECT transaction_id FROM ${quotedSchema}.immediate WHERE created_at >= $1::timestamptz
              ORDER BY transaction_id LIMIT 1)::text AS xid`,
  );
}

/**
 * $1 a job id. The transaction that first wrote it into immediate (a retry writes it again);
 * ordered rather than min(), for PostgreSQL 14 as above.
 */
export function transactionOfJobRead(quotedSchema: string): Sql<{ xid: string | null }> {
  return sql(
    `SELECT (SELECT transaction_id FROM ${quotedSchema}.immediate WHERE id = $1::bigint
              ORDER BY transaction_id LIMIT 1)::text AS xid`,
  );
}

/** $1 consumer, $2 target, $3 reason, $4 previous position (JSON), $5 new position (JSON). */
export function consumerMoveRecord(quotedSchema: string): Sql<{ moved_ms: string; moved_by: string }> {
  return sql(
    `INSERT INTO ${quotedSchema}.consumer_moves (consumer, target, reason, previous, position)
     VALUES ($1, $2, $3, $4::jsonb, $5::jsonb)
     RETURNING ${epochMs("moved_at")} AS moved_ms, moved_by`,
  );
}

/** $1 consumer name. Its stored progress, and the cluster and timeline it was recorded on. */
export function consumerProgressRead(quotedSchema: string): Sql<{
  snapshot: string | null;
  window: string | null;
  after_xid: string | null;
  acked_lsn: string | null;
  partial_lsn: string | null;
  system_identifier: string | null;
  timeline: number | null;
}> {
  return sql(
    `SELECT snapshot::text AS snapshot, window_snapshot::text AS window, position_xid::text AS after_xid,
            acked_lsn::text AS acked_lsn, partial_lsn::text AS partial_lsn, system_identifier, timeline
       FROM ${quotedSchema}.consumers WHERE name = $1`,
  );
}

/** The server's position: the next transaction id, and where WAL is being written. */
export const serverPositionRead = sql<{ next_xid: string; wal_lsn: string }>(
  "SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS next_xid, pg_current_wal_insert_lsn()::text AS wal_lsn",
);

// The server's identity, from functions a service may restrict or lack: each read on its own.
export const systemIdentifierRead = sql<{ value: string | null }>(
  "SELECT system_identifier::text AS value FROM pg_control_system()",
);

/** The current timeline: a WAL file's name starts with it, in 8 hex digits. */
export const timelineRead = sql<{ value: string | null }>(
  "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_insert_lsn()), 1, 8))::bit(32)::int::text AS value",
);
