import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { type } from "arktype";
import * as v from "valibot";
import { z } from "zod";
import {
  Client,
  Consumer,
  defineTopics,
  InvalidOptionError,
  listDeadLetters,
  migrate,
  PayloadValidationError,
} from "../src/index.js";
import { needs } from "./support/needs.js";
import { recorder } from "./support/recorder.js";
import { dropSlots, replicationConsumer } from "./support/replication.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const db = useTestDatabase((created) => migrate(created.pool));

/** A Standard Schema written by hand: asynchronous, and throwing on a marker value. */
const asyncEven: StandardSchemaV1<number> = {
  "~standard": {
    version: 1,
    vendor: "test",
    async validate(value) {
      if (value === 13) throw new Error("unlucky schema");
      return typeof value === "number" && value % 2 === 0
        ? { value }
        : { issues: [{ message: "expected an even number" }] };
    },
  },
};

const topics = defineTopics({
  "order.created": z.object({
    orderId: z.number().int(),
    placedAt: z.iso.datetime().transform((text) => new Date(text)),
  }),
  "mail.bounce": v.object({ to: v.pipe(v.string(), v.email()), code: v.number() }),
  "mail.open": type({ to: "string", at: "number > 0" }),
  even: asyncEven,
});

async function rowCount(schema = "poutbox"): Promise<number> {
  const { rows } = await db.pool.query(
    `SELECT (SELECT count(*) FROM ${schema}.immediate) + (SELECT count(*) FROM ${schema}.scheduled) AS n`,
  );
  return Number(rows[0].n);
}

