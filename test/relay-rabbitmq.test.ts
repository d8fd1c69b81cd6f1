// The RabbitMQ relay (poutbox/rabbitmq) against the real broker: a committed job arrives with
// the message contract, persistent, a rolled-back one never; one key's messages keep their
// order; a message no queue takes, or one a full queue refuses, is retried until it is taken;
// one that can never be sent is dead-lettered and blocks only its key.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import { type Consumer, type ConsumerOptions, InvalidOptionError, listDeadLetters } from "../src/index.js";
import { rabbitmqRelay, relayHeaders } from "../src/relays/rabbitmq.js";
import { inTransaction } from "./support/in-transaction.js";
import { testExchange } from "./support/rabbitmq.js";
import { withRelay as withRelayConsumer } from "./support/relay-consumer.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const db = useTestDatabase();

type Exchange = Awaited<ReturnType<typeof testExchange>>;

function withRelay<T>(
  schema: string,
  exchange: Exchange,
  routingKey: string,
  options: ConsumerOptions,
  work: (relay: Consumer) => Promise<T>,
): Promise<T> {
  return withRelayConsumer(
    db.pool,
    rabbitmqRelay(exchange.connection, { exchange: exchange.name, routingKey }),
    { schema, name: "relay-rabbitmq" },
    options,
    work,
  );
}

