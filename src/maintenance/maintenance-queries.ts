import { epochMs } from "../database/epoch.js";

/**
 * The SQL of partition maintenance, entity first, verb second. Table names are spliced in
 * (identifiers cannot be parameters): `schema` is validated and quoted once, `table` is quoted
 * by `qualified()`. Partition bounds are spliced too (DDL takes no parameters), always as ISO
 * 8601 UTC strings made by `Date.toISOString()`.
 */

/**
 * How many consumers are registered, and the names of those whose progress snapshot does not
 * show every row of `table` done. A consumer has passed a row when the row's transaction is
 * visible in its snapshot; rows of transactions below the snapshot's xmin always are, so the
 * index on (transaction_id, id) finds the few that need a closer look.
 */
export function consumersBehind(schema: string, table: string): string {
  return `
    SELECT (SELECT count(*) FROM ${schema}.consumers)::int AS registered,
           coalesce(json_agg(c.name ORDER BY c.name), '[]') AS behind
    FROM ${schema}.consumers c
    WHERE c.snapshot IS NULL OR EXISTS (
      SELECT 1 FROM ONLY ${table} j
      WHERE j.transaction_id >= pg_snapshot_xmin(c.snapshot)
        AND NOT pg_visible_in_snapshot(j.transaction_id, c.snapshot))`;
}

/**
 * Rows in a (default) partition and the range of their created_at, in ms since the epoch (as
 * int8: a float8's text depends on extra_float_digits).
 */
export function partitionRowsCount(table: string): string {
  return `
    SELECT count(*)::int AS rows, ${epochMs("min(created_at)")} AS from_ms, ${epochMs("max(created_at)")} AS to_ms
    FROM ONLY ${table}`;
}

/** $1, $2: a range in ms since the epoch. Whether `table` holds a row whose created_at is in it. */
export function partitionRowsExist(table: string): string {
  return `
    SELECT EXISTS (
      SELECT 1 FROM ONLY ${table}
      WHERE created_at >= to_timestamp($1::float8 / 1000) AND created_at < to_timestamp($2::float8 / 1000)) AS held`;
}

/** A table shaped like `immediate`, to attach as a partition. */
export function partitionCreate(schema: string, table: string): string {
  return `CREATE TABLE ${table} (LIKE ${schema}.immediate INCLUDING DEFAULTS)`;
}

export function partitionAttach(schema: string, table: string, from: Date, to: Date): string {
  return `ALTER TABLE ${schema}.immediate ATTACH PARTITION ${table}
          FOR VALUES FROM ('${from.toISOString()}') TO ('${to.toISOString()}')`;
}

/** $1: a time (ISO 8601). Whether the server's clock is more than `marginMs` before it. */
export function clockBefore(marginMs: number): string {
  return `SELECT clock_timestamp() + interval '${Math.floor(marginMs)} milliseconds' < $1::timestamptz AS early`;
}

export function partitionsDrop(tables: readonly string[]): string {
  return `DROP TABLE ${tables.join(", ")}`;
}

export function partitionTruncate(table: string): string {
  return `TRUNCATE ONLY ${table}`;
}

export function tablesLock(tables: readonly string[]): string {
  return `LOCK TABLE ${tables.join(", ")} IN ACCESS EXCLUSIVE MODE`;
}
