import type pg from "pg";
import { partitionName } from "../../src/maintenance/partition-plan.js";
import { managedMark } from "../../src/maintenance/partitions.js";

/**
 * Attaches a partition of `immediate` over [from, from + length), named as maintenance names
 * it, as an earlier maintenance run would have left it. Attached rather than created as a
 * partition, which would lock the table against inserts.
 */
export async function attachPartition(pool: pg.Pool, schema: string, from: number, length = 60_000): Promise<string> {
  const name = partitionName(from);
  await pool.query(`CREATE TABLE "${schema}".${name} (LIKE "${schema}".immediate INCLUDING DEFAULTS)`);
  await pool.query(
    `ALTER TABLE "${schema}".immediate ATTACH PARTITION "${schema}".${name}
     FOR VALUES FROM ('${new Date(from).toISOString()}') TO ('${new Date(from + length).toISOString()}')`,
  );
  await pool.query(`COMMENT ON TABLE "${schema}".${name} IS '${managedMark}'`);
  return name;
}
