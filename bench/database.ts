import type pg from "pg";
import { Consumer, migrate } from "../src/index.js";
import { publicationName } from "../src/schema/server-names.js";
import { consumerSlot } from "../src/slots/slot-admin.js";

let schemas = 0;

/** A freshly migrated schema of its own for one measurement. */
export async function freshSchema(pool: pg.Pool, prefix: string): Promise<string> {
  const schema = `bench_${prefix}_${process.pid}_${++schemas}`;
  await migrate(pool, { schema });
  return schema;
}

/** Drops a schema with its publication and the given slots (consumer names or raw slot names). */
export async function dropSchema(
  pool: pg.Pool,
  schema: string,
  slots: { consumers?: string[]; raw?: string[] } = {},
): Promise<void> {
  await waitForIdleSlots(pool);
  const consumers = await Promise.all((slots.consumers ?? []).map((name) => consumerSlot(pool, schema, name)));
  const names = [...consumers, ...(slots.raw ?? [])];
  await pool.query(
    "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = ANY($1::text[])",
    [names],
  );
  await pool.query(`DROP PUBLICATION IF EXISTS "${publicationName(schema)}"`);
  await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
}

/** The payload every subject enqueues: a small, typical event. */
export function payload(index: number): { orderId: number; email: string; total: number } {
  return { orderId: index, email: `customer${index}@example.com`, total: 1999 + (index % 100) };
}

// The same payload built by the server, for fills that should not cost client time.
const serverPayload =
  "json_build_object('orderId', i, 'email', 'customer' || i || '@example.com', 'total', 1999 + i % 100)";

/** Commits n jobs into `immediate` in one transaction, built by the server. */
export async function fillInOneTransaction(pool: pg.Pool, schema: string, n: number, from = 0): Promise<void> {
  await pool.query(
    `INSERT INTO "${schema}".immediate (payload) SELECT ${serverPayload} FROM generate_series($1::int + 1, $1::int + $2::int) i`,
    [from, n],
  );
}

/**
 * Commits n jobs into `immediate` in transactions of `perTransaction` jobs each, from a DO
 * block that commits as it goes: as many transactions as an application would make, at the
 * server's speed instead of the client's. With `traceparents`, each job carries the headers an
 * instrumented producer gives it: a W3C `traceparent` of its own.
 */
export async function fillInTransactions(
  pool: pg.Pool,
  schema: string,
  n: number,
  perTransaction: number,
  topics = 0,
  keys = 0,
  traceparents = false,
): Promise<void> {
  // DO takes no parameters; the numbers are integers checked here, the schema a checked name.
  if (![n, perTransaction, topics, keys].every(Number.isInteger)) throw new TypeError("integers expected");
  // With topics, job i gets topic t<i mod topics>: t0, t1, ... in turn. With keys, a key drawn
  // from k0..k<keys - 1> by a hash of i: spread as at random, the same in every run.
  const topic = topics > 0 ? `'t' || (i % ${topics})` : "NULL";
  const key = keys > 0 ? `'k' || (abs(hashint4(i)::bigint) % ${keys})` : "NULL";
  // Version 00, a trace id and a span id drawn from i, sampled: as a sampled parent would inject.
  const headers = traceparents
    ? "json_build_object('traceparent', '00-' || md5('trace' || i) || '-' || left(md5('span' || i), 16) || '-01')"
    : "NULL";
  await pool.query(`
    DO $fill$
    BEGIN
      FOR t IN 0 .. ${Math.ceil(n / perTransaction) - 1} LOOP
        INSERT INTO "${schema}".immediate (payload, topic, key, headers)
        SELECT ${serverPayload}, ${topic}, ${key}, ${headers} FROM generate_series(t * ${perTransaction} + 1, least((t + 1) * ${perTransaction}, ${n})) i;
        COMMIT;
      END LOOP;
    END
    $fill$`);
}

/**
 * Commits n jobs into `scheduled`, due since a second ago, in one statement built by the
 * server: what `enqueueMany(jobs, { runAt })` stores, without the client's time. Analyzed, so
 * that every round's promoter is planned alike.
 */
export async function fillScheduled(pool: pg.Pool, schema: string, n: number): Promise<void> {
  await pool.query(
    `INSERT INTO "${schema}".scheduled (payload, run_at)
     SELECT ${serverPayload}, now() - interval '1 second' FROM generate_series(1, $1::int) i`,
    [n],
  );
  await pool.query(`ANALYZE "${schema}".scheduled`);
}

/**
 * Starts a replication consumer once, so that its slot exists (and its catch-up by polling
 * is done) before the jobs it will drain are committed; then stops it.
 */
export async function createConsumerSlot(pool: pg.Pool, schema: string, name: string): Promise<void> {
  const consumer = new Consumer(pool, async () => {}, { schema, name, mode: "replication", maintenance: false });
  await consumer.start();
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (consumer.failure) throw consumer.failure;
      const { rows } = await pool.query("SELECT active FROM pg_replication_slots WHERE slot_name = $1", [
        await consumerSlot(pool, schema, name),
      ]);
      if (consumer.isLeader && rows[0]?.active === true) break;
      if (Date.now() > deadline) throw new Error(`slot of ${name} did not start streaming`);
      await sleep(20);
    }
  } finally {
    await consumer.stop();
  }
}

/** Waits until no walsender holds a slot (a stopped reader's ends shortly after it). */
export async function waitForIdleSlots(pool: pg.Pool): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { rows } = await pool.query("SELECT count(*)::int AS n FROM pg_replication_slots WHERE active");
    if (rows[0].n === 0) return;
    if (Date.now() > deadline) throw new Error("replication slots still active after 30 s");
    await sleep(20);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
