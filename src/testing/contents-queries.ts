import { epochMs } from "../database/epoch.js";
import { type Sql, sql } from "../database/query-rows.js";
import { pendingFor } from "../status/status-queries.js";

/**
 * The SQL of outboxContents, for one schema (validated and quoted by the caller); $1 is the
 * consumer's name. Times are read as epoch milliseconds and payloads as json text, so what
 * the rows say does not depend on the session's settings or the application's type parsers.
 */

// Rows through the library's own types: int8 and times (epoch ms) as text, int4 as numbers.
export interface JobRow {
  id: string;
  topic: string | null;
  payload: string;
  headers: string | null;
  enqueued_ms: string;
}

/**
 * The consumer's stored progress, or `1:1:` (nothing done: where a new consumer starts) when it
 * has none yet, as a row `c` for pendingFor.
 */
function consumerProgress(quotedSchema: string): string {
  return `SELECT $1::text AS name, coalesce(k.snapshot, '1:1:'::pg_snapshot) AS snapshot,
                 k.window_snapshot, k.position_xid, k.position_id
            FROM (SELECT 1) one LEFT JOIN ${quotedSchema}.consumers k ON k.name = $1`;
}

/** Whether the consumer has recorded progress, what it holds, and the server's clock. */
export function consumerRead(quotedSchema: string): Sql<{ recorded: boolean; held_outcomes: number; now_ms: string }> {
  return sql(`
    SELECT EXISTS (SELECT 1 FROM ${quotedSchema}.consumers WHERE name = $1 AND snapshot IS NOT NULL) AS recorded,
           coalesce((SELECT jsonb_array_length(held_outcomes) FROM ${quotedSchema}.consumers WHERE name = $1), 0) AS held_outcomes,
           ${epochMs("now()")} AS now_ms`);
}

/** Committed jobs in `immediate` that the consumer has still to handle, in delivery order. */
export function pendingList(quotedSchema: string): Sql<JobRow & { attempt: number; created_ms: string }> {
  return sql(`
    WITH c AS (${consumerProgress(quotedSchema)})
    SELECT i.id::text AS id, i.topic, i.payload::text AS payload, i.headers::text AS headers, i.attempt,
           ${epochMs("coalesce(i.enqueued_at, i.created_at)")} AS enqueued_ms, ${epochMs("i.created_at")} AS created_ms
      FROM ${quotedSchema}.immediate i, c
     WHERE ${pendingFor("i", "c")}
     ORDER BY i.transaction_id, i.id`);
}

/** Every scheduled job (they belong to no consumer until they are due), soonest first. */
export function scheduledList(quotedSchema: string): Sql<JobRow & { run_ms: string }> {
  return sql(`
    SELECT id::text AS id, topic, payload::text AS payload, headers::text AS headers,
           ${epochMs("created_at")} AS enqueued_ms, ${epochMs("run_at")} AS run_ms
      FROM ${quotedSchema}.scheduled ORDER BY run_at, id`);
}

/** The consumer's failed jobs waiting for their retry, soonest retry first. */
export function failedList(
  quotedSchema: string,
): Sql<JobRow & { attempt: number; last_error: string; failed_ms: string; retry_ms: string }> {
  return sql(`
    SELECT id::text AS id, topic, payload::text AS payload, headers::text AS headers, attempt, last_error,
           ${epochMs("coalesce(enqueued_at, created_at)")} AS enqueued_ms, ${epochMs("failed_at")} AS failed_ms,
           ${epochMs("next_retry_at")} AS retry_ms
      FROM ${quotedSchema}.failed WHERE consumer = $1 ORDER BY next_retry_at, id`);
}
