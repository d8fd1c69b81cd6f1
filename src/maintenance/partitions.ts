import { queryRows } from "../database/query-rows.js";
import type { ConnectionSource, Queryable } from "../database/queryable.js";
import { defaultSchemaName, quoteSchemaName } from "../schema/schema-name.js";

/** One partition of `immediate`, as the server has it. */
export interface Partition {
  readonly name: string;
  /** The catch-all partition: rows whose created_at no other partition covers. */
  readonly isDefault: boolean;
  /** Range start (inclusive), ms since the epoch; -Infinity for MINVALUE, NaN for the default. */
  readonly from: number;
  /** Range end (exclusive), ms since the epoch; Infinity for MAXVALUE, NaN for the default. */
  readonly to: number;
  /** The planner's row estimate (-1 before the table was first analysed). */
  readonly estimatedRows: number;
  /** Table and index size on disk. */
  readonly bytes: number;
}

/** float8 values stay text under the library's parsers. */
interface PartitionRow {
  name: string;
  is_default: boolean;
  from_ms: string | null;
  to_ms: string | null;
  estimated_rows: string;
  bytes: string;
}

/**
 * Reads the partitions of `immediate` and the server's clock, on a connection that is not
 * inside a transaction. Bounds are read back from their text form, printed with the session's
 * TimeZone and DateStyle, so both are pinned for this one transaction, and so is
 * extra_float_digits (at -15 a float8 prints one digit: 2e+12). Rows are read with the
 * library's own parsers, and the pattern is a parameter (standard_conforming_strings = off
 * would read the backslashes of a literal as escapes).
 */
export async function readPartitions(
  client: Queryable,
  quotedSchema: string,
): Promise<{ now: number; partitions: Partition[] }> {
  await client.query("BEGIN");
  try {
    await client.query("SET LOCAL TimeZone = 'UTC'");
    await client.query("SET LOCAL DateStyle = 'ISO, YMD'");
    await client.query("SET LOCAL extra_float_digits = 3");
    const rows = await queryRows<PartitionRow>(
      client,
      `SELECT c.relname AS name, c.relpartbound IS NOT NULL AND b.bounds IS NULL AS is_default,
              ${boundMs("b.bounds[1]")} AS from_ms, ${boundMs("b.bounds[2]")} AS to_ms,
              c.reltuples::float8 AS estimated_rows, pg_total_relation_size(c.oid)::text AS bytes
       FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhrelid
       LEFT JOIN LATERAL regexp_match(pg_get_expr(c.relpartbound, c.oid), $2) AS b(bounds) ON true
       WHERE i.inhparent = $1::regclass
       ORDER BY is_default, from_ms, name`,
      [`${quotedSchema}.immediate`, "^FOR VALUES FROM \\((.*)\\) TO \\((.*)\\)$"],
    );
    const [clock] = await queryRows<{ now: string }>(
      client,
      "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS now",
    );
    await client.query("COMMIT");
    const partitions = rows.map((row) => ({
      name: row.name,
      isDefault: row.is_default,
      from: row.from_ms === null ? Number.NaN : Number(row.from_ms),
      to: row.to_ms === null ? Number.NaN : Number(row.to_ms),
      estimatedRows: Number(row.estimated_rows),
      bytes: Number(row.bytes),
    }));
    return { now: Number(clock?.now), partitions };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  }
}

function boundMs(bound: string): string {
  return `(CASE ${bound} WHEN 'MINVALUE' THEN '-Infinity'::float8 WHEN 'MAXVALUE' THEN 'Infinity'::float8
           ELSE (extract(epoch FROM btrim(${bound}, '''')::timestamptz) * 1000)::float8 END)`;
}

/** The partitions of a schema's `immediate` table, oldest first, the default partition last. */
export async function listPartitions(pool: ConnectionSource, options: { schema?: string } = {}): Promise<Partition[]> {
  const quoted = quoteSchemaName(options.schema ?? defaultSchemaName);
  const client = await pool.connect();
  try {
    return (await readPartitions(client, quoted)).partitions;
  } finally {
    client.release();
  }
}

/** A partition's name, double-quoted and schema-qualified. */
export function qualified(quotedSchema: string, name: string): string {
  return `${quotedSchema}."${name.replaceAll('"', '""')}"`;
}
