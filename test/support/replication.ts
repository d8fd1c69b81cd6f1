import type pg from "pg";
import { clientLikePool } from "../../src/database/replication-client.js";
import { Consumer, type ConsumerOptions, type Handler } from "../../src/index.js";
import { consumerSlot } from "../../src/slots/slot-admin.js";
import { waitFor } from "./wait-for.js";

/** A replication consumer with short retry and promotion delays, for tests. */
export function replicationConsumer(
  pool: pg.Pool,
  schema: string,
  handler: Handler,
  options: ConsumerOptions = {},
): Consumer {
  return new Consumer(pool, handler, {
    schema,
    mode: "replication",
    promoteInterval: 20,
    backoff: { base: 20, jitter: 0 },
    reconnectDelay: 20,
    ...options,
  });
}

/** Drops the consumers' slots once their walsenders have gone (a killed process's walsender lingers a moment). */
export async function dropSlots(pool: pg.Pool, schema: string, ...consumers: string[]): Promise<void> {
  for (const consumer of consumers) {
    await waitFor(
      async () => {
        const { rows } = await pool.query(
          `SELECT active, CASE WHEN NOT active THEN pg_drop_replication_slot(slot_name) IS NULL END AS dropped
             FROM pg_replication_slots WHERE slot_name = $1`,
          [await consumerSlot(pool, schema, consumer)],
        );
        return rows.length === 0 || rows[0].active === false;
      },
      { what: `slot of ${consumer} to be released` },
    );
  }
}

/**
 * Stops `consumer` and drops its slot once its walsender has let go: registered with t.after()
 * when the consumer is made, so that neither outlives a test that fails before its own stop.
 */
export async function stopAndDropSlot(pool: pg.Pool, schema: string, consumer: Consumer): Promise<void> {
  await consumer.stop();
  await dropSlots(pool, schema, consumer.name);
}

/**
 * What a replication consumer's tables, slot and the cluster's open transactions look like
 * now, as text: for a test's failure message when a delivery does not come.
 */
export async function replicationState(pool: pg.Pool, schema: string, consumer = "default"): Promise<string> {
  // On a connection of its own: the pool may be what is stuck.
  const usage = `pool: ${pool.totalCount} connections, ${pool.idleCount} idle, ${pool.waitingCount} waiting`;
  const client = clientLikePool(pool);
  await client.connect();
  try {
    return `${usage}\n${await describeState(client, schema, consumer)}`;
  } finally {
    await client.end();
  }
}

async function describeState(client: pg.Client, schema: string, consumer: string): Promise<string> {
  const queries: Record<string, string> = {
    consumers: `SELECT name, mode, leader_epoch, acked_lsn, partial_lsn, partial_count, snapshot, window_snapshot, heartbeat_at FROM ${schema}.consumers`,
    immediate: `SELECT tableoid::regclass AS part, id, transaction_id, consumer, attempt, created_at FROM ${schema}.immediate ORDER BY id`,
    failed: `SELECT id, consumer, attempt, last_error, next_retry_at FROM ${schema}.failed`,
    dead_letter: `SELECT id, consumer, attempts, last_error FROM ${schema}.dead_letter`,
    slot: `SELECT slot_name, active, active_pid, restart_lsn, confirmed_flush_lsn, pg_current_wal_lsn() AS wal FROM pg_replication_slots WHERE slot_name = '${await consumerSlot(client, schema, consumer)}'`,
    open_transactions: `SELECT pid, datname, application_name, backend_type, state, backend_xid, backend_xmin,
        round(extract(epoch FROM clock_timestamp() - xact_start)::numeric, 1) AS open_s, left(query, 80) AS query
      FROM pg_stat_activity WHERE xact_start < clock_timestamp() - interval '1 second' OR backend_type = 'walsender'`,
    prepared: "SELECT gid, transaction, database, prepared FROM pg_prepared_xacts",
  };
  const parts: string[] = [];
  for (const [name, sql] of Object.entries(queries)) {
    try {
      const { rows } = await client.query(sql);
      parts.push(`${name}: ${JSON.stringify(rows)}`);
    } catch (error) {
      parts.push(`${name}: (${(error as Error).message})`);
    }
  }
  return parts.join("\n");
}
