import { epochMs } from "../database/epoch.js";
import { type Sql, sql } from "../database/query-rows.js";

/**
 * The SQL of partition maintenance, entity first, verb second. Table names are spliced in
 * (identifiers cannot be parameters): `quotedSchema` is validated and quoted once, `table` is quoted
 * by `qualified()`. Partition bounds are spliced too (DDL takes no parameters), always as ISO
 * 8601 UTC strings made by `Date.toISOString()`.
 */

/**
 * $1: the server's system identifier, or null when it cannot be read. How many consumers are
 * registered, and (a JSON array) the names of those that have not shown every row of `table`
 * done. A consumer has passed a row when the row's transaction is visible in its progress
 * snapshot; rows of transactions below the snapshot's xmin always are, so the index on
 * (transaction_id, id) finds the few that need a closer look. A snapshot the server has not
 * reached, or one recorded on another cluster (a restored or copied database), proves nothing:
 * such a consumer counts as behind until an operator moves it. So does one holding an
 * outcome whose job's row is in the table (see held_outcomes): the row is still needed.
 */
export function consumersBehind(quotedSchema: string, table: string): Sql<{ registered: number; behind: string[] }> {
  return sql(`
    SELECT (SELECT count(*) FROM ${quotedSchema}.consumers)::int AS registered,
           coalesce(json_agg(c.name ORDER BY c.name), '[]') AS behind
    FROM ${quotedSchema}.consumers c
    WHERE c.snapshot IS NULL
       OR pg_snapshot_xmax(c.snapshot) > pg_snapshot_xmax(pg_current_snapshot())
       OR ($1::text IS NOT NULL AND c.system_identifier IS NOT NULL AND c.system_identifier <> $1::text)
       OR EXISTS (
            SELECT 1 FROM jsonb_to_recordset(coalesce(c.held_outcomes, '[]')) AS h(id bigint, xid xid8)
            JOIN ONLY ${table} j ON j.transaction_id = h.xid AND j.id = h.id)
       OR EXISTS (
            SELECT 1 FROM ONLY ${table} j
            WHERE j.transaction_id >= pg_snapshot_xmin(c.snapshot)
              AND NOT pg_visible_in_snapshot(j.transaction_id, c.snapshot))`);
}

/**
 * Rows in a (default) partition and the range of their created_at, in ms since the epoch, all
 * int8: float8 text would follow the session's extra_float_digits.
 */
export function partitionRowsCount(table: string): Sql<{ rows: string; from_ms: string | null; to_ms: string | null }> {
  return sql(`
    SELECT count(*) AS rows, ${epochMs("min(created_at)")} AS from_ms, ${epochMs("max(created_at)")} AS to_ms
    FROM ONLY ${table}`);
}

/** $1, $2: a range in ms since the epoch. Whether `table` holds a row whose created_at is in it. */
export function partitionRowsExist(table: string): Sql<{ held: boolean }> {
  return sql(`
    SELECT EXISTS (
      SELECT 1 FROM ONLY ${table}
      WHERE created_at >= to_timestamp($1::float8 / 1000) AND created_at < to_timestamp($2::float8 / 1000)) AS held`);
}

/** Marks a partition as the library's own (see managedMark in partitions.ts). */
export function partitionMark(table: string, mark: string): string {
  return `COMMENT ON TABLE ${table} IS '${mark.replaceAll("'", "''")}'`;
}

/** How many rows a partition holds. */
export function partitionRowsTotal(table: string): Sql<{ rows: string }> {
  return sql(`SELECT count(*) AS rows FROM ONLY ${table}`);
}

/**
 * Takes the rows of a table someone attached as jobs to deliver: each is re-inserted through
 * the parent with all its columns but transaction_id, which becomes this statement's
 * transaction, so every consumer delivers it once (a replication consumer as a new insert).
 * Returns how many rows were taken.
 */
export function partitionImport(quotedSchema: string, table: string): Sql<{ rows: string }> {
  const columns = "id, topic, key, retry, payload, headers, attempt, consumer, created_at, enqueued_at";
  return sql(`
    WITH moved AS (DELETE FROM ONLY ${table} RETURNING ${columns}),
    inserted AS (INSERT INTO ${quotedSchema}.immediate (${columns}) SELECT ${columns} FROM moved RETURNING 1)
    SELECT count(*) AS rows FROM inserted`);
}

/** A table shaped like `immediate`, to attach as a partition. */
export function partitionCreate(quotedSchema: string, table: string): string {
  return `CREATE TABLE ${table} (LIKE ${quotedSchema}.immediate INCLUDING DEFAULTS)`;
}

export function partitionAttach(quotedSchema: string, table: string, from: Date, to: Date): string {
  return `ALTER TABLE ${quotedSchema}.immediate ATTACH PARTITION ${table}
          FOR VALUES FROM ('${from.toISOString()}') TO ('${to.toISOString()}')`;
}

/** $1: a time (ISO 8601). Whether the server's clock is more than `marginMs` before it. */
export function clockBefore(marginMs: number): Sql<{ early: boolean }> {
  return sql(`SELECT clock_timestamp() + interval '${Math.floor(marginMs)} milliseconds' < $1::timestamptz AS early`);
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

export interface PartitionRow {
  name: string;
  is_default: boolean;
  from_bound: string | null;
  from_ms: string | null;
  to_bound: string | null;
  to_ms: string | null;
  estimated_rows: string | null;
  bytes: string;
  managed: boolean;
}

/**
 * $1 the qualified `immediate`, $2 the comment that marks a partition as the library's, $3 the
 * pattern of a range bound. Bounds come as text and as epoch ms (null for MINVALUE/MAXVALUE).
 */
export const partitionsRead = sql<PartitionRow>(
  `SELECT c.relname AS name, c.relpartbound IS NOT NULL AND b.bounds IS NULL AS is_default,
          b.bounds[1] AS from_bound, ${boundMs("b.bounds[1]")} AS from_ms,
          b.bounds[2] AS to_bound, ${boundMs("b.bounds[2]")} AS to_ms,
          -- -1 (PostgreSQL 14+): never analysed.
          CASE WHEN c.reltuples >= 0 THEN c.reltuples::int8 END AS estimated_rows,
          pg_total_relation_size(c.oid) AS bytes,
          coalesce(obj_description(c.oid, 'pg_class') = $2, false) AS managed
   FROM pg_inherits i
   JOIN pg_class c ON c.oid = i.inhrelid
   LEFT JOIN LATERAL regexp_match(pg_get_expr(c.relpartbound, c.oid), $3) AS b(bounds) ON true
   WHERE i.inhparent = $1::regclass
   ORDER BY is_default, from_ms NULLS FIRST, name`,
);

/** $1 the qualified `immediate`, $2 a table name: a row when that table is one of its partitions. */
export const partitionFind = sql<{ name: string }>(
  `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
   WHERE i.inhparent = $1::regclass AND c.relname = $2`,
);

/** The server's clock, in ms since the epoch. */
export const clockRead = sql<{ now: string }>(`SELECT ${epochMs("clock_timestamp()")} AS now`);

/** A bound such as `'2026-11-27 14:00:00+00'` in ms; null for MINVALUE, MAXVALUE and the default partition. */
function boundMs(bound: string): string {
  return `(CASE WHEN ${bound} NOT IN ('MINVALUE', 'MAXVALUE') THEN ${epochMs(`btrim(${bound}, '''')::timestamptz`)} END)`;
}
