// Consumers that share one outbox, each receiving its own topics (`subscribe`, or the topics of
// a map with schemas), in both modes: the jobs of other topics pass a consumer by without a
// trace (no delivery, no dead letter), its progress moves over them, and a retry of its own
// comes back to it.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { z } from "zod";
import {
  Consumer,
  type ConsumerMode,
  type ConsumerOptions,
  countDeadLetters,
  defineTopics,
  InvalidOptionError,
  type JobFailure,
  status,
} from "../src/index.js";
import { needs } from "./support/needs.js";
import { quickConsumer } from "./support/quick-consumer.js";
import { recorder } from "./support/recorder.js";
import { dropSlots } from "./support/replication.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const db = useTestDatabase();
const modes: ConsumerMode[] = ["polling", "replication"];

const mailTopics = defineTopics({ "mail.sent": z.object({ to: z.string() }) });

function consumerOf(
  schema: string,
  mode: ConsumerMode,
  handler: ReturnType<typeof recorder>["handler"],
  options: ConsumerOptions,
) {
  return quickConsumer(db.pool, handler, { schema, mode, ...options });
}

for (const mode of modes) {
  describe(`subscriptions (${mode})`, mode === "replication" ? needs("logical-replication") : {}, () => {
    it("delivers each consumer its topics only; the others pass it by, and its own retry comes back", async () => {
      const { schema, client } = await db.freshSchema(`subscribe_${mode}`);
      // The first order job fails once: its retry must come back to "orders" alone.
      let failedOnce = false;
      const orders = recorder(async (jobs): Promise<JobFailure[]> => {
        const first = jobs.find((job) => job.topic === "order.created" && job.attempt === 1);
        if (!first || failedOnce) return [];
        failedOnce = true;
        return [{ job: first, error: new Error("once") }];
      });
      const mail = recorder();
      const everything = recorder();
      const consumers = [
        consumerOf(schema, mode, orders.handler, { name: "orders", subscribe: ["order.*", "ship_to.*"] }),
        // A map with schemas subscribes to its topics.
        new Consumer(db.pool, mail.handler, {
          schema,
          mode,
          name: "mail",
          topics: mailTopics,
          pollInterval: 5,
          maintenance: false,
        }),
        consumerOf(schema, mode, everything.handler, { name: "everything" }),
      ];
      for (const consumer of consumers) await consumer.start();
      const ids: Record<string, bigint> = {};
      try {
        const enqueue = async (label: string, payload: unknown, topic?: string) => {
          ids[label] = await client.enqueue(payload, topic === undefined ? {} : { topic });
        };
        await enqueue("created", { n: 1 }, "order.created");
        await enqueue("billing", { n: 2 }, "billing.charged");
        await enqueue("mail", { to: "a@example.com" }, "mail.sent");
        await enqueue("none", { n: 3 });
        await enqueue("line", { n: 4 }, "order.line.added");
        // LIKE's wildcards in a topic or a pattern are plain characters.
        await enqueue("lookalike", { n: 5 }, "shipXto.de");
        await enqueue("ship", { n: 6 }, "ship_to.de");
        await enqueue("orders", { n: 7 }, "orders.created");
        await enqueue("mail2", { to: "b@example.com" }, "mail.sent");
        await waitFor(
          () => orders.deliveries.length >= 4 && mail.deliveries.length >= 2 && everything.deliveries.length >= 9,
          { what: "every consumer's jobs" },
        );
        // A last job of each: reached once everything before it was passed by.
        await enqueue("last order", { n: 8 }, "order.created");
        await enqueue("last mail", { to: "c@example.com" }, "mail.sent");
        await waitFor(
          () =>
            orders.ids().includes(ids["last order"] as bigint) &&
            mail.ids().includes(ids["last mail"] as bigint) &&
            everything.deliveries.length >= 11,
          { what: "the last jobs" },
        );
      } finally {
        for (const consumer of consumers) await consumer.stop();
        if (mode === "replication") await dropSlots(db.pool, schema, "orders", "mail", "everything");
      }
      const delivered = (record: ReturnType<typeof recorder>) =>
        record.deliveries.map((job) => `${Object.entries(ids).find(([, id]) => id === job.id)?.[0]}#${job.attempt}`);
      // The retry comes back after its backoff, among the others: compared as sets.
      assert.deepEqual(
        delivered(orders).sort(),
        ["created#1", "created#2", "last order#1", "line#1", "ship#1"],
        "orders: its topics, its retry once",
      );
      assert.deepEqual(delivered(mail), ["mail#1", "mail2#1", "last mail#1"], "mail: the map's topic");
      assert.deepEqual(
        delivered(everything).sort(),
        [
          "billing#1",
          "created#1",
          "last mail#1",
          "last order#1",
          "line#1",
          "lookalike#1",
          "mail#1",
          "mail2#1",
          "none#1",
          "orders#1",
          "ship#1",
        ].sort(),
        "without a subscription: every job",
      );
      assert.equal(await countDeadLetters(db.pool, { schema }), 0, "nothing dead-lettered");
      const outbox = await status(db.pool, { schema });
      for (const name of ["orders", "mail"]) {
        const consumer = outbox.consumers.find((each) => each.name === name);
        assert.equal(consumer?.retrying, 0, `${name}: nothing waits for a retry`);
      }
    });

    it("moves its progress over a long run of other topics without delivering any", async () => {
      const { schema, client } = await db.freshSchema(`pass_by_${mode}`);
      // Before start: one window of 122 rows, 120 of another topic between two of its own, in
      // one transaction and in many; pages of 10 must read past every other one.
      const first = await client.enqueue({ n: 0 }, { topic: "rare" });
      await client.enqueueMany(
        Array.from({ length: 100 }, (_, n) => ({ n })),
        { topic: "common" },
      );
      for (let n = 0; n < 20; n++) await client.enqueue({ n }, { topic: "common" });
      const second = await client.enqueue({ n: 1 }, { topic: "rare" });
      const record = recorder();
      const consumer = consumerOf(schema, mode, record.handler, { name: "rare", subscribe: ["rare"], batchSize: 10 });
      await consumer.start();
      try {
        await waitFor(() => record.ids().includes(second), { what: "the second rare job" });
        // And a third after start, behind more of the others.
        await client.enqueueMany(
          Array.from({ length: 30 }, (_, n) => ({ n })),
          { topic: "common" },
        );
        const third = await client.enqueue({ n: 2 }, { topic: "rare" });
        await waitFor(() => record.ids().includes(third), { what: "the third rare job" });
        assert.deepEqual(record.ids(), [first, second, third]);
      } finally {
        await consumer.stop();
        if (mode === "replication") await dropSlots(db.pool, schema, "rare");
      }
    });
  });
}

describe("the subscribe option", () => {
  it("refuses what is no list of topics, and a name its topic map does not declare", () => {
    const handler = async () => {};
    for (const subscribe of [[], "order.*", [""], [42]]) {
      assert.throws(
        () => new Consumer(db.pool, handler, { subscribe: subscribe as string[] }),
        InvalidOptionError,
        JSON.stringify(subscribe),
      );
    }
    assert.throws(
      () => new Consumer(db.pool, handler, { topics: mailTopics, subscribe: ["mail.sent", "mail.bounced"] }),
      /subscribe.*"mail.bounced" is not in the topics map/,
    );
    // A pattern may reach beyond the map: its undeclared topics go to dead letter, as chosen.
    new Consumer(db.pool, handler, { topics: mailTopics, subscribe: ["mail.*"] });
    assert.throws(() => new Consumer(db.pool, handler, { topics: defineTopics({}) }), /topics.*declares no topic/);
  });
});
