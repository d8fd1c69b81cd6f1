import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type pg from "pg";
import {
  Client,
  InvalidOptionError,
  InvalidPayloadError,
  migrate,
  SchemaMissingError,
  TransactionStateError,
} from "../src/index.js";
import { inTransaction } from "./support/in-transaction.js";
import { useTestDatabase } from "./support/test-database.js";

const db = useTestDatabase((created) => migrate(created.pool));

interface StoredJob {
  id: string;
  topic: string | null;
  payload: unknown;
  headers: unknown;
  payload_text: string;
}

async function stored(table: "immediate" | "scheduled", ids: readonly bigint[]): Promise<StoredJob[]> {
  const { rows } = await db.pool.query<StoredJob>(
    `SELECT id::text, topic, payload, headers, payload::text AS payload_text FROM poutbox.${table} WHERE id = ANY($1::bigint[]) ORDER BY ${table}.id`,
    [ids.map(String)],
  );
  return rows;
}

async function count(table: string): Promise<number> {
  const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM poutbox.${table}`);
  return rows[0].n;
}

describe("Client.enqueue", () => {
  it("returns a bigint id and stores payload, topic and headers", async () => {
    const client = new Client(db.pool);
    const id = await client.enqueue({ orderId: 7 }, { topic: "order.created", headers: { traceId: "abc" } });
    assert.equal(typeof id, "bigint");
    const [job] = await stored("immediate", [id]);
    assert.deepEqual(job?.payload, { orderId: 7 });
    assert.equal(job?.topic, "order.created");
    assert.deepEqual(job?.headers, { traceId: "abc" });
  });

  it("stores the ordering key of a job, immediate or scheduled, one or many", async () => {
    const client = new Client(db.pool);
    const one = await client.enqueue({}, { key: "order-7" });
    const many = await client.enqueueMany([{}, {}], { key: "order-8" });
    const later = await client.enqueue({}, { key: "order-9", runAt: new Date(Date.now() + 3_600_000) });
    const laterMany = await client.enqueueMany([{}], { key: "order-10", runAt: new Date(Date.now() + 3_600_000) });
    const { rows } = await db.pool.query(
      `SELECT id::text, key FROM poutbox.immediate WHERE id = ANY($1::bigint[])
       UNION ALL SELECT id::text, key FROM poutbox.scheduled WHERE id = ANY($1::bigint[]) ORDER BY id`,
      [[one, ...many, later, ...laterMany].map(String)],
    );
    assert.deepEqual(
      rows.map((row) => row.key),
      ["order-7", "order-8", "order-8", "order-9", "order-10"],
    );
  });

  it("stores the job when the caller's transaction commits", async () => {
    const client = new Client(db.pool);
    const id = await inTransaction(db.pool, "COMMIT", (tx) => client.enqueue({ n: 1 }, { tx }));
    assert.equal((await stored("immediate", [id])).length, 1);
  });

  it("stores nothing when the caller's transaction rolls back", async () => {
    const client = new Client(db.pool);
    const id = await inTransaction(db.pool, "ROLLBACK", (tx) => client.enqueue({ n: 2 }, { tx }));
    assert.equal((await stored("immediate", [id])).length, 0);
  });

  it("puts a job with runAt in scheduled, not immediate", async () => {
    const client = new Client(db.pool);
    const runAt = new Date(Date.now() + 3_600_000);
    const id = await client.enqueue({ remind: true }, { runAt });
    assert.equal((await stored("immediate", [id])).length, 0);
    const { rows } = await db.pool.query("SELECT run_at FROM poutbox.scheduled WHERE id = $1", [String(id)]);
    assert.equal((rows[0].run_at as Date).getTime(), runAt.getTime());
  });

  it("draws ids from one sequence across immediate and scheduled", async () => {
    const client = new Client(db.pool);
    const a = await client.enqueue(1);
    const b = await client.enqueue(2, { runAt: new Date() });
    const c = await client.enqueue(3);
    assert.ok(a < b && b < c);
  });

  it("round-trips a 1 MB payload and non-ASCII text byte for byte", async () => {
    const client = new Client(db.pool);
    const big = { blob: "x".repeat(1024 * 1024), text: "Grüße, 世界, مرحبا, 😀, NUL:\u0000, lone:\ud800" };
    const id = await client.enqueue(big);
    const [job] = await stored("immediate", [id]);
    assert.equal(job?.payload_text, JSON.stringify(big));
    assert.deepEqual(job?.payload, big);
  });

  it("accepts any JSON value as payload: strings, numbers, arrays, null", async () => {
    const client = new Client(db.pool);
    const values = ["text", 42, [1, 2], null, false];
    const ids = [];
    for (const value of values) ids.push(await client.enqueue(value));
    assert.deepEqual(
      (await stored("immediate", ids)).map((job) => job.payload),
      values,
    );
  });
});

describe("Client.enqueueMany", () => {
  it("writes all jobs with one statement and returns their ids in input order", async () => {
    const client = new Client(db.pool);
    const payloads = Array.from({ length: 1000 }, (_, i) => ({ i }));
    const ids = await client.enqueueMany(payloads, { topic: "bulk" });
    assert.equal(ids.length, 1000);
    const jobs = await stored("immediate", ids);
    const byId = new Map(jobs.map((job) => [BigInt(job.id), job]));
    ids.forEach((id, i) => {
      assert.deepEqual(byId.get(id)?.payload, { i });
      assert.equal(byId.get(id)?.topic, "bulk");
    });
    assert.ok(ids.every((id, i) => i === 0 || id > (ids[i - 1] as bigint)));
  });

  it("writes scheduled jobs with runAt", async () => {
    const client = new Client(db.pool);
    const ids = await client.enqueueMany(["a", "b"], { runAt: new Date(Date.now() + 60_000) });
    assert.equal((await stored("scheduled", ids)).length, 2);
  });

  it("is all or nothing when the database rejects one row", async () => {
    const client = new Client(db.pool);
    await db.pool.query(
      "ALTER TABLE poutbox.immediate ADD CONSTRAINT test_no_poison CHECK (payload::text <> '\"poison\"')",
    );
    try {
      const before = await count("immediate");
      await assert.rejects(client.enqueueMany(["fine", "poison", "fine"]), { code: "23514" });
      assert.equal(await count("immediate"), before);
    } finally {
      await db.pool.query("ALTER TABLE poutbox.immediate DROP CONSTRAINT test_no_poison");
    }
  });

  it("is all or nothing with the caller's transaction", async () => {
    const client = new Client(db.pool);
    const ids = await inTransaction(db.pool, "ROLLBACK", (tx) => client.enqueueMany([1, 2, 3], { tx }));
    assert.equal((await stored("immediate", ids)).length, 0);
    const kept = await inTransaction(db.pool, "COMMIT", (tx) => client.enqueueMany([1, 2, 3], { tx }));
    assert.equal((await stored("immediate", kept)).length, 3);
  });

  it("rejects a bad payload anywhere in the list before writing any", async () => {
    const client = new Client(db.pool);
    const before = await count("immediate");
    await assert.rejects(
      client.enqueueMany([{ ok: 1 }, { ok: 2 }, { bad: 1n }]),
      (error: unknown) => error instanceof InvalidPayloadError && error.path === "payloads[2].bad",
    );
    assert.equal(await count("immediate"), before);
  });

  it("returns no ids for an empty list", async () => {
    assert.deepEqual(await new Client(db.pool).enqueueMany([]), []);
  });
});

describe("Client input checks", () => {
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  const badPayloads: [string, unknown][] = [
    ["undefined", undefined],
    ["a function", () => 1],
    ["a symbol", Symbol("s")],
    ["a BigInt", 1n],
    ["a circular structure", circular],
  ];
  for (const [what, payload] of badPayloads) {
    it(`rejects ${what} as payload with InvalidPayloadError, writing nothing`, async () => {
      const client = new Client(db.pool);
      const before = await count("immediate");
      await assert.rejects(client.enqueue(payload), InvalidPayloadError);
      assert.equal(await count("immediate"), before);
    });
  }

  const badOptions: [string, object, string][] = [
    ["an invalid Date for runAt", { runAt: new Date("not a date") }, "runAt"],
    ["a number for runAt", { runAt: Date.now() }, "runAt"],
    ["an empty topic", { topic: "" }, "topic"],
    ["an empty key", { key: "" }, "key"],
    ["a key of 256 characters", { key: "k".repeat(256) }, "key"],
    ["a number as key", { key: 42 }, "key"],
    ["a header that is not a string", { headers: { retries: 3 } }, "headers.retries"],
    ["a Pool as tx", { tx: null }, "tx"],
  ];
  for (const [what, options, option] of badOptions) {
    it(`rejects ${what} with InvalidOptionError naming the option`, async () => {
      const client = new Client(db.pool);
      const before = await count("scheduled");
      const resolved = option === "tx" ? { tx: db.pool } : options;
      await assert.rejects(
        client.enqueue({ ok: true }, resolved as never),
        (error: unknown) => error instanceof InvalidOptionError && error.option === option,
      );
      assert.equal(await count("scheduled"), before);
    });
  }

  it("rejects a transaction that was already committed, writing nothing", async () => {
    const client = new Client(db.pool);
    const before = await count("immediate");
    const tx = await db.pool.connect();
    try {
      await tx.query("BEGIN");
      await tx.query("COMMIT");
      await assert.rejects(client.enqueue({ late: true }, { tx }), TransactionStateError);
      await assert.rejects(client.enqueueMany([1], { tx }), TransactionStateError);
    } finally {
      tx.release();
    }
    assert.equal(await count("immediate"), before);
  });

  it("rejects a connection that never began a transaction", async () => {
    const tx = await db.pool.connect();
    try {
      await tx.query("SELECT 1");
      await assert.rejects(new Client(db.pool).enqueue(1, { tx }), { code: "TRANSACTION_NOT_OPEN" });
    } finally {
      tx.release();
    }
  });

  it("rejects a transaction aborted by an earlier error", async () => {
    const tx = await db.pool.connect();
    try {
      await tx.query("BEGIN");
      await assert.rejects(tx.query("SELECT 1/0"));
      await assert.rejects(
        new Client(db.pool).enqueue(1, { tx }),
        (error: unknown) => error instanceof TransactionStateError && /failed transaction/.test(error.message),
      );
      await tx.query("ROLLBACK");
    } finally {
      tx.release();
    }
  });

  it("rejects a failed transaction even when the driver has not seen its status change yet", async () => {
    const tx = await db.pool.connect();
    try {
      await tx.query("BEGIN");
      await assert.rejects(tx.query("SELECT 1/0"));
      // A driver whose status lags (pg can, for one message) claims the transaction is fine.
      const lagging = {
        query: (text: string, values?: unknown[]) => tx.query(text, values),
        getTransactionStatus: () => "T" as const,
      };
      await assert.rejects(
        new Client(db.pool).enqueue(1, { tx: lagging }),
        (error: unknown) =>
          error instanceof TransactionStateError && (error.cause as { code?: string }).code === "25P02",
      );
      await tx.query("ROLLBACK");
    } finally {
      tx.release();
    }
  });

  it("rejects an injection attempt as schema name at construction", () => {
    assert.throws(
      () => new Client(db.pool, { schema: "poutbox; DROP TABLE poutbox.immediate" }),
      (error: unknown) => error instanceof InvalidOptionError && error.option === "schema",
    );
  });

  it("says to run migrate when the schema does not exist", async () => {
    const client = new Client(db.pool, { schema: "never_migrated" });
    await assert.rejects(
      client.enqueue({ a: 1 }),
      (error: unknown) =>
        error instanceof SchemaMissingError && error.code === "SCHEMA_MISSING" && error.cause !== undefined,
    );
    await assert.rejects(client.enqueueMany([1, 2]), SchemaMissingError);
  });

  it("works with a schema of its own", async () => {
    await migrate(db.pool, { schema: "tenant_a" });
    const id = await new Client(db.pool, { schema: "tenant_a" }).enqueue({ tenant: "a" });
    const { rows } = await db.pool.query("SELECT payload FROM tenant_a.immediate WHERE id = $1", [String(id)]);
    assert.deepEqual(rows[0].payload, { tenant: "a" });
  });
});

describe("Client prepared statements", () => {
  async function preparedOn(tx: pg.PoolClient): Promise<string[]> {
    const { rows } = await tx.query("SELECT name FROM pg_prepared_statements ORDER BY name");
    return rows.map((row) => row.name as string).filter((name) => name.startsWith("poutbox_"));
  }

  it("prepares each enqueue statement once per pg connection, and re-runs it", async () => {
    const client = new Client(db.pool);
    const tx = await db.pool.connect();
    try {
      await tx.query("DEALLOCATE ALL");
      await tx.query("BEGIN");
      const first = await client.enqueue({ n: 1 }, { tx });
      const second = await client.enqueue({ n: 2 }, { tx });
      const many = await client.enqueueMany([3, 4], { tx });
      await tx.query("COMMIT");
      assert.equal(second, first + 1n);
      assert.deepEqual(many, [first + 2n, first + 3n]);
      assert.equal((await preparedOn(tx)).length, 2, "one for enqueue, one for enqueueMany");
      assert.deepEqual(
        (await stored("immediate", [first, second, ...many])).map((job) => job.payload),
        [{ n: 1 }, { n: 2 }, 3, 4],
      );
    } finally {
      tx.release();
    }
  });

  it("runs plain statements with preparedStatements: false, and checks the option", async () => {
    const client = new Client(db.pool, { preparedStatements: false });
    const tx = await db.pool.connect();
    try {
      await tx.query("DEALLOCATE ALL");
      await tx.query("BEGIN");
      await client.enqueue({ n: 1 }, { tx });
      await tx.query("COMMIT");
      assert.deepEqual(await preparedOn(tx), []);
    } finally {
      tx.release();
    }
    assert.throws(
      () => new Client(db.pool, { preparedStatements: "yes" as never }),
      (error: unknown) => error instanceof InvalidOptionError && error.option === "preparedStatements",
    );
  });

  it("keeps working after its schema is dropped and migrated again under a prepared statement", async () => {
    await migrate(db.pool, { schema: "remade" });
    const client = new Client(db.pool, { schema: "remade" });
    const tx = await db.pool.connect();
    try {
      await client.enqueue({ before: true }, { tx: undefined });
      await tx.query("BEGIN");
      await client.enqueue({ before: true }, { tx });
      await tx.query("COMMIT");
      await db.pool.query("DROP SCHEMA remade CASCADE");
      await assert.rejects(
        (async () => {
          await tx.query("BEGIN");
          try {
            await client.enqueue({ gone: true }, { tx });
          } finally {
            await tx.query("ROLLBACK");
          }
        })(),
        SchemaMissingError,
      );
      await migrate(db.pool, { schema: "remade" });
      await tx.query("BEGIN");
      const id = await client.enqueue({ after: true }, { tx });
      await tx.query("COMMIT");
      const { rows } = await db.pool.query("SELECT payload FROM remade.immediate WHERE id = $1", [String(id)]);
      assert.deepEqual(rows[0]?.payload, { after: true });
    } finally {
      tx.release();
    }
  });
});
