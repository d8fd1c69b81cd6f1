import { epochMs } from "../database/epoch.js";
import { type Sql, sql } from "../database/query-rows.js";

// The SQL of ordering-key queues: the rows an ordered consumer keeps in `failed` for each key it
// holds back (see migration 6 for the states).

/**
 * An UPDATE that makes due the next row of each key queue named by `left`, a CTE of the
 * consumer, key and id of rows leaving their queue in the same statement.
 */
export function keyQueueRelease(quotedSchema: string, left: string): string {
  return `UPDATE ${quotedSchema}.failed t SET next_retry_at = now()
       WHERE t.key_state = 'waiting' AND (t.consumer, t.key, t.queued) IN (
         SELECT q.consumer, q.key, min(q.queued) FROM ${quotedSchema}.failed q
         JOIN ${left} ON q.consumer = ${left}.consumer AND q.key = ${left}.key AND q.id <> ${left}.id
         WHERE q.key_state IS NOT NULL GROUP BY q.consumer, q.key)
       RETURNING 1`;
}

export interface BlockedKeyRow {
  consumer: string;
  key: string;
  id: string;
  state: string;
  attempt: number;
  last_error: string;
  failed_ms: string;
  next_retry_ms: string | null;
  waiting: string;
}

/**
 * The heads of key queues, oldest blocked first, with how many jobs wait behind each. $1
 * consumer or null, $2 key or null, $3 limit. A head that is due "never" (infinity) has no time.
 */
export function blockedKeysList(quotedSchema: string): Sql<BlockedKeyRow> {
  return sql(`
    SELECT h.consumer, h.key, h.id::text AS id, h.key_state AS state, h.attempt, h.last_error,
           ${epochMs("h.failed_at")} AS failed_ms,
           CASE WHEN h.key_state IN ('retry', 'waiting') AND isfinite(h.next_retry_at)
                THEN ${epochMs("h.next_retry_at")} END AS next_retry_ms,
           (SELECT count(*) FROM ${quotedSchema}.failed w
             WHERE w.consumer = h.consumer AND w.key = h.key AND w.key_state IS NOT NULL AND w.queued > h.queued) AS waiting
    FROM ${quotedSchema}.failed h
    WHERE h.key_state IS NOT NULL
      AND ($1::text IS NULL OR h.consumer = $1) AND ($2::text IS NULL OR h.key = $2)
      AND NOT EXISTS (SELECT 1 FROM ${quotedSchema}.failed q
                      WHERE q.consumer = h.consumer AND q.key = h.key AND q.key_state IS NOT NULL AND q.queued < h.queued)
    ORDER BY h.failed_at, h.consumer, h.key
    LIMIT $3`);
}

/** The CTE `head`: the first row of consumer $1's queue of key $2, locked. */
function keyHead(quotedSchema: string): string {
  return `head AS (
      SELECT f.consumer, f.id, f.key_state FROM ${quotedSchema}.failed f
      WHERE f.consumer = $1 AND f.key = $2 AND f.key_state IS NOT NULL
      ORDER BY f.queued LIMIT 1 FOR UPDATE
    )`;
}

/**
 * $1 consumer, $2 key, $3 whether a head being delivered may be retried too. The head is due
 * at once; a dead-lettered head leaves dead_letter with fresh attempts. Returns the head's id
 * and state before, or no row when the key is not blocked (or its head is being delivered and
 * $3 is false).
 */
export function keyHeadRetry(quotedSchema: string): Sql<{ id: string; state: string }> {
  return sql(`
    WITH ${keyHead(quotedSchema)}, retried AS (
      UPDATE ${quotedSchema}.failed f
      SET key_state = 'retry', next_retry_at = now(),
          attempt = CASE WHEN head.key_state = 'dead' THEN 0 ELSE f.attempt END
      FROM head WHERE f.consumer = head.consumer AND f.id = head.id AND (head.key_state <> 'delivering' OR $3::boolean)
      RETURNING f.id, head.key_state AS state
    ), revived AS (
      DELETE FROM ${quotedSchema}.dead_letter d USING retried
      WHERE d.consumer = $1 AND d.id = retried.id AND retried.state = 'dead'
      RETURNING 1
    )
    SELECT id::text AS id, state FROM retried`);
}

/**
 * $1 consumer, $2 key, $3 whether a head being delivered may be skipped too, $4 the reason. The
 * head leaves the queue, into dead_letter unless it is there already, and the next job of the
 * key is due at once. Returns the head's id and state before, or no row as for keyHeadRetry.
 */
export function keyHeadSkip(quotedSchema: string): Sql<{ id: string; state: string }> {
  return sql(`
    WITH ${keyHead(quotedSchema)}, skipped AS (
      DELETE FROM ${quotedSchema}.failed f USING head
      WHERE f.consumer = head.consumer AND f.id = head.id AND (head.key_state <> 'delivering' OR $3::boolean)
      RETURNING f.*, head.key_state AS state
    ), buried AS (
      INSERT INTO ${quotedSchema}.dead_letter (id, consumer, topic, key, retry, payload, headers, attempts, last_error,
                                              created_at, enqueued_at, failed_at)
      SELECT id, consumer, topic, key, retry, payload, headers, attempt, 'skipped by an operator: ' || coalesce($4, 'no reason given') || E'\\n' || last_error,
             created_at, enqueued_at, failed_at
      FROM skipped WHERE state <> 'dead'
      ON CONFLICT (consumer, id) DO NOTHING
      RETURNING 1
    ), released AS (${keyQueueRelease(quotedSchema, "skipped")})
    SELECT id::text AS id, state FROM skipped`);
}
