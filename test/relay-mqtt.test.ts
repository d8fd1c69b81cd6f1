// The MQTT relay (poutbox/mqtt) against the real Mosquitto: each committed job arrives once at a
// QoS 1 subscriber, with the message contract as MQTT 5 user properties, a rolled-back one
// never; one key's messages keep their order; a 1 MB payload goes through; a topic no broker
// takes is dead-lettered and blocks only its key; a republish arrives again with the same
// message id (MQTT does not deduplicate).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import mqtt from "mqtt";
import {
  type Consumer,
  type ConsumerOptions,
  InvalidOptionError,
  listDeadLetters,
  moveConsumer,
} from "../src/index.js";
import { type MqttPublisher, mqttMessageIdProperty, mqttRelay, relayHeaders } from "../src/relays/mqtt.js";
import { inTransaction } from "./support/in-transaction.js";
import { mqttUrl, testTopics } from "./support/mqtt.js";
import { withRelay as withRelayConsumer } from "./support/relay-consumer.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const db = useTestDatabase();

type Topics = Awaited<ReturnType<typeof testTopics>>;

function withRelay<T>(
  schema: string,
  topics: Topics,
  topic: string,
  options: ConsumerOptions,
  work: (relay: Consumer) => Promise<T>,
): Promise<T> {
  return withRelayConsumer(
    db.pool,
    mqttRelay(topics.client, { topic: `${topics.prefix}/${topic}` }),
    { schema, name: "relay-mqtt" },
    options,
    work,
  );
}

