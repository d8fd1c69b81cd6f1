import { type Sql, sql } from "../database/query-rows.js";
import { idempotencyKeysRestamp } from "../idempotency/idempotency-queries.js";
import { keyQueueRelease } from "../keys/key-queue-queries.js";
import { preparedSql as prepared } from "../schema/server-names.js";

/** What a commit statement (consumerCommit, consumerCommitReplication) returns. */
export interface CommitResult {
  /** 1 when progress and failures were written, 0 when nothing was. */
  readonly written: number;
  /** Failed jobs whose immediate row the statement did not see. */
  readonly missing: number;
  /** The stored epoch is still the one this process claimed. */
  readonly leading: boolean;
}

/** What consumerClaim returns: the new epoch and the stored progress, as text. */
export interface ClaimedRow {
  epoch: string;
  acked_lsn: string | null;
  partial_lsn: string | null;
  partial_count: number | null;
  snapshot: string;
  window: string | null;
  after_xid: string | null;
  after_id: string | null;
  system_identifier: string | null;
  timeline: number | null;
  held_outcomes: string | null;
}

/** The SQL a consumer runs besides reading jobs, for one schema. Entity first, then verb. */
export interface ConsumerQueries {
  /**
   * $1 name, $2 leader id, $3 mode, $4 the snapshot a new consumer starts from (null: the
   * oldest job there is). Bumps
   * the leader epoch; returns it, the stored progress, the cluster and timeline it was
   * recorded on, and the held outcomes.
   */
  readonly consumerClaim: Sql<ClaimedRow>;
  /** $1 name, $2 epoch, $3 system identifier, $4 timeline: where this term's progress is recorded. */
  readonly consumerIdentify: Sql<Record<string, never>>;
  /**
   * $1 name, $2 epoch, $3..$6 progress, $7 failures as JSON, $8 outcomes to hold as JSON.
   * Returns `written` (1, or 0 when nothing was), `missing` (failed jobs whose row was not
   * found) and `leading` (the epoch is still the caller's); see recordFailures.
   */
  readonly consumerCommit: Sql<CommitResult>;
  /**
   * consumerCommit for a batch without failures: $1 name, $2 epoch, $3..$6 progress. It reads
   * no job, so it is cheaper, and waits for no lock on a partition of `immediate` (VACUUM FULL
   * or CLUSTER of one would otherwise hold an idle consumer's commits back).
   */
  readonly consumerAdvance: Sql<CommitResult>;
  /**
   * Replication: $1 name, $2 epoch, $3 acked LSN, $4 partial LSN, $5 partial count, $6 a
   * progress snapshot now known to be passed (or null), $7 failures as JSON, $8 outcomes to
   * hold as JSON. Returns `written`, `missing` and `leading` as consumerCommit does.
   */
  readonly consumerCommitReplication: Sql<CommitResult>;
  /** consumerCommitReplication for a batch without failures: $1 name, $2 epoch, $3..$6 as there. */
  readonly consumerAdvanceReplication: Sql<CommitResult>;
  /**
   * Replication: $1 name, $2 epoch, $3 acked LSN, $4 catch-up window. Records a new slot's
   * starting point, and the snapshot up to which polling must catch up first.
   */
  readonly consumerStartSlot: Sql<Record<string, unknown>>;
  /**
   * $1 name, $2 failures as JSON (one, in practice). Writes their `failed` or `dead_letter`
   * rows without touching progress, inside the caller's transaction; returns `written`.
   */
  readonly outcomesWrite: Sql<{ written: number }>;
  /**
   * $1 name, $2 epoch, $3 one held outcome as a JSON array. Writes it and removes it from the
   * consumer's held outcomes, if its job's row is found and the epoch is still the caller's.
   * Returns `written` and `leading`.
   */
  readonly heldOutcomeWrite: Sql<{ written: number; leading: boolean }>;
  /** $1 how many rows at most. Returns how many jobs moved into immediate. */
  readonly jobsPromote: Sql<{ moved: number }>;
  /**
   * $1 name, $2 keys as a JSON array. The rows of those keys' queues: each key that has one is
   * blocked; a delivery of a job from its row's promoted_xid is the head's, moved back into
   * immediate to be delivered again.
   */
  readonly keyQueuesRead: Sql<{ key: string; id: string; state: string; promoted_xid: string | null }>;
  /**
   * $1 name. For a consumer without ordering: its key queues (left by an earlier run with
   * ordering) become plain retries, and the jobs waiting in them are due now. A head being
   * delivered is in immediate already and a dead one in dead_letter: their rows go. Returns
   * how many rows were released.
   */
  readonly keyQueuesDissolve: Sql<{ released: number }>;
}