describe("RabbitMQ relay", () => {
  it("a committed job arrives once, persistent, with the message contract; a rolled-back one never", async () => {
    const { schema, client } = await db.freshSchema("rabbit");
    const exchange = await testExchange();
    try {
      const committed = await inTransaction(db.pool, "COMMIT", (tx) =>
        client.enqueue(
          { orderId: 7 },
          { tx, topic: "order.created", key: "order-7", headers: { traceparent: "00-abc-def-01" } },
        ),
      );
      await inTransaction(db.pool, "ROLLBACK", (tx) => client.enqueue({ orderId: 8 }, { tx, topic: "order.created" }));
      const marker = await client.enqueue({ marker: true }, { topic: "marker" });
      await withRelay(schema, exchange, "{topic}", {}, async () => {
        await waitFor(async () => (await exchange.messages()).length >= 2, { what: "two messages" });
      });
      const messages = await exchange.messages();
      assert.equal(messages.length, 2, "the rolled-back job never reaches the broker");
      const byId = (id: bigint) => messages.find((message) => message.headers[relayHeaders.id] === String(id));
      const order = byId(committed);
      assert.equal(order?.routingKey, "order.created");
      assert.deepEqual(JSON.parse(order?.data ?? ""), { orderId: 7 });
      assert.match(order?.messageId ?? "", new RegExp(`^${committed}-\\d+$`));
      assert.equal(order?.deliveryMode, 2, "persistent");
      assert.equal(order?.contentType, "application/json");
      assert.equal(order?.headers[relayHeaders.key], "order-7");
      assert.equal(order?.headers[relayHeaders.attempt], "1");
      assert.equal(order?.headers.traceparent, "00-abc-def-01");
      assert.equal(byId(marker)?.routingKey, "marker");
    } finally {
      await exchange.close();
    }
  });

  it("keeps each key's messages in commit order, over many keys and a 1 MB payload", async () => {
    const { schema, client } = await db.freshSchema("rabbit_order");
    const exchange = await testExchange();
    try {
      const expected = new Map<string, string[]>();
      for (let round = 0; round < 40; round++) {
        const key = `k${round % 7}`;
        const ids = await client.enqueueMany(
          Array.from({ length: 10 }, (_, n) => ({ round, n })),
          { topic: "orders", key },
        );
        expected.set(key, [...(expected.get(key) ?? []), ...ids.map(String)]);
      }
      const big = await client.enqueue({ blob: "x".repeat(1_000_000) }, { topic: "orders", key: "k0" });
      expected.get("k0")?.push(String(big));
      await withRelay(schema, exchange, "orders.{key}", { batchSize: 64 }, async () => {
        await waitFor(async () => (await exchange.messages()).length >= 401, { what: "every message" });
      });
      const messages = await exchange.messages();
      for (const [key, ids] of expected) {
        const arrived = messages.filter((message) => message.routingKey === `orders.${key}`);
        assert.deepEqual(
          arrived.map((message) => message.headers[relayHeaders.id]),
          ids,
          `the order of ${key}`,
        );
      }
      const stored = messages.find((message) => message.headers[relayHeaders.id] === String(big));
      assert.equal(JSON.parse(stored?.data ?? "{}").blob.length, 1_000_000);
    } finally {
      await exchange.close();
    }
  });

  it("a message no queue takes is retried until one is bound, and nothing is lost", async () => {
    const { schema, client } = await db.freshSchema("rabbit_unroutable");
    const exchange = await testExchange({ bind: false });
    try {
      const id = await client.enqueue({ early: true }, { topic: "t" });
      await withRelay(schema, exchange, "{topic}", { maxAttempts: 1000 }, async () => {
        // The row is read once: between two reads the retry can promote it out of `failed`.
        const failed = await waitFor(
          async () => {
            const { rows } = await db.pool.query(`SELECT attempt, last_error FROM ${schema}.failed WHERE id = $1`, [
              id,
            ]);
            return rows[0]?.attempt >= 2 ? (rows[0] as { last_error: string }) : undefined;
          },
          { what: "returned publishes, retried" },
        );
        assert.match(failed.last_error, /no queue took the message/);
        await exchange.bind();
        await waitFor(async () => (await exchange.messages()).length === 1, {
          what: "the message, once a queue is bound",
        });
      });
      const [message] = await exchange.messages();
      assert.equal(message?.headers[relayHeaders.id], String(id));
    } finally {
      await exchange.close();
    }
  });

  it("a message a full queue refuses (nack) is retried until the queue has room", async () => {
    const { schema, client } = await db.freshSchema("rabbit_nack");
    const exchange = await testExchange({ queueArguments: { "x-max-length": 2, "x-overflow": "reject-publish" } });
    try {
      const ids = await client.enqueueMany(
        Array.from({ length: 8 }, (_, n) => ({ n })),
        { topic: "t" },
      );
      let refusals = 0;
      await withRelay(schema, exchange, "{topic}", { maxAttempts: 1000 }, async (relay) => {
        relay.on("batch", (batch: { failed: number }) => {
          refusals += batch.failed;
        });
        await waitFor(async () => (await exchange.messages()).length >= ids.length, {
          interval: 50,
          what: "every message, two at a time",
        });
      });
      assert.ok(refusals > 0, "the full queue refused some publishes");
      const arrived = new Set((await exchange.messages()).map((message) => message.headers[relayHeaders.id]));
      assert.deepEqual([...arrived].sort(), ids.map(String).sort(), "every job arrived");
      assert.deepEqual(await listDeadLetters(db.pool, { schema }), []);
    } finally {
      await exchange.close();
    }
  });

  it("a message that can never be sent goes to dead letter and blocks only its key", async () => {
    const { schema, client } = await db.freshSchema("rabbit_refused");
    const exchange = await testExchange();
    try {
      // AMQP header tables are at most 64 KiB: amqplib refuses this one before sending.
      const refused = await client.enqueue({}, { topic: "t", key: "big", headers: { huge: "x".repeat(70_000) } });
      const behind = await client.enqueue({ small: true }, { topic: "t", key: "big" });
      const other = await client.enqueue({ small: true }, { topic: "t", key: "other" });
      await withRelay(schema, exchange, "{topic}", { maxAttempts: 5 }, async (relay) => {
        const [dead] = await waitFor(
          async () => {
            const letters = await listDeadLetters(db.pool, { schema, consumer: relay.name });
            return letters.length > 0 ? letters : undefined;
          },
          { what: "the dead letter" },
        );
        assert.equal(dead?.id, refused);
        assert.equal(dead?.attempts, 1, "refused for good: no retry");
        await waitFor(async () => (await exchange.messages()).length >= 1, { what: "the other key's message" });
        await new Promise((resolve) => setTimeout(resolve, 300));
      });
      assert.deepEqual(
        (await exchange.messages()).map((message) => message.headers[relayHeaders.id]),
        [String(other)],
        `the job behind the refused one (${behind}) waits: its key is blocked`,
      );
    } finally {
      await exchange.close();
    }
  });

  it("a message over the broker's max_message_size is dead-lettered; the channel it closed is replaced", async () => {
    const { schema, client } = await db.freshSchema("rabbit_too_large");
    const exchange = await testExchange();
    // The broker-wide limit, lowered for this test alone (the other relay tests run before or after it).
    const setLimit = (bytes: number) =>
      execFileSync("rabbitmqctl", ["eval", `application:set_env(rabbit, max_message_size, ${bytes}).`]);
    setLimit(4096);
    try {
      const big = await client.enqueue({ blob: "x".repeat(10_000) }, { topic: "t", key: "big" });
      const small = await client.enqueueMany([{ n: 1 }, { n: 2 }, { n: 3 }], { topic: "t", key: "small" });
      await withRelay(schema, exchange, "{topic}", { maxAttempts: 5 }, async (relay) => {
        const [dead] = await waitFor(
          async () => {
            const letters = await listDeadLetters(db.pool, { schema, consumer: relay.name });
            return letters.length > 0 ? letters : undefined;
          },
          { what: "the dead letter" },
        );
        assert.equal(dead?.id, big);
        assert.equal(dead?.attempts, 1, "refused for good: no retry");
        assert.match(dead?.lastError ?? "", /larger than configured max size 4096/);
        await waitFor(async () => (await exchange.messages()).length >= small.length, { what: "the small messages" });
      });
      assert.deepEqual(
        (await exchange.messages()).map((message) => message.headers[relayHeaders.id]),
        small.map(String),
        "the other key's messages, in order, on the channel opened after",
      );
    } finally {
      setLimit(134_217_728);
      await exchange.close();
    }
  });

  it("refuses a routing key template with an unknown placeholder", () => {
    const connection = { createConfirmChannel: async () => Promise.reject(new Error("unused")) };
    assert.throws(
      () => rabbitmqRelay(connection, { exchange: "x", routingKey: "{tenant}" }),
      (error: unknown) => error instanceof InvalidOptionError && /\{tenant\}/.test(error.message),
    );
  });
});
