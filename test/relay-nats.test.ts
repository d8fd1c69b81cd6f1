// The NATS JetStream relay (poutbox/nats) against the real NATS server: each committed job is
// stored once in the stream with the message contract's headers, a rolled-back one never; a
// republish after the relay lost its progress is dropped by JetStream's duplicate window; one
// key's messages keep their order; a message the stream refuses for good is dead-lettered and
// blocks only its key.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type Consumer,
  type ConsumerOptions,
  InvalidOptionError,
  listDeadLetters,
  moveConsumer,
} from "../src/index.js";
import { natsRelay, relayHeaders } from "../src/relays/nats.js";
import { inTransaction } from "./support/in-transaction.js";
import { testStream } from "./support/nats.js";
import { withRelay as withRelayConsumer } from "./support/relay-consumer.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const db = useTestDatabase();

type Stream = Awaited<ReturnType<typeof testStream>>;

function withRelay<T>(
  schema: string,
  stream: Stream,
  subject: string,
  options: ConsumerOptions,
  work: (relay: Consumer) => Promise<T>,
): Promise<T> {
  return withRelayConsumer(
    db.pool,
    natsRelay(stream.js, { subject: `${stream.prefix}.${subject}` }),
    { schema, name: "relay-nats" },
    options,
    work,
  );
}

