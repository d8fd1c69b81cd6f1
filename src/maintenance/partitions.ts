import { beginReadCommitted } from "../database/isolation.js";
import { queryRows } from "../database/query-rows.js";
import type { ConnectionSource, Queryable } from "../database/queryable.js";
import { withConnection } from "../database/with-connection.js";
import { resolveSchema } from "../schema/schema-name.js";
import { clockRead, partitionsRead } from "./maintenance-queries.js";

/** One partition of `immediate`, as the server has it. */
export interface Partition {
  readonly name: string;
  /** The catch-all partition: rows whose created_at no other partition covers. */
  readonly isDefault: boolean;
  /** Range start (inclusive); null for the default partition and for MINVALUE. */
  readonly from: Date | null;
  /** Range end (exclusive); null for the default partition and for MAXVALUE. */
  readonly to: Date | null;
  /** The planner's row estimate; null before the table was first analysed. */
  readonly estimatedRows: number | null;
  /** Table and index size on disk, in bytes. */
  readonly bytes: number;
  /**
   * Made by the library. False for a table an operator attached: maintenance imports its rows
   * as jobs to deliver at its next run, then marks it (see docs/operations.md).
   */
  readonly managed: boolean;
}

/** The comment that marks a partition the library made (or has imported). */
export const managedMark = "poutbox partition";

/**
 * A partition with its bounds in ms since the epoch, as maintenance plans with them:
 * -Infinity for MINVALUE, Infinity for MAXVALUE, NaN for the default partition, so that
 * comparisons need no special cases.
 */
export interface PartitionMs {
  readonly name: string;
  readonly isDefault: boolean;
  readonly from: number;
  readonly to: number;
  readonly estimatedRows: number | null;
  readonly bytes: number;
  readonly managed: boolean;
}

// Every figure is an int8, which the library's own types leave as text: float8 text depends on
// the session's extra_float_digits (-15 prints epoch milliseconds as "2e+12").
/**
 * Reads the partitions of `immediate` and the server's clock (ms since the epoch), on a
 * connection that is not inside a transaction. Bounds are read back from their text form,
 * printed and parsed with the session's TimeZone and DateStyle, so both are pinned for this one
 * transaction: a role or database may carry any.
 */
export async function readPartitions(
  client: Queryable,
  quotedSchema: string,
): Promise<{ now: number; partitions: PartitionMs[] }> {
  await client.query(beginReadCommitted);
  try {
    await client.query("SET LOCAL TimeZone = 'UTC'");
    await client.query("SET LOCAL DateStyle = 'ISO, YMD'");
    const rows = await queryRows(
      client,
      partitionsRead,
      // The pattern is a parameter: standard_conforming_strings = off would read the
      // backslashes of a literal as escapes.
      [`${quotedSchema}.immediate`, managedMark, "^FOR VALUES FROM \\((.*)\\) TO \\((.*)\\)$"],
    );
    const [clock] = await queryRows(client, clockRead);
    await client.query("COMMIT");
    const partitions = rows.map((row) => ({
      name: row.name,
      isDefault: row.is_default,
      from: boundNumber(row.from_bound, row.from_ms),
      to: boundNumber(row.to_bound, row.to_ms),
      estimatedRows: row.estimated_rows === null ? null : Number(row.estimated_rows),
      bytes: Number(row.bytes),
      managed: row.managed,
    }));
    return { now: Number(clock?.now), partitions };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  }
}

function boundNumber(bound: string | null, ms: string | null): number {
  if (bound === "MINVALUE") return Number.NEGATIVE_INFINITY;
  if (bound === "MAXVALUE") return Number.POSITIVE_INFINITY;
  return ms === null ? Number.NaN : Number(ms);
}

/** The public form of a partition: Dates, null where a range has no end. */
export function publicPartition(partition: PartitionMs): Partition {
  return {
    name: partition.name,
    isDefault: partition.isDefault,
    from: Number.isFinite(partition.from) ? new Date(partition.from) : null,
    to: Number.isFinite(partition.to) ? new Date(partition.to) : null,
    estimatedRows: partition.estimatedRows,
    bytes: partition.bytes,
    managed: partition.managed,
  };
}

/** The partitions of a schema's `immediate` table, oldest first, the default partition last. */
export async function listPartitions(pool: ConnectionSource, options: { schema?: string } = {}): Promise<Partition[]> {
  const { quotedSchema } = resolveSchema(options.schema);
  return withConnection(pool, async (client) =>
    (await readPartitions(client, quotedSchema)).partitions.map(publicPartition),
  );
}

/** A partition's name, double-quotedSchema and schema-qualified. */
export function qualified(quotedSchema: string, name: string): string {
  return `${quotedSchema}."${name.replaceAll('"', '""')}"`;
}
