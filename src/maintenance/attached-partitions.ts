import { InvalidOptionError } from "../core/errors.js";
import { beginReadCommitted } from "../database/isolation.js";
import { queryRow, queryRows } from "../database/query-rows.js";
import type { ConnectionSource, PooledConnection } from "../database/queryable.js";
import { withConnection } from "../database/with-connection.js";
import { checkSchema } from "../schema/check-schema.js";
import { resolveSchema } from "../schema/schema-name.js";
import { partitionFind, partitionImport, partitionMark, partitionRowsTotal } from "./maintenance-queries.js";
import { managedMark, qualified } from "./partitions.js";

export interface AttachedPartitionOptions {
  /** Schema that holds the outbox tables. Default `"poutbox"`. */
  readonly schema?: string;
  /** The partition of `immediate`, as `listPartitions` names it. */
  readonly partition: string;
}

export interface AttachedPartitionResult {
  readonly partition: string;
  /** Rows it held: re-inserted as jobs to deliver (import), or kept as they are (adopt). */
  readonly rows: number;
}

/**
 * Takes the rows of a table attached to `immediate` as jobs to deliver: each is re-inserted
 * with a transaction id of now (keeping its id, payload, topic, headers, attempts and times),
 * so every consumer delivers it once, in either mode. Then the partition is kept like the ones
 * the library makes. Use it for a table of jobs written elsewhere; for rows moved there from
 * another partition, which consumers have already seen, use adoptPartition.
 *
 * The supported way to bring existing jobs in is an insert through the outbox (the SQL
 * function `enqueue()`, or `INSERT INTO <schema>.immediate (payload, topic, headers) SELECT ...`,
 * leaving transaction_id to its default); this is for a table already attached.
 */
export async function importPartition(
  pool: ConnectionSource,
  options: AttachedPartitionOptions,
): Promise<AttachedPartitionResult> {
  return onPartition(pool, options, async (client, quotedSchema, table) => {
    const { rows } = await queryRow(client, partitionImport(quotedSchema, table));
    return Number(rows);
  });
}

/**
 * Keeps a table attached to `immediate` as it is, like the partitions the library makes: its
 * rows are jobs moved there (out of the default partition, say) with all their columns,
 * transaction_id included, which each consumer delivers once from where they were first
 * written. Maintenance reports a table it did not make that holds rows until this or
 * importPartition is run.
 */
export async function adoptPartition(
  pool: ConnectionSource,
  options: AttachedPartitionOptions,
): Promise<AttachedPartitionResult> {
  return onPartition(pool, options, async (client, _quoted, table) => {
    const { rows } = await queryRow(client, partitionRowsTotal(table));
    return Number(rows);
  });
}

async function onPartition(
  pool: ConnectionSource,
  options: AttachedPartitionOptions,
  work: (client: PooledConnection, quotedSchema: string, table: string) => Promise<number>,
): Promise<AttachedPartitionResult> {
  const { schema, quotedSchema } = resolveSchema(options?.schema);
  if (typeof options.partition !== "string" || options.partition.length === 0) {
    throw new InvalidOptionError("partition", "expected the name of a partition of immediate");
  }
  return withConnection(pool, async (client) => {
    await checkSchema(client, schema, quotedSchema);
    const found = await queryRows(client, partitionFind, [`${quotedSchema}.immediate`, options.partition]);
    if (found.length === 0) {
      throw new InvalidOptionError("partition", `"${options.partition}" is not a partition of ${schema}.immediate`);
    }
    const table = qualified(quotedSchema, options.partition);
    await client.query(beginReadCommitted);
    try {
      const rows = await work(client, quotedSchema, table);
      await client.query(partitionMark(table, managedMark));
      await client.query("COMMIT");
      return { partition: options.partition, rows };
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    }
  });
}