describe("NATS JetStream relay", () => {
  it("a committed job is stored once, with the message contract; a rolled-back one never", async () => {
    const { schema, client } = await db.freshSchema("nats");
    const stream = await testStream();
    try {
      const committed = await inTransaction(db.pool, "COMMIT", (tx) =>
        client.enqueue(
          { orderId: 7, total: "12.50" },
          { tx, topic: "order.created", key: "order-7", headers: { traceparent: "00-abc-def-01" } },
        ),
      );
      await inTransaction(db.pool, "ROLLBACK", (tx) => client.enqueue({ orderId: 8 }, { tx, topic: "order.created" }));
      const marker = await client.enqueue({ marker: true }, { topic: "marker" });
      await withRelay(schema, stream, "{topic}", {}, async () => {
        await waitFor(async () => (await stream.messages()).length >= 2, { what: "two messages" });
      });
      const messages = await stream.messages();
      assert.equal(messages.length, 2, "the rolled-back job never reaches the stream");
      // Different keys' messages of one handler call are published side by side: find them by id.
      const byId = (id: bigint) => messages.find((message) => message.headers[relayHeaders.id] === String(id));
      const order = byId(committed);
      const last = byId(marker);
      assert.equal(order?.subject, `${stream.prefix}.order.created`);
      assert.deepEqual(JSON.parse(order?.data ?? ""), { orderId: 7, total: "12.50" });
      assert.equal(order?.headers[relayHeaders.id], String(committed));
      assert.equal(order?.headers[relayHeaders.topic], "order.created");
      assert.equal(order?.headers[relayHeaders.key], "order-7");
      assert.equal(order?.headers[relayHeaders.attempt], "1");
      assert.equal(order?.headers.traceparent, "00-abc-def-01", "the job's own headers ride along");
      assert.equal(order?.headers["Content-Type"], "application/json");
      assert.match(order?.headers["Nats-Msg-Id"] ?? "", new RegExp(`^${committed}-\\d+$`));
      const enqueuedAt = order?.headers[relayHeaders.enqueuedAt] ?? "";
      assert.ok(!Number.isNaN(Date.parse(enqueuedAt)), `an ISO time: ${enqueuedAt}`);
      assert.equal(last?.subject, `${stream.prefix}.marker`);
    } finally {
      await stream.close();
    }
  });

  it("jobs published again after the relay lost its progress are dropped by the duplicate window", async () => {
    const { schema, client } = await db.freshSchema("nats_dup");
    const stream = await testStream();
    try {
      const ids = await client.enqueueMany(
        Array.from({ length: 200 }, (_, n) => ({ n })),
        { topic: "t" },
      );
      const settle = async () => {
        await waitFor(async () => (await stream.messages()).length >= ids.length, { what: "every job in the stream" });
      };
      await withRelay(schema, stream, "{topic}", {}, settle);
      // As if the relay had crashed before recording its progress: everything goes out again.
      await moveConsumer(db.pool, { schema, consumer: "relay-nats", to: "oldest" });
      let delivered = 0;
      await withRelay(schema, stream, "{topic}", {}, async (relay) => {
        relay.on("batch", (batch: { jobs: number }) => {
          delivered += batch.jobs;
        });
        await waitFor(() => delivered >= ids.length, { what: "the second delivery of every job" });
      });
      const messages = await stream.messages();
      assert.equal(messages.length, ids.length, "each job stored once");
      assert.deepEqual(
        messages.map((message) => message.headers[relayHeaders.id]),
        ids.map(String),
      );
    } finally {
      await stream.close();
    }
  });

  it("keeps each key's messages in commit order, over many keys and a 1 MB payload", async () => {
    const { schema, client } = await db.freshSchema("nats_order");
    const stream = await testStream();
    try {
      const expected = new Map<string, string[]>();
      for (let round = 0; round < 40; round++) {
        const ids = await client.enqueueMany(
          Array.from({ length: 10 }, (_, n) => ({ round, n })),
          { topic: "orders", key: `k${round % 7}` },
        );
        const list = expected.get(`k${round % 7}`) ?? [];
        list.push(...ids.map(String));
        expected.set(`k${round % 7}`, list);
      }
      const big = await client.enqueue({ blob: "x".repeat(1_000_000) }, { topic: "orders", key: "k0" });
      expected.get("k0")?.push(String(big));
      await withRelay(schema, stream, "{key}", { batchSize: 64 }, async () => {
        await waitFor(async () => (await stream.messages()).length >= 401, { what: "every message" });
      });
      const messages = await stream.messages();
      for (const [key, ids] of expected) {
        const stored = messages.filter((message) => message.subject === `${stream.prefix}.${key}`);
        assert.deepEqual(
          stored.map((message) => message.headers[relayHeaders.id]),
          ids,
          `the order of ${key}`,
        );
      }
      const stored = messages.find((message) => message.headers[relayHeaders.id] === String(big));
      assert.equal(JSON.parse(stored?.data ?? "{}").blob.length, 1_000_000);
    } finally {
      await stream.close();
    }
  });

  it("a message the stream refuses for good goes to dead letter and blocks only its key", async () => {
    const { schema, client } = await db.freshSchema("nats_refused");
    const stream = await testStream({ maxMsgSize: 4096 });
    try {
      const refused = await client.enqueue({ blob: "x".repeat(10_000) }, { topic: "t", key: "big" });
      const behind = await client.enqueue({ small: true }, { topic: "t", key: "big" });
      const other = await client.enqueue({ small: true }, { topic: "t", key: "other" });
      const noTopic = await client.enqueue({ small: true }, { key: "no-topic" });
      await withRelay(schema, stream, "{topic}", { maxAttempts: 5 }, async (relay) => {
        const dead = await waitFor(
          async () => {
            const letters = await listDeadLetters(db.pool, { schema, consumer: relay.name });
            return letters.length >= 2 ? letters : undefined;
          },
          { what: "two dead letters" },
        );
        const byId = new Map(dead.map((letter) => [letter.id, letter]));
        assert.equal(byId.get(refused)?.attempts, 1, "refused for good: no retry");
        assert.match(byId.get(refused)?.lastError ?? "", /message size exceeds maximum/);
        assert.match(byId.get(noTopic)?.lastError ?? "", /has no topic for the destination/);
        await waitFor(async () => (await stream.messages()).length >= 1, { what: "the other key's message" });
        await new Promise((resolve) => setTimeout(resolve, 300));
      });
      const messages = await stream.messages();
      assert.deepEqual(
        messages.map((message) => message.headers[relayHeaders.id]),
        [String(other)],
        `the job behind the refused one (${behind}) waits: its key is blocked`,
      );
    } finally {
      await stream.close();
    }
  });

  it("retries while no stream takes the subject, and publishes once one does", async () => {
    const { schema, client } = await db.freshSchema("nats_nostream");
    const stream = await testStream({ createNow: false });
    try {
      const id = await client.enqueue({ early: true }, { topic: "t" });
      await withRelay(schema, stream, "{topic}", { maxAttempts: 1000 }, async () => {
        await waitFor(
          async () =>
            (await db.pool.query(`SELECT attempt FROM ${schema}.failed WHERE id = $1`, [id])).rows[0]?.attempt >= 2,
          { what: "failed publishes, retried" },
        );
        await stream.create();
        await waitFor(async () => (await stream.messages()).length === 1, {
          what: "the message, once a stream exists",
        });
      });
      const [message] = await stream.messages();
      assert.equal(message?.headers[relayHeaders.id], String(id));
      assert.ok(Number(message?.headers[relayHeaders.attempt]) >= 3, "delivered on a retry");
      assert.deepEqual(await listDeadLetters(db.pool, { schema }), []);
    } finally {
      await stream.close();
    }
  });

  it("refuses a subject template with an unknown placeholder", () => {
    const js = { publish: async () => ({ duplicate: false }) };
    assert.throws(
      () => natsRelay(js, { subject: "orders.{tenant}" }),
      (error: unknown) => error instanceof InvalidOptionError && /\{tenant\}/.test(error.message),
    );
    assert.throws(() => natsRelay(js, { subject: "" }), InvalidOptionError);
  });
});