const failureColumns =
  "id bigint, xid xid8, attempt int, error text, delay_ms bigint, dead boolean, queue text, ord int";

/**
 * The first CTE of an outcome write: failed jobs, each joined to its immediate row, from which
 * `failed` or `dead_letter` rows are copied (so payloads do not travel back to the server).
 * `failures` is a SQL expression of type json: a JSON array as failureRows makes it.
 *
 * A replication consumer can receive a transaction before its rows are visible to new
 * snapshots: the walsender sends it once its commit record is flushed, and the committing
 * backend leaves the list of running transactions only after that. A failed job found by
 * nobody would be silently dropped, so the progress update below requires every failure to
 * be found (see `missing`), and the caller tries again until they are.
 */
function failedJobs(quotedSchema: string, failures: string): string {
  return `
      WITH failure AS (
        SELECT i.id, i.topic, i.key, i.retry, i.payload, i.headers, i.created_at, coalesce(i.enqueued_at, i.created_at) AS enqueued_at,
               f.xid, f.attempt, f.error, f.delay_ms, f.dead, f.queue, f.ord,
               -- Whether a job of the same key earlier in this batch joins its key's queue: one
               -- pass over the batch (an EXISTS per row was quadratic in the batch's failures).
               i.key IS NOT NULL AND coalesce(bool_or(f.queue IN ('retry', 'wait', 'dead-block')) OVER (
                 PARTITION BY i.key ORDER BY f.ord ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), false) AS queued_ahead
        FROM json_to_recordset(${failures}) AS f(${failureColumns})
        JOIN ${quotedSchema}.immediate i ON i.transaction_id = f.xid AND i.id = f.id
      ), complete AS (
        SELECT (SELECT count(*) FROM failure) = json_array_length(${failures}) AS ok
      )`;
}

/**
 * CTEs `retry`, `dead` and `leave` that copy the `failure` rows into `failed` (retried after
 * their delay) or `dead_letter`, when `condition` holds, and keep the consumer's key queues
 * (see migration 6 and `queue` in FailureRow): a row joins its key's queue in batch order, so
 * `queued` follows the order the jobs were delivered in; a head that leaves its queue lets the
 * next row in it be delivered at once. `$1` is the consumer name.
 */
