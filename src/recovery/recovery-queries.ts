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