describe("MQTT relay", () => {
  it("a committed job arrives once, with the message contract; a rolled-back one never", async () => {
    const { schema, client } = await db.freshSchema("mqtt");
    const topics = await testTopics();
    try {
      const committed = await inTransaction(db.pool, "COMMIT", (tx) =>
        client.enqueue(
          { orderId: 7, total: "12.50" },
          { tx, topic: "order.created", key: "order-7", headers: { traceparent: "00-abc-def-01" } },
        ),
      );
      await inTransaction(db.pool, "ROLLBACK", (tx) => client.enqueue({ orderId: 8 }, { tx, topic: "order.created" }));
      const marker = await client.enqueue({ marker: true }, { topic: "marker" });
      await withRelay(schema, topics, "{topic}", {}, async () => {
        await waitFor(() => topics.received.length >= 2, { what: "two messages" });
        await new Promise((resolve) => setTimeout(resolve, 200));
      });
      assert.equal(topics.received.length, 2, "the rolled-back job never arrives");
      const byId = (id: bigint) =>
        topics.received.find((message) => message.properties[relayHeaders.id] === String(id));
      const order = byId(committed);
      assert.equal(order?.topic, `${topics.prefix}/order.created`);
      assert.deepEqual(JSON.parse(order?.data ?? ""), { orderId: 7, total: "12.50" });
      assert.equal(order?.properties[relayHeaders.topic], "order.created");
      assert.equal(order?.properties[relayHeaders.key], "order-7");
      assert.equal(order?.properties[relayHeaders.attempt], "1");
      assert.equal(order?.properties.traceparent, "00-abc-def-01", "the job's own headers ride along");
      assert.equal(order?.contentType, "application/json");
      assert.match(order?.properties[mqttMessageIdProperty] ?? "", new RegExp(`^${committed}-\\d+$`));
      assert.equal(byId(marker)?.topic, `${topics.prefix}/marker`);
    } finally {
      await topics.close();
    }
  });

  it("keeps each key's messages in commit order, over many keys and a 1 MB payload", async () => {
    const { schema, client } = await db.freshSchema("mqtt_order");
    const topics = await testTopics();
    try {
      const expected = new Map<string, string[]>();
      for (let round = 0; round < 30; round++) {
        const key = `k${round % 7}`;
        const ids = await client.enqueueMany(
          Array.from({ length: 10 }, (_, n) => ({ round, n })),
          { topic: "orders", key },
        );
        expected.set(key, [...(expected.get(key) ?? []), ...ids.map(String)]);
      }
      const big = await client.enqueue({ blob: "x".repeat(1_000_000) }, { topic: "orders", key: "k0" });
      expected.get("k0")?.push(String(big));
      await withRelay(schema, topics, "{key}", { batchSize: 64 }, async () => {
        await waitFor(() => topics.received.length >= 301, { what: "every message" });
      });
      for (const [key, ids] of expected) {
        const arrived = topics.received.filter((message) => message.topic === `${topics.prefix}/${key}`);
        assert.deepEqual(
          arrived.map((message) => message.properties[relayHeaders.id]),
          ids,
          `the order of ${key}`,
        );
      }
      const stored = topics.received.find((message) => message.properties[relayHeaders.id] === String(big));
      assert.equal(JSON.parse(stored?.data ?? "{}").blob.length, 1_000_000);
    } finally {
      await topics.close();
    }
  });

  it("a job whose topic no broker takes goes to dead letter at once and blocks only its key", async () => {
    const { schema, client } = await db.freshSchema("mqtt_refused");
    const topics = await testTopics();
    try {
      const refused = await client.enqueue({ n: 1 }, { topic: "t", key: "a+b" });
      const behind = await client.enqueue({ n: 2 }, { topic: "t", key: "a+b" });
      const other = await client.enqueue({ n: 3 }, { topic: "t", key: "fine" });
      await withRelay(schema, topics, "{key}", { maxAttempts: 5 }, async (relay) => {
        const [dead] = await waitFor(
          async () => {
            const letters = await listDeadLetters(db.pool, { schema, consumer: relay.name });
            return letters.length >= 1 ? letters : undefined;
          },
          { what: "the dead letter" },
        );
        assert.equal(dead?.id, refused);
        assert.equal(dead?.attempts, 1, "refused for good: no retry");
        assert.match(dead?.lastError ?? "", /not a topic to publish to/);
        await waitFor(() => topics.received.length >= 1, { what: "the other key's message" });
        await new Promise((resolve) => setTimeout(resolve, 300));
      });
      assert.deepEqual(
        topics.received.map((message) => message.properties[relayHeaders.id]),
        [String(other)],
        `the job behind the refused one (${behind}) waits: its key is blocked`,
      );
    } finally {
      await topics.close();
    }
  });

  it("jobs published again after the relay lost its progress arrive again, with the same message id", async () => {
    const { schema, client } = await db.freshSchema("mqtt_again");
    const topics = await testTopics();
    try {
      const ids = await client.enqueueMany(
        Array.from({ length: 50 }, (_, n) => ({ n })),
        { topic: "t" },
      );
      await withRelay(schema, topics, "{topic}", {}, async () => {
        await waitFor(() => topics.received.length >= ids.length, { what: "every job" });
      });
      const first = topics.received.map((message) => message.properties[mqttMessageIdProperty]);
      await moveConsumer(db.pool, { schema, consumer: "relay-mqtt", to: "oldest" });
      await withRelay(schema, topics, "{topic}", {}, async () => {
        await waitFor(() => topics.received.length >= 2 * ids.length, { what: "every job again" });
      });
      const again = topics.received.slice(ids.length).map((message) => message.properties[mqttMessageIdProperty]);
      assert.deepEqual(new Set(again), new Set(first), "the same message ids, for subscribers to deduplicate on");
    } finally {
      await topics.close();
    }
  });

  it("refuses an MQTT 3.1.1 connection, a bad ack timeout and a bad template", async () => {
    const old = await mqtt.connectAsync(mqttUrl, { protocolVersion: 4 });
    try {
      assert.throws(() => mqttRelay(old as unknown as MqttPublisher, { topic: "t" }), InvalidOptionError);
    } finally {
      await old.endAsync(true);
    }
    const topics = await testTopics();
    try {
      assert.throws(() => mqttRelay(topics.client, { topic: "t", ackTimeout: 0 }), InvalidOptionError);
      assert.throws(() => mqttRelay(topics.client, { topic: "orders/{id}" }), InvalidOptionError);
      assert.throws(() => mqttRelay(topics.client, { topic: "" }), InvalidOptionError);
    } finally {
      await topics.close();
    }
  });
});
