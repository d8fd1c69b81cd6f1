// Testing a producer and a handler with poutbox/testing, in node:test. Run it with
// `node --import tsx --test examples/testing/orders.test.ts` (after `npm run build` in this
// repository): on the server in DATABASE_URL, or on an embedded PostgreSQL when it is unset.
// docs/testing.md shows the same in Vitest.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type pg from "pg";
import { Client, type Handler } from "poutbox";
import { drain, startTestDatabase } from "poutbox/testing";

interface OrderPlaced {
  orderId: number;
  email: string;
}

// The code under test: a producer that saves an order and its job in one transaction...
async function placeOrder(pool: pg.Pool, email: string): Promise<number> {
  const outbox = new Client<OrderPlaced>(pool);
  const tx = await pool.connect();
  try {
    await tx.query("BEGIN");
    await tx.query("CREATE TABLE IF NOT EXISTS orders (id serial PRIMARY KEY, email text NOT NULL)");
    const { rows } = await tx.query("INSERT INTO orders (email) VALUES ($1) RETURNING id", [email]);
    await outbox.enqueue({ orderId: rows[0].id, email }, { tx, topic: "order.placed" });
    await tx.query("COMMIT");
    return rows[0].id;
  } catch (error) {
    await tx.query("ROLLBACK");
    throw error;
  } finally {
    tx.release();
  }
}

// ...and a handler that mails a confirmation, failing the jobs it cannot send.
function confirmationMailer(outbox: string[]): Handler<OrderPlaced> {
  return async (jobs) =>
    jobs.flatMap((job) => {
      if (job.payload.email.endsWith(".invalid")) return [{ job, error: new Error("no such domain") }];
      outbox.push(`order ${job.payload.orderId} to ${job.payload.email}`);
      return [];
    });
}

describe("order confirmations", () => {
  it("mails one confirmation per order placed", async () => {
    await using db = await startTestDatabase();
    const first = await placeOrder(db.pool, "ada@example.com");
    const second = await placeOrder(db.pool, "alan@example.com");

    const mailed: string[] = [];
    const { deliveries, contents } = await drain(db.pool, confirmationMailer(mailed), { name: "mailer" });

    assert.deepEqual(mailed, [`order ${first} to ada@example.com`, `order ${second} to alan@example.com`]);
    assert.equal(deliveries.length, 2);
    assert.equal(contents.dead.length, 0);
  });

  it("gives up on an address that cannot work, after its attempts", async () => {
    await using db = await startTestDatabase();
    const order = await placeOrder(db.pool, "nobody@example.invalid");

    const mailed: string[] = [];
    const { deliveries, contents } = await drain(db.pool, confirmationMailer(mailed), {
      name: "mailer",
      maxAttempts: 3,
      backoff: { base: 10 }, // ms before the first retry, so the test takes no time
    });

    assert.deepEqual(mailed, []);
    assert.deepEqual(
      deliveries.map((job) => job.attempt),
      [1, 2, 3],
    );
    assert.deepEqual(
      contents.dead.map((dead) => dead.payload),
      [{ orderId: order, email: "nobody@example.invalid" }],
    );
    assert.match(contents.dead[0]?.lastError ?? "", /no such domain/);
  });
});