function failureInserts(quotedSchema: string, condition: string): string {
  return `      , retry AS (
        INSERT INTO ${quotedSchema}.failed AS t (id, consumer, topic, key, retry, payload, headers, attempt, last_error,
                                           created_at, enqueued_at, next_retry_at, key_state)
        SELECT id, $1, topic, key, retry, payload, headers, attempt, error, created_at, enqueued_at,
               CASE
                 -- Behind a queue, or behind a row this statement puts in one, a waiting row is
                 -- never due by time: the head's leaving makes it due. First in its queue (the
                 -- queue it was parked behind has gone meanwhile), it is due now.
                 -- (IS NOT DISTINCT FROM: a NULL queue, every failure of an unordered
                 -- consumer, must not go on to evaluate the subquery.)
                 WHEN queue IS NOT DISTINCT FROM 'wait' AND (
                   queued_ahead
                   OR EXISTS (SELECT 1 FROM ${quotedSchema}.failed q
                              WHERE q.consumer = $1 AND q.key = failure.key AND q.key_state IS NOT NULL AND q.id <> failure.id))
                 THEN 'infinity'::timestamptz
                 ELSE now() + delay_ms * interval '1 millisecond'
               END,
               CASE queue WHEN 'retry' THEN 'retry' WHEN 'wait' THEN 'waiting' WHEN 'dead-block' THEN 'dead' END
        FROM failure WHERE ((NOT dead AND queue IS DISTINCT FROM 'leave') OR queue = 'dead-block') AND ${condition}
          AND NOT EXISTS (${headTold(quotedSchema)})
        ORDER BY ord
        -- A job told to wait that is in the queue already (a duplicate delivery of its first row)
        -- keeps its place and state there.
        ON CONFLICT (consumer, id) DO UPDATE
          SET attempt = greatest(t.attempt, excluded.attempt),
              last_error = CASE WHEN excluded.key_state = 'waiting' THEN t.last_error ELSE excluded.last_error END,
              failed_at = CASE WHEN excluded.key_state = 'waiting' THEN t.failed_at ELSE now() END,
              next_retry_at = CASE WHEN excluded.key_state = 'waiting' THEN t.next_retry_at ELSE excluded.next_retry_at END,
              key_state = CASE WHEN excluded.key_state = 'waiting' THEN t.key_state ELSE excluded.key_state END
        RETURNING 1
      ), dead AS (
        INSERT INTO ${quotedSchema}.dead_letter AS t (id, consumer, topic, key, retry, payload, headers, attempts, last_error,
                                                created_at, enqueued_at, failed_at)
        SELECT id, $1, topic, key, retry, payload, headers, attempt, error, created_at, enqueued_at, now()
        FROM failure WHERE dead AND ${condition}
        ON CONFLICT (consumer, id) DO UPDATE
          SET attempts = greatest(t.attempts, excluded.attempts), last_error = excluded.last_error, dead_at = now()
        RETURNING 1
      ), rehead AS (
        -- The head itself told to wait: its delivery came before the promoter's transaction was
        -- visible to the consumer's read. Due again now, it is moved back once more.
        UPDATE ${quotedSchema}.failed t SET key_state = 'retry', next_retry_at = now()
        FROM failure WHERE EXISTS (${headTold(quotedSchema)}) AND t.consumer = $1 AND t.id = failure.id AND ${condition}
        RETURNING 1
      ), leave AS (
        DELETE FROM ${quotedSchema}.failed t USING failure
        WHERE failure.queue = 'leave' AND t.consumer = $1 AND t.id = failure.id AND t.key_state IS NOT NULL AND ${condition}
        RETURNING t.consumer, t.key, t.id
      ), released AS (
        ${keyQueueRelease(quotedSchema, "leave")}
      )`;
}

/** Whether `failure` is a job told to wait whose delivery was its key's head (see rehead). */
function headTold(quotedSchema: string): string {
  return `SELECT 1 FROM ${quotedSchema}.failed h
          WHERE failure.queue = 'wait' AND h.consumer = $1 AND h.id = failure.id
            AND h.key_state = 'delivering' AND h.promoted_xid = failure.xid`;
}

/**
 * After the `fence` CTE (the progress update, made only if `complete`): the CTEs that record
 * the failures, if the fence matched. `$1` is the consumer name, `$2` the epoch. Returns
 * `written` (0 when nothing was), `missing` (failed jobs whose row was not found) and
 * `leading` (the epoch is still this process's).
 */
function recordFailures(quotedSchema: string, failures: string): string {
  return `${failureInserts(quotedSchema, "EXISTS (SELECT 1 FROM fence)")}
      SELECT (SELECT count(*) FROM fence)::int AS written,
             json_array_length(${failures}) - (SELECT count(*) FROM failure)::int AS missing,
             EXISTS (SELECT 1 FROM ${quotedSchema}.consumers WHERE name = $1 AND leader_epoch = $2::bigint) AS leading`;
}

