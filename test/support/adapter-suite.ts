import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Client, Consumer, type Queryable, SchemaMissingError, TransactionStateError } from "../../src/index.js";
import { recorder } from "./recorder.js";
import { admin, type TestDatabase, useTestDatabase } from "./test-database.js";
import { waitFor } from "./wait-for.js";

/** One driver or ORM, set up on the test database, seen through its Poutbox adapter. */
export interface AdapterHarness {
  /** The adapted database handle, outside any transaction. */
  readonly db: Queryable;
  /**
   * Opens a transaction with the library's own API, writes `note` into `orders` with the
   * library's own API, runs `work` with the adapted transaction, then commits, or rolls back
   * (the library's way: a throw, or its rollback call) when `end` is "rollback".
   */
  inTransaction<T>(end: "commit" | "rollback", note: string, work: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Ends the library's connections. */
  close(): Promise<void>;
  /** The error `db` gets when passed as `tx`. Default TransactionStateError. */
  readonly refusal?: new (
    ...args: never[]
  ) => Error;
}

/** Thrown inside a library's transaction callback to make it roll back. */
export class Rollback extends Error {}

/**
 * Settings the test database carries for every session, the adapter's included: each changes
 * how times or numbers are printed, so an enqueue or a read that went through their text form
 * would come out wrong (Chatham is +13:45, so the calendar day differs from UTC's for hours).
 */
export const hostileDatabaseSettings = [
  ["DateStyle", "'SQL, DMY'"],
  ["TimeZone", "'Pacific/Chatham'"],
  ["IntervalStyle", "'iso_8601'"],
  ["extra_float_digits", "-15"],
] as const;

/** floor(ms since 1970) of a timestamptz column, as text: what no session setting changes. */
const epochMsText = (column: string) => `floor(extract(epoch FROM ${column}) * 1000)::int8::text`;

/**
 * The tests every adapter passes against the real library: a job enqueued in a committed
 * transaction is delivered, one in a rolled-back transaction never is, enqueueMany joins the
 * transaction, and the database handle is refused as `tx`. The database carries
 * hostileDatabaseSettings, so every one of them runs under those.
 */
export function adapterSuite(name: string, connect: (db: TestDatabase) => Promise<AdapterHarness>): TestDatabase {
  let harness: AdapterHarness | undefined;
  // Registered before useTestDatabase's own after(), so the library's connections are closed
  // before its leak check runs.
  after(() => harness?.close(), { timeout: 60_000 });
  // In useTestDatabase's setup, not a before() hook of our own: Node 20 would start that
  // before the database exists.
  const db = useTestDatabase(async (created) => {
    // Before any session of the database opens, so that all of them (the test's pool, the
    // consumers', the adapter's) start with these settings.
    await admin(async (client) => {
      for (const [name, value] of hostileDatabaseSettings) {
        await client.query(`ALTER DATABASE ${created.name} SET ${name} = ${value}`);
      }
    });
    await created.pool.query("CREATE TABLE orders (id serial PRIMARY KEY, note text NOT NULL)");
    harness = await connect(created);
  });

  const orderExists = async (note: string) =>
    (await db.pool.query("SELECT 1 FROM orders WHERE note = $1", [note])).rowCount === 1;

  /** Starts a consumer on `schema`, runs `work`, stops the consumer. */
  async function consuming<T>(schema: string, work: (record: ReturnType<typeof recorder>) => Promise<T>) {
    const record = recorder();
    const consumer = new Consumer(db.pool, record.handler, { schema, name: "adapter" });
    await consumer.start();
    try {
      return await work(record);
    } finally {
      await consumer.stop();
    }
  }

  const adapted = (): AdapterHarness => {
    if (!harness) throw new Error("the adapter is set up only inside tests");
    return harness;
  };

  describe(`${name} adapter`, () => {
    it("commit: the job commits with the business row and is delivered", async () => {
      const { schema } = await db.freshSchema("commit");
      const client = new Client(adapted().db, { schema });
      const runAt = new Date(Date.now() + 3_600_000);
      const [id, scheduled] = await adapted().inTransaction("commit", "committed order", async (tx) => [
        await client.enqueue(
          { order: "committed" },
          { tx, topic: "order.created", headers: { trace: "t1" }, key: "order-1", maxAttempts: 9 },
        ),
        await client.enqueue({ order: "later" }, { tx, runAt, key: "order-1", backoff: { base: 5 } }),
      ]);
      assert.ok(await orderExists("committed order"));
      const { rows } = await db.pool.query(
        `SELECT ${epochMsText("run_at")} AS run_at FROM ${schema}.scheduled WHERE id = $1`,
        [String(scheduled)],
      );
      assert.equal(rows[0]?.run_at, String(runAt.getTime()), "the scheduled job's run_at, to the millisecond");
      const { rows: later } = await db.pool.query(`SELECT key, retry::text FROM ${schema}.scheduled WHERE id = $1`, [
        String(scheduled),
      ]);
      assert.deepEqual([later[0]?.key, JSON.parse(later[0]?.retry)], ["order-1", { backoff: { base: 5 } }]);
      const { rows: created } = await db.pool.query(
        `SELECT ${epochMsText("created_at")} AS created_at FROM ${schema}.immediate WHERE id = $1`,
        [String(id)],
      );
      await consuming(schema, async (record) => {
        const job = await waitFor(() => record.deliveries.find((each) => each.id === id), { what: "the job" });
        assert.deepEqual(job.payload, { order: "committed" });
        assert.equal(job.topic, "order.created");
        assert.deepEqual(job.headers, { trace: "t1" });
        assert.equal(job.key, "order-1");
        assert.deepEqual(job.retry, { maxAttempts: 9 });
        assert.equal(String(job.createdAt.getTime()), created[0]?.created_at, "createdAt, to the millisecond");
        assert.equal(String(job.enqueuedAt.getTime()), created[0]?.created_at, "enqueuedAt, to the millisecond");
      });
    });

    it("rollback: neither the business row nor the job survives, and the job is never delivered", async () => {
      const { schema } = await db.freshSchema("rollback");
      const client = new Client(adapted().db, { schema });
      const [single, many] = await adapted().inTransaction("rollback", "rolled-back order", async (tx) => [
        await client.enqueue({ order: "rolled back" }, { tx }),
        await client.enqueueMany([{ n: 1 }, { n: 2 }], { tx }),
      ]);
      assert.equal(await orderExists("rolled-back order"), false);
      // A job committed after the rolled-back ones: once it is delivered, they would have been.
      const marker = await client.enqueue({ marker: true });
      await consuming(schema, async (record) => {
        await waitFor(() => record.deliveries.some((job) => job.id === marker), { what: "the marker job" });
        assert.deepEqual(record.ids(), [marker]);
      });
      const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM ${schema}.immediate WHERE id = ANY($1)`, [
        [single, ...(many ?? [])].map(String),
      ]);
      assert.equal(rows[0].n, 0);
    });

    it("enqueueMany inside the transaction: all delivered, in input order, with one sequence", async () => {
      const { schema } = await db.freshSchema("many");
      const client = new Client(adapted().db, { schema, notify: true });
      const ids = await adapted().inTransaction("commit", "bulk order", async (tx) => [
        ...(await client.enqueueMany([{ n: 1 }, { n: 2 }, { n: 3 }], { tx, topic: "bulk" })),
        ...(await client.enqueueMany([{ n: 4 }], { tx, runAt: new Date(Date.now() - 1000) })),
        await client.enqueue({ n: 5 }, { tx }),
      ]);
      assert.equal(ids.length, 5);
      assert.deepEqual(
        ids,
        [...ids].sort((a, b) => (a < b ? -1 : 1)),
      );
      await consuming(schema, async (record) => {
        await waitFor(() => record.deliveries.length >= 5, { what: "five jobs" });
        const payloads = new Map(record.deliveries.map((job) => [job.id, job.payload]));
        assert.deepEqual(
          ids.map((id) => payloads.get(id)),
          [{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }, { n: 5 }],
        );
      });
    });

    it("idempotency keys: a duplicate in the transaction and after it returns the first job's id", async () => {
      const { schema } = await db.freshSchema("idempotent");
      const client = new Client(adapted().db, { schema, notify: true });
      const [first, again, many] = await adapted().inTransaction("commit", "idempotent order", async (tx) => [
        await client.enqueue({ n: 1 }, { tx, topic: "order.created", key: "order-9", idempotencyKey: "request-9" }),
        await client.enqueue({ n: 1 }, { tx, idempotencyKey: "request-9" }),
        await client.enqueueMany([{ n: 2 }, { n: 3 }], { tx, idempotencyKeys: ["request-9", "request-10"] }),
      ]);
      assert.equal(again, first);
      assert.ok(Array.isArray(many) && many[0] === first && typeof many[1] === "bigint" && many[1] !== first);
      assert.equal(await client.enqueue({ n: 1 }, { idempotencyKey: "request-9" }), first);
      const { rows } = await db.pool.query(`SELECT topic, key FROM ${schema}.immediate ORDER BY id`);
      assert.deepEqual(rows, [
        { topic: "order.created", key: "order-9" },
        { topic: null, key: null },
      ]);
    });

    it("the adapter's sessions carry the database's hostile settings", async () => {
      const { rows } = await adapted().db.query(
        "SELECT current_setting('DateStyle') AS date_style, current_setting('TimeZone') AS time_zone, " +
          "current_setting('IntervalStyle') AS interval_style, current_setting('extra_float_digits') AS float_digits",
        [],
      );
      assert.deepEqual(
        { ...(rows[0] as object) },
        { date_style: "SQL, DMY", time_zone: "Pacific/Chatham", interval_style: "iso_8601", float_digits: "-15" },
      );
    });

    it("the database handle works as a client's db and is refused as tx", async () => {
      const { schema } = await db.freshSchema("outside");
      const client = new Client(adapted().db, { schema });
      const id = await client.enqueue({ autocommit: true });
      const { rows } = await db.pool.query(`SELECT payload FROM ${schema}.immediate WHERE id = $1`, [String(id)]);
      assert.deepEqual(rows[0]?.payload, { autocommit: true });
      const refusal = adapted().refusal ?? TransactionStateError;
      await assert.rejects(client.enqueue({ no: 1 }, { tx: adapted().db }), refusal);
      await assert.rejects(client.enqueueMany([{ no: 2 }], { tx: adapted().db }), refusal);
      const { rows: left } = await db.pool.query(`SELECT count(*)::int AS n FROM ${schema}.immediate`);
      assert.equal(left[0].n, 1);
    });

    it("a transaction an earlier statement failed gives TransactionStateError through the adapter", async () => {
      const { schema } = await db.freshSchema("failed");
      const client = new Client(adapted().db, { schema });
      await assert.rejects(
        adapted().inTransaction("rollback", "failed transaction", async (tx) => {
          await assert.rejects(tx.query("SELECT 1 / 0 AS boom", []));
          return client.enqueue({ after: "failure" }, { tx });
        }),
        TransactionStateError,
      );
    });

    it("a schema never migrated gives SchemaMissingError through the adapter, in and out of a transaction", async () => {
      const client = new Client(adapted().db, { schema: "never_migrated" });
      await assert.rejects(client.enqueue({ lost: true }), SchemaMissingError);
      await assert.rejects(
        adapted().inTransaction("rollback", "missing schema", (tx) => client.enqueueMany([{ lost: true }], { tx })),
        SchemaMissingError,
      );
    });
  });
  return db;
}
