// The Redis Streams relay (poutbox/redis) against the real server: each committed job is added
// once with the message contract, a rolled-back one never; a republish after the relay lost
// its progress is not added again; one key's entries keep their order; a stream name that
// holds another type is refused for good, and blocks only its key.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type Consumer,
  type ConsumerOptions,
  InvalidOptionError,
  listDeadLetters,
  moveConsumer,
} from "../src/index.js";
import { redisStreamsRelay, relayHeaders } from "../src/relays/redis-streams.js";
import { inTransaction } from "./support/in-transaction.js";
import { testRedis } from "./support/redis.js";
import { withRelay as withRelayConsumer } from "./support/relay-consumer.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const db = useTestDatabase();

type Redis = Awaited<ReturnType<typeof testRedis>>;

function withRelay<T>(
  schema: string,
  redis: Redis,
  stream: string,
  options: ConsumerOptions,
  work: (relay: Consumer) => Promise<T>,
): Promise<T> {
  return withRelayConsumer(
    db.pool,
    redisStreamsRelay(redis.client, { stream: `${redis.prefix}:${stream}` }),
    { schema, name: "relay-redis" },
    options,
    work,
  );
}

describe("Redis Streams relay", () => {
  it("a committed job is added once, with the message contract; a rolled-back one never", async () => {
    const { schema, client } = await db.freshSchema("redis");
    const redis = await testRedis();
    try {
      const committed = await inTransaction(db.pool, "COMMIT", (tx) =>
        client.enqueue(
          { orderId: 7 },
          { tx, topic: "created", key: "order-7", headers: { traceparent: "00-abc-def-01" } },
        ),
      );
      await inTransaction(db.pool, "ROLLBACK", (tx) => client.enqueue({ orderId: 8 }, { tx, topic: "created" }));
      const marker = await client.enqueue({ marker: true }, { topic: "created" });
      const stream = `${redis.prefix}:created`;
      await withRelay(schema, redis, "{topic}", {}, async () => {
        await waitFor(async () => (await redis.entries(stream)).length >= 2, { what: "two entries" });
      });
      const entries = await redis.entries(stream);
      assert.equal(entries.length, 2, "the rolled-back job is never added");
      const order = entries.find((entry) => entry[relayHeaders.id] === String(committed));
      assert.deepEqual(JSON.parse(order?.payload ?? ""), { orderId: 7 });
      assert.match(order?.["message-id"] ?? "", new RegExp(`^${committed}-\\d+$`));
      assert.equal(order?.[relayHeaders.topic], "created");
      assert.equal(order?.[relayHeaders.key], "order-7");
      assert.equal(order?.[relayHeaders.attempt], "1");
      assert.equal(order?.traceparent, "00-abc-def-01");
      assert.ok(entries.some((entry) => entry[relayHeaders.id] === String(marker)));
    } finally {
      await redis.close();
    }
  });

  it("jobs published again after the relay lost its progress are not added twice", async () => {
    const { schema, client } = await db.freshSchema("redis_dup");
    const redis = await testRedis();
    try {
      const ids = await client.enqueueMany(
        Array.from({ length: 200 }, (_, n) => ({ n })),
        { topic: "t" },
      );
      const stream = `${redis.prefix}:t`;
      await withRelay(schema, redis, "{topic}", {}, async () => {
        await waitFor(async () => (await redis.entries(stream)).length >= ids.length, { what: "every job" });
      });
      await moveConsumer(db.pool, { schema, consumer: "relay-redis", to: "oldest" });
      let delivered = 0;
      await withRelay(schema, redis, "{topic}", {}, async (relay) => {
        relay.on("batch", (batch: { jobs: number }) => {
          delivered += batch.jobs;
        });
        await waitFor(() => delivered >= ids.length, { what: "the second delivery of every job" });
      });
      const entries = await redis.entries(stream);
      assert.deepEqual(
        entries.map((entry) => entry[relayHeaders.id]),
        ids.map(String),
        "each job added once, in order",
      );
    } finally {
      await redis.close();
    }
  });

  it("keeps each key's entries in commit order, over many keys and a 1 MB payload", async () => {
    const { schema, client } = await db.freshSchema("redis_order");
    const redis = await testRedis();
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
      await withRelay(schema, redis, "{key}", { batchSize: 64 }, async () => {
        await waitFor(async () => (await redis.entries(`${redis.prefix}:k0`)).length >= 61, { what: "every entry" });
        for (const [key, ids] of expected) {
          await waitFor(async () => (await redis.entries(`${redis.prefix}:${key}`)).length >= ids.length, {
            what: `the entries of ${key}`,
          });
        }
      });
      for (const [key, ids] of expected) {
        const entries = await redis.entries(`${redis.prefix}:${key}`);
        assert.deepEqual(
          entries.map((entry) => entry[relayHeaders.id]),
          ids,
          `the order of ${key}`,
        );
      }
      const stored = (await redis.entries(`${redis.prefix}:k0`)).at(-1);
      assert.equal(JSON.parse(stored?.payload ?? "{}").blob.length, 1_000_000);
    } finally {
      await redis.close();
    }
  });

  it("a stream name holding another type is refused for good: dead letter, only its key blocked", async () => {
    const { schema, client } = await db.freshSchema("redis_refused");
    const redis = await testRedis();
    try {
      await redis.client.set(`${redis.prefix}:taken`, "a string, not a stream");
      const refused = await client.enqueue({ n: 1 }, { topic: "taken", key: "a" });
      const behind = await client.enqueue({ n: 2 }, { topic: "fine", key: "a" });
      const other = await client.enqueue({ n: 3 }, { topic: "fine", key: "b" });
      await withRelay(schema, redis, "{topic}", { maxAttempts: 5 }, async (relay) => {
        const [dead] = await waitFor(
          async () => {
            const letters = await listDeadLetters(db.pool, { schema, consumer: relay.name });
            return letters.length > 0 ? letters : undefined;
          },
          { what: "the dead letter" },
        );
        assert.equal(dead?.id, refused);
        assert.equal(dead?.attempts, 1, "refused for good: no retry");
        assert.match(dead?.lastError ?? "", /WRONGTYPE/);
        await waitFor(async () => (await redis.entries(`${redis.prefix}:fine`)).length >= 1, { what: "the other key" });
        await new Promise((resolve) => setTimeout(resolve, 300));
      });
      assert.deepEqual(
        (await redis.entries(`${redis.prefix}:fine`)).map((entry) => entry[relayHeaders.id]),
        [String(other)],
        `the job behind the refused one (${behind}) waits: its key is blocked`,
      );
      assert.deepEqual(
        (await redis.keys()).filter((name) => name.includes("poutbox-dedup")).length,
        1,
        "only the added entry left a dedup mark: the failed one can be retried",
      );
    } finally {
      await redis.close();
    }
  });

  it("loads its script again when Redis has forgotten it (SCRIPT FLUSH, a restart)", async () => {
    const { schema, client } = await db.freshSchema("redis_flush");
    const redis = await testRedis();
    try {
      const stream = `${redis.prefix}:t`;
      await withRelay(schema, redis, "{topic}", {}, async () => {
        await client.enqueue({ n: 1 }, { topic: "t" });
        await waitFor(async () => (await redis.entries(stream)).length === 1, { what: "the first entry" });
        await redis.client.scriptFlush();
        await client.enqueue({ n: 2 }, { topic: "t" });
        await waitFor(async () => (await redis.entries(stream)).length === 2, { what: "the entry after the flush" });
      });
      assert.deepEqual(await listDeadLetters(db.pool, { schema }), []);
      const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM ${schema}.failed`);
      assert.equal(rows[0].n, 0, "no publish failed: the relay loaded the script again at once");
    } finally {
      await redis.close();
    }
  });

  it("refuses bad options", () => {
    const redis = { scriptLoad: async () => "sha", evalSha: async () => null };
    assert.throws(() => redisStreamsRelay(redis, { stream: "x:{tenant}" }), InvalidOptionError);
    assert.throws(() => redisStreamsRelay(redis, { stream: "x", dedupWindow: 0 }), InvalidOptionError);
    assert.throws(() => redisStreamsRelay(redis, { stream: "x", maxLength: -1 }), InvalidOptionError);
  });
});