/** The update of held_outcomes that appends `$8` (usually an empty array: nothing to hold). */
const holdMore = `held_outcomes = CASE WHEN jsonb_array_length($8::jsonb) = 0 THEN held_outcomes
                                        ELSE coalesce(held_outcomes, '[]'::jsonb) || $8::jsonb END`;

export function consumerQueries(quotedSchema: string): ConsumerQueries {
  // What recordFailures returns, for a commit without failures after its `fence`.
  const advanced = `      SELECT (SELECT count(*) FROM fence)::int AS written, 0 AS missing,
             EXISTS (SELECT 1 FROM ${quotedSchema}.consumers WHERE name = $1 AND leader_epoch = $2::bigint) AS leading`;
  return {
    consumerClaim: sql(`
      INSERT INTO ${quotedSchema}.consumers AS c (name, mode, snapshot, leader_epoch, leader_id, heartbeat_at)
      -- A snapshot that shows no transaction as done (1:1:) delivers every job there is.
      VALUES ($1, $3, coalesce($4::pg_snapshot, '1:1:'::pg_snapshot), 1, $2, now())
      ON CONFLICT (name) DO UPDATE
        SET leader_epoch = c.leader_epoch + 1, leader_id = $2, mode = $3, heartbeat_at = now(), updated_at = now()
      RETURNING leader_epoch::text AS epoch, mode, snapshot::text AS snapshot, window_snapshot::text AS window,
                position_xid::text AS after_xid, position_id::text AS after_id, acked_lsn::text AS acked_lsn,
                partial_lsn::text AS partial_lsn, partial_count, system_identifier, timeline,
                held_outcomes::text AS held_outcomes`),

    consumerIdentify: sql(`
      UPDATE ${quotedSchema}.consumers SET system_identifier = $3, timeline = $4::int
      WHERE name = $1 AND leader_epoch = $2::bigint
        AND (system_identifier IS DISTINCT FROM $3 OR timeline IS DISTINCT FROM $4::int)`),

    // The statements run at every batch (or promotion) are prepared: parsing and planning the
    // commit took 1.4 ms of its 2 ms, more than the page query's whole execution.
    //
    // One statement, so one round trip and one atomic step: progress moves if and only if
    // the failures are recorded, and neither happens unless this process is still the
    // leader it was when it claimed the epoch (fencing). Failed jobs are copied from the
    // immediate row itself, found by the index on (transaction_id, id), so payloads do not
    // travel back to the server.
    consumerCommit: prepared(`${failedJobs(quotedSchema, "$7::json")}, fence AS (
        UPDATE ${quotedSchema}.consumers
        SET snapshot = $3::pg_snapshot, window_snapshot = $4::pg_snapshot,
            position_xid = $5::xid8, position_id = $6::bigint, heartbeat_at = now(), updated_at = now(), ${holdMore}
        WHERE name = $1 AND leader_epoch = $2::bigint AND (SELECT ok FROM complete)
        RETURNING 1
      )
${recordFailures(quotedSchema, "$7::json")}`),

    consumerAdvance: prepared(`
      WITH fence AS (
        UPDATE ${quotedSchema}.consumers
        SET snapshot = $3::pg_snapshot, window_snapshot = $4::pg_snapshot,
            position_xid = $5::xid8, position_id = $6::bigint, heartbeat_at = now(), updated_at = now()
        WHERE name = $1 AND leader_epoch = $2::bigint
        RETURNING 1
      )
${advanced}`),

    consumerAdvanceReplication: prepared(`
      WITH fence AS (
        UPDATE ${quotedSchema}.consumers
        SET acked_lsn = $3::pg_lsn, partial_lsn = $4::pg_lsn, partial_count = $5::int,
            snapshot = coalesce($6::pg_snapshot, snapshot), heartbeat_at = now(), updated_at = now()
        WHERE name = $1 AND leader_epoch = $2::bigint
        RETURNING 1
      )
${advanced}`),

    consumerCommitReplication: prepared(`${failedJobs(quotedSchema, "$7::json")}, fence AS (
        UPDATE ${quotedSchema}.consumers
        SET acked_lsn = $3::pg_lsn, partial_lsn = $4::pg_lsn, partial_count = $5::int,
            snapshot = coalesce($6::pg_snapshot, snapshot), heartbeat_at = now(), updated_at = now(), ${holdMore}
        WHERE name = $1 AND leader_epoch = $2::bigint AND (SELECT ok FROM complete)
        RETURNING 1
      )
${recordFailures(quotedSchema, "$7::json")}`),

    consumerStartSlot: sql(`
      UPDATE ${quotedSchema}.consumers
      SET mode = 'replication', acked_lsn = $3::pg_lsn, partial_lsn = NULL, partial_count = 0,
          window_snapshot = $4::pg_snapshot, position_xid = '0', position_id = 0, updated_at = now()
      WHERE name = $1 AND leader_epoch = $2::bigint
      RETURNING 1`),

    outcomesWrite: prepared(`${failedJobs(quotedSchema, "$2::json")}
${failureInserts(quotedSchema, "true")}
      SELECT (SELECT count(*) FROM retry)::int + (SELECT count(*) FROM dead)::int + (SELECT count(*) FROM rehead)::int
             + (SELECT count(*) FROM failure WHERE queue = 'leave' AND NOT dead)::int AS written`),

    // The held outcome leaves the list in the statement that writes it, so it is written once.
    heldOutcomeWrite: sql(`${failedJobs(quotedSchema, "$3::jsonb::json")}, fence AS (
        UPDATE ${quotedSchema}.consumers c
        SET held_outcomes = (SELECT jsonb_agg(held.entry) FROM jsonb_array_elements(c.held_outcomes) AS held(entry)
                             WHERE (held.entry ->> 'id')::bigint NOT IN (SELECT id FROM failure)),
            updated_at = now()
        WHERE name = $1 AND leader_epoch = $2::bigint AND (SELECT ok FROM complete)
        RETURNING 1
      )
${failureInserts(quotedSchema, "EXISTS (SELECT 1 FROM fence)")}
      SELECT (SELECT count(*) FROM fence)::int AS written,
             EXISTS (SELECT 1 FROM ${quotedSchema}.consumers WHERE name = $1 AND leader_epoch = $2::bigint) AS leading`),

    // SKIP LOCKED lets every leader run the promoter at once without waiting on, or moving
    // twice, the rows another one is moving. A job keeps its id and the time it was first
    // enqueued; a retry keeps its consumer (only that consumer sees it again) and its attempt
    // count.
    //
    // Each CTE takes the rows its subquery locked by their address (ctid = ANY(ARRAY(...)), a
    // TID scan): joined back by key (`IN (SELECT ...)`), the planner hashed the subquery's
    // rows and read the whole table to find them, every round, so a backlog of 50,000 due rows
    // cost 11 ms per 1,000 moved instead of 4, and draining it took time quadratic in its size.
    // A locked row cannot move or go before this statement ends, so its address holds; the one
    // a concurrent update left is not visible to the statement and waits for the next round.
    jobsPromote: prepared(`
      WITH due_scheduled AS (
        DELETE FROM ${quotedSchema}.scheduled
        WHERE ctid = ANY(ARRAY(
          SELECT ctid FROM ${quotedSchema}.scheduled WHERE run_at <= now() ORDER BY run_at LIMIT $1 FOR UPDATE SKIP LOCKED))
        RETURNING id, topic, key, retry, payload, headers, NULL::text AS consumer, 0 AS attempt, created_at AS enqueued_at
      ), due_failed AS (
        DELETE FROM ${quotedSchema}.failed
        WHERE ctid = ANY(ARRAY(
          SELECT ctid FROM ${quotedSchema}.failed WHERE next_retry_at <= now() AND key_state IS NULL
          ORDER BY next_retry_at LIMIT $1 FOR UPDATE SKIP LOCKED))
        RETURNING id, topic, key, retry, payload, headers, consumer, attempt, coalesce(enqueued_at, created_at) AS enqueued_at
      ), due_heads AS (
        -- The head of a key queue stays in failed while it is delivered: its key stays blocked
        -- until the consumer records how it went. Only a head is ever moved.
        UPDATE ${quotedSchema}.failed SET key_state = 'delivering', promoted_xid = pg_current_xact_id()
        WHERE ctid = ANY(ARRAY(
          SELECT f.ctid FROM ${quotedSchema}.failed f
          WHERE f.next_retry_at <= now() AND f.key_state IN ('retry', 'waiting')
            AND NOT EXISTS (SELECT 1 FROM ${quotedSchema}.failed q
                            WHERE q.consumer = f.consumer AND q.key = f.key AND q.key_state IS NOT NULL AND q.queued < f.queued)
          ORDER BY f.next_retry_at LIMIT $1 FOR UPDATE OF f SKIP LOCKED))
        RETURNING id, topic, key, retry, payload, headers, consumer, attempt, coalesce(enqueued_at, created_at) AS enqueued_at
      ), moved AS (
        INSERT INTO ${quotedSchema}.immediate (id, topic, key, retry, payload, headers, consumer, attempt, enqueued_at)
        SELECT * FROM due_scheduled UNION ALL SELECT * FROM due_failed UNION ALL SELECT * FROM due_heads
        RETURNING id
      ), ${idempotencyKeysRestamp(quotedSchema, "moved")}
      SELECT count(*)::int AS moved FROM moved`),

    keyQueuesDissolve: sql(`
      WITH gone AS (
        DELETE FROM ${quotedSchema}.failed WHERE consumer = $1 AND key_state IN ('delivering', 'dead') RETURNING 1
      ), freed AS (
        UPDATE ${quotedSchema}.failed
        SET key_state = NULL, next_retry_at = CASE WHEN key_state = 'waiting' THEN now() ELSE next_retry_at END
        WHERE consumer = $1 AND key_state IN ('retry', 'waiting')
        RETURNING 1
      )
      SELECT ((SELECT count(*) FROM gone) + (SELECT count(*) FROM freed))::int AS released`),

    keyQueuesRead: prepared(`
      SELECT key, id::text AS id, key_state AS state, promoted_xid::text AS promoted_xid FROM ${quotedSchema}.failed
      WHERE consumer = $1 AND key_state IS NOT NULL AND key IN (SELECT json_array_elements_text($2::json))`),
  };
}