describe("topics at enqueue", () => {
  it("stores payloads that pass their topic's schema (zod, valibot, arktype, a hand-written async one)", async () => {
    const { schema } = await db.freshSchema("valid");
    const outbox = new Client(db.pool, { schema, topics });
    const placedAt = "2026-01-02T03:04:05Z";
    await outbox.enqueue({ orderId: 1, placedAt }, { topic: "order.created" });
    await outbox.enqueue({ to: "a@example.com", code: 550 }, { topic: "mail.bounce" });
    await outbox.enqueue({ to: "a@example.com", at: 7 }, { topic: "mail.open" });
    await outbox.enqueueMany([2, 4], { topic: "even", runAt: new Date() });
    const { rows } = await db.pool.query(`SELECT payload::text FROM ${schema}.immediate WHERE topic = 'order.created'`);
    // What the producer gave is stored, not the schema's output (a Date here).
    assert.equal(rows[0].payload, JSON.stringify({ orderId: 1, placedAt }));
    assert.equal(await rowCount(schema), 5);
  });

  const refusals: [string, () => Promise<unknown>, string, string[]][] = [
    [
      "zod",
      () => client().enqueue({ orderId: 1.5, placedAt: "yesterday" }, { topic: "order.created" }),
      "order.created",
      ["payload.orderId", "payload.placedAt"],
    ],
    [
      "valibot",
      () => client().enqueue({ to: "nobody", code: 550 }, { topic: "mail.bounce" }),
      "mail.bounce",
      ["payload.to"],
    ],
    ["arktype", () => client().enqueue({ to: "a", at: -1 }, { topic: "mail.open" }), "mail.open", ["payload.at"]],
    ["an async schema", () => client().enqueue(3, { topic: "even" }), "even", ["payload"]],
    [
      "enqueueMany, naming the bad element",
      () =>
        client().enqueueMany([{ to: "a", at: 1 }, { to: "b" } as never, { to: "c", at: 3 }], { topic: "mail.open" }),
      "mail.open",
      ["payloads[1].at"],
    ],
  ];
  let schemaForRefusals: string;
  const client = () => new Client(db.pool, { schema: schemaForRefusals, topics });
  for (const [what, call, topic, paths] of refusals) {
    it(`refuses a payload that fails its schema (${what}) with PayloadValidationError, writing nothing`, async () => {
      schemaForRefusals ??= (await db.freshSchema("refused")).schema;
      await assert.rejects(call(), (error: unknown) => {
        assert.ok(error instanceof PayloadValidationError);
        assert.equal(error.code, "PAYLOAD_VALIDATION");
        assert.equal(error.topic, topic);
        assert.deepEqual(
          error.issues.map((issue) => issue.path),
          paths,
        );
        assert.match(
          error.message,
          new RegExp(`^Payload for topic "${topic}" failed validation: ${paths[0]?.replace(/[[\]]/g, "\\$&")}: `),
        );
        return true;
      });
      assert.equal(await rowCount(schemaForRefusals), 0);
    });
  }

  it("refuses a missing or undeclared topic, and a throwing schema's error passes through", async () => {
    const { schema } = await db.freshSchema("topic");
    const outbox = new Client(db.pool, { schema, topics });
    await assert.rejects(
      outbox.enqueue({ orderId: 1 } as never, {} as never),
      (error: unknown) =>
        error instanceof InvalidOptionError && error.option === "topic" && /required/.test(error.message),
    );
    await assert.rejects(
      outbox.enqueue({} as never, { topic: "order.lost" as never }),
      (error: unknown) =>
        error instanceof InvalidOptionError &&
        /"order.lost" is not a declared topic \("order.created"/.test(error.message),
    );
    await assert.rejects(outbox.enqueue(13, { topic: "even" }), /unlucky schema/);
    assert.equal(await rowCount(schema), 0);
  });

  it("refuses topics that did not come from defineTopics, and schemas that are not Standard Schemas", () => {
    assert.throws(
      () => new Client(db.pool, { topics: { schemas: undefined } as never }),
      (error: unknown) => error instanceof InvalidOptionError && error.option === "topics",
    );
    assert.throws(
      () => new Consumer(db.pool, async () => {}, { topics: {} as never }),
      (error: unknown) => error instanceof InvalidOptionError && error.option === "topics",
    );
    assert.throws(
      () => defineTopics({ "order.created": { parse: () => 1 } as never }),
      (error: unknown) => error instanceof InvalidOptionError && error.option === "topics.order.created",
    );
    assert.throws(() => defineTopics({ "": z.string() }), InvalidOptionError);
    assert.throws(() => defineTopics(null as never), InvalidOptionError);
  });

  it("with a map declared by types alone, checks nothing at run time", async () => {
    const { schema } = await db.freshSchema("types_only");
    const outbox = new Client(db.pool, { schema, topics: defineTopics<{ a: { n: number } }>() });
    await outbox.enqueue({ n: "not a number" } as never, { topic: "a" });
    await outbox.enqueue({ n: 1 }, {} as never);
    assert.equal(await rowCount(schema), 2);
  });
});

describe("topics in a consumer", () => {
  it("hands the handler schema outputs, and sends jobs that fail their schema or, subscribed by a pattern, have no declared topic straight to dead letter", async () => {
    const { schema, client: unchecked } = await db.freshSchema("consumer");
    // Producers that skipped validation: a plain client, and SQL.
    const good = await unchecked.enqueue({ orderId: 1, placedAt: "2026-01-02T03:04:05Z" }, { topic: "order.created" });
    const badPayload = await unchecked.enqueue({ orderId: "one" }, { topic: "order.created" });
    const undeclared = await unchecked.enqueue({ x: 1 }, { topic: "order.lost" });
    const noTopic = await unchecked.enqueue({ x: 1 });
    const throwing = await unchecked.enqueue(13, { topic: "even" });
    const asyncBad = await unchecked.enqueue(5, { topic: "even" });
    const asyncGood = await unchecked.enqueue(6, { topic: "even" });

    const record = recorder();
    // "*" takes every job with a topic: those the map does not declare reach validation.
    const consumer = new Consumer(db.pool, record.handler, {
      schema,
      name: "checked",
      topics,
      subscribe: ["*"],
      maxAttempts: 5,
    });
    const errors: Error[] = [];
    consumer.on("error", (error) => errors.push(error));
    await consumer.start();
    try {
      await waitFor(() => record.deliveries.length >= 2, { what: "the two valid jobs" });
      // The consumer goes on after refusing jobs: a later valid job still arrives.
      const later = await unchecked.enqueue({ to: "b@example.com", code: 421 }, { topic: "mail.bounce" });
      await waitFor(() => record.ids().includes(later), { what: "the later job" });
    } finally {
      await consumer.stop();
    }
    assert.deepEqual(errors, []);
    assert.deepEqual(record.ids().slice(0, 2), [good, asyncGood]);
    const order = record.deliveries[0]?.payload as { placedAt: Date };
    assert.ok(order.placedAt instanceof Date, "the handler gets the schema's output");

    const dead = await listDeadLetters(db.pool, { schema, consumer: "checked" });
    const byId = new Map(dead.map((letter) => [letter.id, letter]));
    assert.deepEqual(
      [...byId.keys()].sort((a, b) => (a < b ? -1 : 1)),
      [badPayload, undeclared, throwing, asyncBad],
    );
    assert.ok(!record.ids().includes(noTopic), "a job without a topic matches no pattern: it passes by");
    for (const letter of dead) assert.equal(letter.attempts, 1, "refused on the first delivery, no retries");
    assert.match(
      byId.get(badPayload)?.lastError ?? "",
      /^PayloadValidationError: Payload for topic "order.created" failed validation: payload.orderId: /,
    );
    assert.match(
      byId.get(undeclared)?.lastError ?? "",
      /topic "order.lost", which is not among this consumer's topics/,
    );
    assert.match(
      byId.get(throwing)?.lastError ?? "",
      /schema of topic "even" threw while validating: Error: unlucky schema/,
    );
    assert.match(byId.get(asyncBad)?.lastError ?? "", /payload: expected an even number/);
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM ${schema}.failed`);
    assert.equal(rows[0].n, 0);
  });

  it("commits a batch whose every job is refused without calling the handler", async () => {
    const { schema, client: unchecked } = await db.freshSchema("all_refused");
    const ids = await unchecked.enqueueMany([1, 3], { topic: "even" });
    const record = recorder();
    const consumer = new Consumer(db.pool, record.handler, { schema, name: "refuser", topics });
    await consumer.start();
    try {
      await waitFor(async () => (await listDeadLetters(db.pool, { schema })).length === 2, {
        what: "two dead letters",
      });
      const marker = await unchecked.enqueue(2, { topic: "even" });
      await waitFor(() => record.ids().includes(marker), { what: "the marker" });
    } finally {
      await consumer.stop();
    }
    assert.equal(record.batches.length, 1, "the handler only ever saw the marker's batch");
    assert.equal(ids.length, 2);
  });

  it("validates the same way in replication mode", needs("logical-replication"), async () => {
    const { schema, client: unchecked } = await db.freshSchema("replicated");
    const record = recorder();
    const consumer = replicationConsumer(db.pool, schema, record.handler, { name: "streamed", topics });
    await consumer.start();
    try {
      await waitFor(() => consumer.isLeader, { what: "leadership" });
      const [bad, good] = await unchecked.enqueueMany([3, 8], { topic: "even" });
      await waitFor(() => record.ids().includes(good as bigint), { what: "the valid job" });
      await waitFor(async () => (await listDeadLetters(db.pool, { schema })).length === 1, { what: "a dead letter" });
      const [letter] = await listDeadLetters(db.pool, { schema });
      assert.equal(letter?.id, bad);
      assert.equal(letter?.attempts, 1);
      assert.match(letter?.lastError ?? "", /payload: expected an even number/);
      assert.deepEqual(record.ids(), [good]);
    } finally {
      await consumer.stop();
      await dropSlots(db.pool, schema, "streamed");
    }
  });
});
