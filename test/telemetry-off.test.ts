import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { metrics, trace } from "@opentelemetry/api";
import { Consumer, forEachJob, type Job } from "../src/index.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const db = useTestDatabase();

// This file registers no SDK: @opentelemetry/api is installed, as in an application that has
// it through another library, but nothing records.
describe("OpenTelemetry installed, no SDK registered", () => {
  it("adds nothing to the jobs, and enqueue and delivery work as without it", async () => {
    assert.equal(trace.getTracer("check").startSpan("check").isRecording(), false);
    assert.equal(metrics.getMeterProvider().constructor.name, "NoopMeterProvider");
    const { schema, client } = await db.freshSchema("no_sdk");
    const ids = [
      await client.enqueue({ n: 1 }, { topic: "order.created" }),
      ...(await client.enqueueMany([{ n: 2 }, { n: 3 }], { topic: "order.created", headers: { source: "test" } })),
    ];
    const seen: Job[] = [];
    const consumer = new Consumer(
      db.pool,
      (jobs) =>
        forEachJob(jobs, async (job) => {
          seen.push(job);
        }),
      { schema, name: "no_sdk", pollInterval: 10 },
    );
    await consumer.start();
    try {
      await waitFor(() => seen.length === 3, { what: "the three jobs" });
    } finally {
      await consumer.stop();
    }
    assert.deepEqual(
      seen.map((job) => [job.id, job.headers]),
      [
        [ids[0], {}],
        [ids[1], { source: "test" }],
        [ids[2], { source: "test" }],
      ],
    );
  });
});