/**
 * $1 32-bit transaction ids as text. Who holds them open: a session (pg_stat_activity) or a
 * prepared transaction (pg_prepared_xacts, with its gid), and for how long.
 */
export const transactionsDescribe = sql<{
  xid: string;
  pid: number | null;
  age_ms: string;
  database: string | null;
  state: string | null;
  gid: string | null;
}>(
  `SELECT a.backend_xid::text AS xid, a.pid, (extract(epoch FROM now() - a.xact_start) * 1000)::bigint AS age_ms,
          a.datname AS database, a.state, NULL AS gid
     FROM pg_stat_activity a WHERE a.backend_xid::text = ANY($1::text[])
   UNION ALL
   SELECT p.transaction::text, NULL, (extract(epoch FROM now() - p.prepared) * 1000)::bigint, p.database, 'prepared', p.gid
     FROM pg_prepared_xacts p WHERE p.transaction::text = ANY($1::text[])`,
);

/** The server's version as a number: 170004 for 17.4. */
export const serverVersionRead = sql<{ version: number }>(
  "SELECT current_setting('server_version_num')::int AS version",
);

/** A snapshot and the WAL position of the same moment (see SnapshotPairs). */
export const snapshotPairRead = sql<{ snapshot: string; lsn: string }>(
  "SELECT pg_current_snapshot()::text AS snapshot, pg_current_wal_insert_lsn()::text AS lsn",
);
