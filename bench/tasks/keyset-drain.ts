import pg from "pg";
import type { Drained, KeysetDrainTask } from "./task.js";
import { peakRssMb } from "./task.js";

/**
 * The cheapest possible reader of the same rows: pages through `immediate` by
 * (transaction_id, id) with plain SELECTs of the columns a job carries, and records its
 * cursor with one UPDATE per page, as a consumer must. No snapshots, no holes, no fencing,
 * no fetch-ahead: what is left is the cost of reading the rows.
 */
export async function drainWithKeyset(task: KeysetDrainTask): Promise<Drained> {
  const client = new pg.Client({ connectionString: task.url });
  await client.connect();
  const table = `"${task.schema}"`;
  await client.query(`CREATE TABLE IF NOT EXISTS ${table}.keyset_cursor (xid xid8, id bigint)`);
  await client.query(`TRUNCATE ${table}.keyset_cursor`);
  await client.query(`INSERT INTO ${table}.keyset_cursor VALUES ('0', 0)`);
  const byTopic = task.topic === undefined ? "" : "AND i.topic = $4";
  const page = {
    name: `keyset.page${task.topic === undefined ? "" : ".topic"}`,
    // Ordered by the table's columns (i.), not by the text columns of the same names.
    text: `SELECT i.id::text AS id, i.topic, i.payload, i.headers, i.attempt, i.created_at,
                  i.transaction_id::text AS transaction_id
           FROM ${table}.immediate i WHERE (i.transaction_id, i.id) > ($1::xid8, $2::bigint) ${byTopic}
           ORDER BY i.transaction_id, i.id LIMIT $3`,
  };
  const filter = task.topic === undefined ? [] : [task.topic];
  const save = { name: "keyset.save", text: `UPDATE ${table}.keyset_cursor SET xid = $1, id = $2` };
  const started = performance.now();
  let seen = 0;
  let after = ["0", "0"];
  while (seen < task.n) {
    const { rows } = await client.query({ ...page, values: [...after, task.batchSize, ...filter] });
    if (rows.length === 0) throw new Error(`keyset drain found ${seen} of ${task.n} rows`);
    // The same conversions a job gets: bigint ids, parsed payloads and times.
    const jobs = rows.map((row) => ({ ...row, id: BigInt(row.id), transactionId: BigInt(row.transaction_id) }));
    const last = jobs.at(-1) as { id: bigint; transactionId: bigint };
    after = [String(last.transactionId), String(last.id)];
    await client.query({ ...save, values: after });
    seen += jobs.length;
  }
  const seconds = (performance.now() - started) / 1000;
  await client.end();
  return { seconds, peakRssMb: peakRssMb() };
}
