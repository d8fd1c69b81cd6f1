import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Consumer, type Job } from "../src/index.js";
import { registerSdk, total } from "./support/otel-sdk.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const sdk = registerSdk();
const db = useTestDatabase();

describe("messaging metrics (OpenTelemetry SDK registered)", () => {
  it("counts what was sent and consumed, times each call and commit, and shows leadership, for a known workload", async () => {
    const { schema, client } = await db.freshSchema("counted");
    for (let n = 0; n < 5; n++) await client.enqueue({ n }, { topic: "order.created" });
    await client.enqueueMany([{ n: 5 }, { n: 6 }, { n: 7 }], { topic: "invoice.paid" });
    await client.enqueue({ n: 8 });

    let failedOnce = false;
    const calls: Job[][] = [];
    const consumer = new Consumer(
      db.pool,
      async (jobs) => {
        calls.push([...jobs]);
        const first = jobs.find((job) => job.topic === "invoice.paid");
        if (first && !failedOnce) {
          failedOnce = true;
          return [{ job: first, error: new Error("try again") }];
        }
      },
      {
        schema,
        name: "counted",
        batchSize: 4,
        pollInterval: 10,
        promoteInterval: 20,
        backoff: { base: 20, jitter: 0 },
      },
    );
    await consumer.start();
    try {
      await waitFor(() => calls.flat().length === 10, { what: "nine jobs and one retry" });
      await waitFor(
        async () =>
          total(await sdk.points("messaging.client.operation.duration"), { "messaging.operation.type": "settle" }) ===
          calls.length,
        { what: "every call's commit" },
      );

      const sent = await sdk.points("messaging.client.sent.messages");
      assert.equal(total(sent, { "messaging.destination.name": "order.created" }), 5);
      assert.equal(total(sent, { "messaging.destination.name": "invoice.paid" }), 3);
      assert.equal(total(sent), 9);
      assert.equal(total(sent, { "messaging.system": "poutbox", "poutbox.schema": schema }), 9);

      const consumed = await sdk.points("messaging.client.consumed.messages");
      assert.equal(total(consumed, { "messaging.consumer.group.name": "counted" }), 10);
      assert.equal(total(consumed, { "messaging.destination.name": "invoice.paid" }), 4, "three and the retry");
      assert.equal(total(consumed, { "messaging.destination.name": "order.created" }), 5);

      // One point per handler call; one per enqueue call (seven) and one per commit.
      const process = await sdk.points("messaging.process.duration");
      assert.equal(total(process, { "messaging.consumer.group.name": "counted" }), calls.length);
      const operations = await sdk.points("messaging.client.operation.duration");
      assert.equal(total(operations, { "messaging.operation.type": "send", "poutbox.schema": schema }), 7);
      assert.equal(total(operations, { "messaging.operation.type": "settle", "poutbox.schema": schema }), calls.length);
      for (const point of operations) {
        const value = point.value as { count: number; sum: number };
        assert.ok(value.sum > 0 && value.sum < 60 * value.count, `durations in seconds: ${JSON.stringify(value)}`);
      }

      const leader = await sdk.points("poutbox.process.leading");
      assert.equal(total(leader, { "poutbox.consumer": "counted", "poutbox.schema": schema }), 1);
      assert.equal(total(await sdk.points("poutbox.outcome_write.failures"), { "poutbox.consumer": "counted" }), 0);
    } finally {
      await consumer.stop();
    }
    const leader = await sdk.points("poutbox.process.leading");
    assert.equal(total(leader, { "poutbox.consumer": "counted", "poutbox.schema": schema }), 0, "0 once stopped");
  });

  it("counts maintenance runs and the partitions they create", async () => {
    const { schema } = await db.freshSchema("maintained");
    const consumer = new Consumer(db.pool, async () => {}, {
      schema,
      name: "maintained",
      maintenance: { partitionInterval: 24 * 3_600_000 },
    });
    const report = new Promise<{ created: readonly unknown[] }>((resolve) => consumer.once("maintenance", resolve));
    await consumer.start();
    try {
      const { created } = await report;
      const runs = await sdk.points("poutbox.maintenance.runs");
      assert.equal(total(runs, { "poutbox.consumer": "maintained", "poutbox.maintenance.outcome": "ran" }), 1);
      const partitions = await sdk.points("poutbox.maintenance.partitions");
      assert.equal(
        total(partitions, { "poutbox.consumer": "maintained", "poutbox.maintenance.action": "created" }),
        created.length,
      );
      assert.ok(created.length > 0);
    } finally {
      await consumer.stop();
    }
  });
});
