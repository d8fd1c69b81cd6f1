import { epochMs } from "../database/epoch.js";
import { type Sql, sql } from "../database/query-rows.js";
import { idempotencyKeysRestamp } from "../idempotency/idempotency-queries.js";
import { keyQueueRelease } from "../keys/key-queue-queries.js";

// The SQL of the dead-letter calls. `where` is built by the caller from fixed clauses with
// numbered parameters, never from input; `limit` is a checked integer.

// Read through the library's own types on pg connections, and by whatever the driver gives
// through an adapter: every value is converted here, never taken as the driver parsed it.
// Times are epoch milliseconds (see epochMs), counts int8.
export interface DeadLetterRow {
  id: unknown;
  consumer: string;
  topic: string | null;
  key: string | null;
  payload: unknown;
  headers: unknown;
  attempts: unknown;
  last_error: string;
  enqueued_ms: unknown;
  created_ms: unknown;
  failed_ms: unknown;
  dead_ms: unknown;
}

/**
 * Newest first. Payload and headers as text, parsed by the caller: drivers differ in whether
 * they parse json. Times as epoch milliseconds: their text depends on the session's DateStyle
 * and TimeZone.
 */
export function deadLetterList(quotedSchema: string, where: string, limit: number): Sql<DeadLetterRow> {
  return sql(
    `SELECT id::text AS id, consumer, topic, key, payload::text AS payload, headers::text AS headers, attempts, last_error,
            ${epochMs("coalesce(enqueued_at, created_at)")} AS enqueued_ms, ${epochMs("created_at")} AS created_ms,
            ${epochMs("failed_at")} AS failed_ms, ${epochMs("dead_at")} AS dead_ms
       FROM ${quotedSchema}.dead_letter WHERE ${where} ORDER BY dead_at DESC, id DESC LIMIT ${limit}`,
  );
}

export function deadLetterCount(quotedSchema: string, where: string): Sql<{ n: unknown }> {
  return sql(`SELECT count(*) AS n FROM ${quotedSchema}.dead_letter WHERE ${where}`);
}

/**
 * Back into immediate with a fresh set of attempts, in one statement. The job keeps the time it
 * was first enqueued; its new row's created_at is now, which places it in the current partition.
 * A job that heads its key's queue (an ordered consumer's, kept blocked by it) is delivered
 * again as that head: the key goes on once it succeeds.
 */
export function deadLetterRequeue(quotedSchema: string, where: string): Sql<{ n: unknown }> {
  return sql(
    `WITH revived AS (
       DELETE FROM ${quotedSchema}.dead_letter WHERE ${where}
       RETURNING id, topic, key, retry, payload, headers, consumer, coalesce(enqueued_at, created_at) AS enqueued_at),
     heads AS (
       UPDATE ${quotedSchema}.failed f SET key_state = 'delivering', attempt = 0, promoted_xid = pg_current_xact_id()
       FROM revived WHERE f.consumer = revived.consumer AND f.id = revived.id AND f.key_state = 'dead'
       RETURNING 1),
     moved AS (
       INSERT INTO ${quotedSchema}.immediate (id, topic, key, retry, payload, headers, consumer, attempt, enqueued_at)
       SELECT id, topic, key, retry, payload, headers, consumer, 0, enqueued_at FROM revived RETURNING id),
     ${idempotencyKeysRestamp(quotedSchema, "revived")}
     SELECT count(*) AS n FROM moved`,
  );
}

/**
 * Deletes dead-letter rows. One that heads its key's queue leaves it, and the key goes on: the
 * next job waiting in the queue is due at once.
 */
export function deadLetterPurge(quotedSchema: string, where: string): Sql<{ n: unknown }> {
  return sql(
    `WITH gone AS (DELETE FROM ${quotedSchema}.dead_letter WHERE ${where} RETURNING consumer, id),
     skipped AS (
       DELETE FROM ${quotedSchema}.failed f USING gone
       WHERE f.consumer = gone.consumer AND f.id = gone.id AND f.key_state = 'dead'
       RETURNING f.consumer, f.key, f.id),
     released AS (${keyQueueRelease(quotedSchema, "skipped")})
     SELECT count(*) AS n FROM gone`,
  );
}

/** $1 milliseconds. The server's time that long ago, in ms since the epoch. */
export const serverTimeBefore = sql<{ before: string }>(
  `SELECT ${epochMs("now() - $1::float8 * interval '1 millisecond'")} AS before`,
);
