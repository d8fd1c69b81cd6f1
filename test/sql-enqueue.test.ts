import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type pg from "pg";
import { Client, Consumer, migrate } from "../src/index.js";
import { wakeChannel } from "../src/schema/server-names.js";
import { inTransaction } from "./support/in-transaction.js";
import { recorder } from "./support/recorder.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const db = useTestDatabase();

async function enqueueSql(on: pg.Pool | pg.PoolClient, schema: string, args: string, values: unknown[] = []) {
  const { rows } = await on.query(`SELECT ${schema}.enqueue(${args})::text AS id`, values);
  return BigInt(rows[0].id);
}

describe("the SQL function enqueue()", () => {
  it("enqueues from plain SQL, inside a caller's transaction and from a trigger; a consumer gets exactly the committed ones", async () => {
    const { schema } = await db.freshSchema("sql");
    await db.pool.query(`
      CREATE TABLE ${schema}_orders (id serial PRIMARY KEY, email text NOT NULL);
      CREATE FUNCTION ${schema}_order_created() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM ${schema}.enqueue(json_build_object('orderId', NEW.id, 'email', NEW.email), topic => 'order.created');
        RETURN NEW;
      END $$;
      CREATE TRIGGER order_created AFTER INSERT ON ${schema}_orders FOR EACH ROW EXECUTE FUNCTION ${schema}_order_created();`);

    const plain = await enqueueSql(db.pool, schema, "$1", ['{"plain": true}']);
    const [inTx, xid] = await inTransaction(db.pool, "COMMIT", async (tx) => {
      const id = await enqueueSql(tx, schema, "$1, headers => $2", ['{"inTx": true}', '{"trace": "t1"}']);
      const { rows } = await tx.query("SELECT pg_current_xact_id()::text AS xid");
      return [id, rows[0].xid as string] as const;
    });
    const rolledBack = await inTransaction(db.pool, "ROLLBACK", (tx) =>
      enqueueSql(tx, schema, "$1", ['{"rolledBack": true}']),
    );
    await inTransaction(db.pool, "ROLLBACK", (tx) =>
      tx.query(`INSERT INTO ${schema}_orders (email) VALUES ('gone@example.com')`),
    );
    await inTransaction(db.pool, "COMMIT", (tx) =>
      tx.query(`INSERT INTO ${schema}_orders (email) VALUES ('ada@example.com'), ('bob@example.com')`),
    );

    const { rows: stored } = await db.pool.query(
      `SELECT id::text, transaction_id::text AS xid FROM ${schema}.immediate WHERE id = $1`,
      [String(inTx)],
    );
    assert.equal(stored[0]?.xid, xid, "the job is written by the caller's own transaction");

    const record = recorder();
    const consumer = new Consumer(db.pool, record.handler, { schema, name: "sql" });
    await consumer.start();
    try {
      await waitFor(() => record.deliveries.length >= 4, { what: "four jobs" });
      // A job committed after the others, so that once it is delivered nothing else is pending.
      const marker = await enqueueSql(db.pool, schema, "'\"marker\"'");
      await waitFor(() => record.ids().includes(marker), { what: "the marker" });
    } finally {
      await consumer.stop();
    }
    const byId = new Map(record.deliveries.map((job) => [job.id, job]));
    assert.equal(byId.size, 5);
    assert.deepEqual(byId.get(plain)?.payload, { plain: true });
    assert.deepEqual(byId.get(inTx)?.headers, { trace: "t1" });
    assert.equal(byId.has(rolledBack), false);
    const fromTrigger = record.deliveries.filter((job) => job.topic === "order.created");
    assert.deepEqual(
      fromTrigger.map((job) => (job.payload as { email: string }).email),
      ["ada@example.com", "bob@example.com"],
    );
  });

  it("stores a row identical to Client.enqueue's, from the same id sequence", async () => {
    const { schema, client } = await db.freshSchema("parity");
    const payload = { text: "Grüße 😀", list: [1, 2.5, null], nested: { ok: true } };
    const fromClient = await client.enqueue(payload, { topic: "parity", headers: { a: "1" }, key: "k-1" });
    const fromSql = await enqueueSql(db.pool, schema, "$1, $2, $3, key => $4", [
      JSON.stringify(payload),
      "parity",
      JSON.stringify({ a: "1" }),
      "k-1",
    ]);
    const later = await client.enqueue(payload);
    assert.ok(fromClient < fromSql && fromSql < later);
    const { rows } = await db.pool.query(
      `SELECT topic, key, payload::text, headers::text, attempt, consumer FROM ${schema}.immediate WHERE id = ANY($1) ORDER BY id`,
      [[fromClient, fromSql].map(String)],
    );
    assert.deepEqual(rows[0], rows[1]);
  });

  it("puts a job with run_at in scheduled, and the promoter delivers it once due", async () => {
    const { schema } = await db.freshSchema("scheduled");
    const runAt = new Date(Date.now() + 3_600_000);
    const later = await enqueueSql(db.pool, schema, "'{}', run_at => $1", [runAt.toISOString()]);
    const due = await enqueueSql(
      db.pool,
      schema,
      "'{\"due\": 1}', topic => 'due', run_at => now() - interval '1 second'",
    );
    const { rows } = await db.pool.query(`SELECT id::text, run_at FROM ${schema}.scheduled ORDER BY id`);
    assert.deepEqual(
      rows.map((row) => BigInt(row.id)),
      [later, due],
    );
    assert.equal((rows[0].run_at as Date).getTime(), runAt.getTime());
    const record = recorder();
    const consumer = new Consumer(db.pool, record.handler, { schema, promoteInterval: 50 });
    await consumer.start();
    try {
      const job = await waitFor(() => record.deliveries.find((each) => each.id === due), { what: "the due job" });
      assert.equal(job.topic, "due");
    } finally {
      await consumer.stop();
    }
  });

  it("with notify => true wakes listeners on the schema's channel at commit; without it, not", async () => {
    const { schema } = await db.freshSchema("notify");
    const listener = await db.pool.connect();
    const heard: string[] = [];
    listener.on("notification", (message) => heard.push(message.channel));
    try {
      await listener.query(`LISTEN "${wakeChannel(schema)}"; LISTEN sentinel_${schema}`);
      await enqueueSql(db.pool, schema, "'1'");
      await enqueueSql(db.pool, schema, "'2', run_at => now(), notify => true");
      await inTransaction(db.pool, "COMMIT", (tx) => enqueueSql(tx, schema, "'3', notify => true"));
      // Notifications arrive in commit order, so once the sentinel sent last has arrived,
      // every notification the three jobs caused has too.
      await db.pool.query(`NOTIFY sentinel_${schema}`);
      await waitFor(() => heard.includes(`sentinel_${schema}`), { what: "the sentinel notification" });
      assert.deepEqual(heard, [wakeChannel(schema), `sentinel_${schema}`]);
    } finally {
      listener.release();
    }
  });

  it("wakes listeners on a 63-character schema too, from SQL and from a notify client", async () => {
    // poutbox.<schema> would pass NOTIFY's 63-byte limit: the channel is cut and hashed.
    const schema = `long_${"n".repeat(58)}`;
    await migrate(db.pool, { schema });
    const listener = await db.pool.connect();
    const heard: string[] = [];
    listener.on("notification", (message) => heard.push(message.channel));
    try {
      await listener.query(`LISTEN "${wakeChannel(schema)}"; LISTEN sentinel_long`);
      await enqueueSql(db.pool, schema, "'1', notify => true");
      await new Client(db.pool, { schema, notify: true }).enqueue(2);
      await db.pool.query("NOTIFY sentinel_long");
      await waitFor(() => heard.includes("sentinel_long"), { what: "the sentinel notification" });
      assert.deepEqual(heard, [wakeChannel(schema), wakeChannel(schema), "sentinel_long"]);
    } finally {
      listener.release();
    }
  });

  it("refuses a NULL payload, a bad topic and bad headers with a clear message, writing nothing", async () => {
    const { schema } = await db.freshSchema("refused");
    const cases: [string, unknown[], string, RegExp][] = [
      ["NULL", [], "22004", /payload is NULL/],
      ["'{}', topic => ''", [], "22023", /topic must be 1 to 255 characters, got 0/],
      ["'{}', topic => $1", ["t".repeat(256)], "22023", /got 256/],
      ["'{}', key => ''", [], "22023", /key must be 1 to 255 characters, got 0/],
      ["'{}', headers => '[1]'", [], "22023", /headers must be a JSON object of string values/],
      ["'{}', headers => '{\"n\": 1}'", [], "22023", /headers must be a JSON object/],
      ["'not json'", [], "22P02", /invalid input syntax for type json/],
    ];
    for (const [args, values, code, message] of cases) {
      await assert.rejects(enqueueSql(db.pool, schema, args, values), (error: Error & { code?: string }) => {
        assert.equal(error.code, code, args);
        assert.match(error.message, message);
        return true;
      });
    }
    const { rows } = await db.pool.query(
      `SELECT (SELECT count(*) FROM ${schema}.immediate) + (SELECT count(*) FROM ${schema}.scheduled) AS n`,
    );
    assert.equal(Number(rows[0].n), 0);
    // The client checks the same things before sending anything.
    const client = new Client(db.pool, { schema });
    await assert.rejects(client.enqueue({}, { topic: "" }), /topic/);
  });
});
