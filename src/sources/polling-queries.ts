import { epochMs } from "../database/epoch.js";
import { type Sql, sql } from "../database/query-rows.js";
import { preparedSql } from "../schema/server-names.js";

/** A row of the page query, parsed by ownTypes: json parsed, numbers that may be large as text. */
export interface PageRow {
  /** The window snapshot, on the first row only. */
  window_snapshot: string | null;
  id: string | null;
  topic: string | null;
  key: string | null;
  retry: unknown;
  payload: unknown;
  headers: unknown;
  attempt: number;
  created_ms: string | null;
  /** Null when the job was enqueued when it was created (enqueued_at not set). */
  enqueued_ms: string | null;
  transaction_id: string;
  /** On the first row only. */
  partitions: string | null;
  /** Whether the page found a job after this one that the byte bound cut (null: no job). */
  more: boolean | null;
}

/**
 * The page query of the polling source, for one schema.
 *
 * A window is the set of jobs whose transaction is visible in the window snapshot (`cur`,
 * taken by this statement when $2 is null) and was not visible in the progress snapshot
 * (`prev`). Such a transaction was either in progress at `prev` (one of its "holes", listed
 * by pg_snapshot_xip) or started at or after pg_snapshot_xmax(prev). Each part has its own
 * index access on (transaction_id, id): one probe per hole, and one range scan from
 * xmax(prev) to xmax(cur). Joined by OR, or with `= ANY(holes)`, PostgreSQL scans far more
 * (the whole index, or the whole table), so the cost would grow with history instead of
 * with new rows.
 *
 * Pages are ordered by (transaction_id, id) and resume after ($3, $4). Each part gives the
 * index exactly one lower bound: given two on transaction_id (a row comparison and a scalar
 * one), PostgreSQL 17 started the scan at the row comparison, so the first page of every
 * window walked the index from the start of history.
 * Parameters: $1 prev, $2 window or null, $3 after transaction_id, $4 after id, $5 limit,
 * $6 consumer name (a retry carries the name of the one consumer it belongs to), $7 the
 * subscription's exact names and $8 its LIKE patterns, or both null for every topic. A subscription filters rows the index
 * scan reads, so a window costs what its rows cost, subscribed or not; a retry of this
 * consumer's own is delivered whatever its topic.
 * $9 bounds a page by bytes: it ends before the payloads and headers of its jobs pass $9,
 * counted as the length of their JSON text (a compressed value is measured uncompressed, as
 * the client will hold it), and always holds one job; `more` says whether a job after the
 * last one returned was cut.
 * Returns one row even when the window is empty. The first row carries the window snapshot
 * and, when the statement took the window itself, the partitions of `immediate` as its
 * snapshot sees them, each with the transaction that attached it (see PollingSource for why):
 * repeated on every row, they were made, sent and parsed once per job instead of once per page.
 * The window stays an inlined CTE, so that a custom plan sees the bounds its parameters give
 * as constants. Behind a materialized CTE they were unknown to the planner, which then guessed
 * fewer matching rows than a page holds for a consumer subscribed to one topic in ten, and
 * fetched and sorted the whole backlog for every page (test/polling-cost.test.ts).
 * Times are read as epoch milliseconds, which no session setting changes.
 */
export function pageQuery(quotedSchema: string): Sql<PageRow> {
  const columns =
    "i.id, i.topic, i.key, i.retry, i.payload, i.headers, i.attempt, i.created_at, i.enqueued_at, i.transaction_id";
  const mine =
    "(i.consumer = $6 OR (i.consumer IS NULL AND " +
    "($7::text[] IS NULL OR i.topic = ANY ($7::text[]) OR i.topic LIKE ANY ($8::text[]))))";
  const first = "(page.ordinal IS NULL OR page.ordinal = 1)";
  // Prepared: parsed once per connection instead of at every poll.
  return preparedSql(`
    WITH w AS (SELECT $1::pg_snapshot AS prev, coalesce($2::pg_snapshot, pg_current_snapshot()) AS cur)
    SELECT CASE WHEN ${first} THEN w.cur::text END AS window_snapshot,
           CASE WHEN $2::pg_snapshot IS NULL AND ${first} THEN (
             SELECT string_agg(p.inhrelid::text || '/' || p.xmin::text, ',' ORDER BY p.inhrelid)
             FROM pg_catalog.pg_inherits p WHERE p.inhparent = '${quotedSchema}.immediate'::regclass) END AS partitions, page.id::text AS id, page.topic, page.key, page.retry, page.payload, page.headers,
           page.attempt, ${epochMs("page.created_at")} AS created_ms,
           ${epochMs("page.enqueued_at")} AS enqueued_ms,
           page.transaction_id::text AS transaction_id, page.more
    FROM w LEFT JOIN LATERAL (
      SELECT * FROM (
      SELECT limited.*,
             row_number() OVER bytes AS ordinal,
             sum(octet_length(limited.payload::text) + coalesce(octet_length(limited.headers::text), 0)) OVER bytes AS upto,
             lead(true, 1, false) OVER bytes AS more
      FROM (
      SELECT * FROM (
        (SELECT ${columns}
           FROM pg_snapshot_xip(w.prev) AS hole(xid)
           CROSS JOIN LATERAL (
             SELECT * FROM ${quotedSchema}.immediate i
             WHERE i.transaction_id = hole.xid
               AND i.id > CASE WHEN hole.xid = $3::xid8 THEN $4::bigint ELSE -1 END
               AND ${mine}
             ORDER BY i.id LIMIT $5
           ) i
           WHERE hole.xid >= $3::xid8 AND pg_visible_in_snapshot(hole.xid, w.cur))
        UNION ALL
        (SELECT ${columns}
           FROM ${quotedSchema}.immediate i
           WHERE (i.transaction_id, i.id) > (
                   CASE WHEN $3::xid8 >= pg_snapshot_xmax(w.prev) THEN $3::xid8 ELSE pg_snapshot_xmax(w.prev) END,
                   CASE WHEN $3::xid8 >= pg_snapshot_xmax(w.prev) THEN $4::bigint ELSE -1 END)
             AND i.transaction_id < pg_snapshot_xmax(w.cur)
             AND pg_visible_in_snapshot(i.transaction_id, w.cur)
             AND ${mine}
           ORDER BY i.transaction_id, i.id LIMIT $5)
      ) found
      ORDER BY found.transaction_id, found.id
      LIMIT $5
      ) limited
      WINDOW bytes AS (ORDER BY limited.transaction_id, limited.id ROWS UNBOUNDED PRECEDING)
      ) sized
      WHERE sized.ordinal = 1 OR sized.upto <= $9::bigint
      ORDER BY sized.transaction_id, sized.id
    ) page ON true`);
}

/** The snapshot of the current transaction, as text. */
export const snapshotRead = sql<{ snapshot: string }>("SELECT pg_current_snapshot()::text AS snapshot");
