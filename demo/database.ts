import type pg from "pg";
import { migrate, removeConsumer } from "../src/index.js";
import { publicationName } from "../src/schema/server-names.js";
import { consumerSlot } from "../src/slots/slot-admin.js";
import type { DemoMode } from "./options.js";

/** The outbox schema of the demo. Fixed, so that the demo can never drop someone's real outbox. */
export const demoSchema = "poutbox_demo";
/** The "business" side: the demo's orders live in a schema of their own, as an application's would. */
export const shopSchema = "poutbox_demo_shop";

export function consumerName(mode: DemoMode): string {
  return `demo-${mode}`;
}

/**
 * Starts from nothing: a previous run may have left its schemas, a replication slot (which
 * would keep WAL) and the publication (which would outlive its table and publish nothing).
 * A slot in use means another demo is running on this database: that is an error.
 */
export async function resetDemoSchemas(pool: pg.Pool): Promise<void> {
  for (const mode of ["polling", "replication"] as const) {
    const slot = await consumerSlot(pool, demoSchema, consumerName(mode));
    const { rows } = await pool.query("SELECT active FROM pg_replication_slots WHERE slot_name = $1", [slot]);
    if (rows[0]?.active) throw new Error(`another demo is running on this database (slot ${slot} is in use)`);
    if (rows.length > 0) await pool.query("SELECT pg_drop_replication_slot($1)", [slot]);
  }
  await pool.query(`DROP PUBLICATION IF EXISTS "${publicationName(demoSchema)}"`);
  await pool.query(`DROP SCHEMA IF EXISTS ${demoSchema} CASCADE`);
  await pool.query(`DROP SCHEMA IF EXISTS ${shopSchema} CASCADE`);
}

/** Migrates the outbox schema and creates the orders table; returns the migration version. */
export async function createDemoSchemas(pool: pg.Pool): Promise<number> {
  const { version } = await migrate(pool, { schema: demoSchema });
  await pool.query(`CREATE SCHEMA ${shopSchema}`);
  await pool.query(
    `CREATE TABLE ${shopSchema}.orders (
       id         bigserial   PRIMARY KEY,
       run        text        NOT NULL,
       email      text        NOT NULL,
       total      integer     NOT NULL,
       created_at timestamptz NOT NULL DEFAULT now()
     )`,
  );
  return version;
}

/** The orders of this run that exist, i.e. whose transaction committed. */
export async function committedOrders(pool: pg.Pool, run: string): Promise<Set<string>> {
  const { rows } = await pool.query(`SELECT id::text AS id FROM ${shopSchema}.orders WHERE run = $1`, [run]);
  return new Set(rows.map((row: { id: string }) => row.id));
}

/**
 * A replication consumer's slot keeps WAL for as long as it exists: the demo drops it when it
 * is done, so a demo run against a real server leaves nothing that grows.
 */
export async function dropDemoSlot(pool: pg.Pool, mode: DemoMode): Promise<void> {
  if (mode === "replication") await removeConsumer(pool, { schema: demoSchema, consumer: consumerName(mode) });
}
