import type pg from "pg";
import { Consumer, type ConsumerOptions, type Handler } from "../../src/index.js";
import { slotName } from "../../src/replication/names.js";
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

/** Drops the consumers' slots once their walsenders have gone (a stopped consumer's ends shortly after). */
export async function dropSlots(pool: pg.Pool, schema: string, ...consumers: string[]): Promise<void> {
  for (const consumer of consumers) {
    await waitFor(
      async () => {
        const { rows } = await pool.query(
          `SELECT active, CASE WHEN NOT active THEN pg_drop_replication_slot(slot_name) IS NULL END AS dropped
             FROM pg_replication_slots WHERE slot_name = $1`,
          [slotName(schema, consumer)],
        );
        return rows.length === 0 || rows[0].active === false;
      },
      { what: `slot of ${consumer} to be released` },
    );
  }
}
