import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Job } from "../core/job.js";
import { forEachJob } from "./for-each-job.js";

const jobs: Job<number>[] = Array.from({ length: 10 }, (_, i) => ({
  id: BigInt(i + 1),
  payload: i,
  topic: null,
  key: null,
  retry: null,
  headers: {},
  attempt: 1,
  enqueuedAt: new Date(),
  createdAt: new Date(),
  transactionId: 1n,
}));

describe("forEachJob", () => {
  it("runs every job with at most `concurrency` at once and returns the failures", async () => {
    let running = 0;
    let peak = 0;
    const failures = await forEachJob(
      jobs,
      async (job) => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((resolve) => setTimeout(resolve, 5));
        running--;
        if (job.payload % 4 === 0) throw new Error(`bad ${job.payload}`);
      },
      { concurrency: 3 },
    );
    assert.equal(peak, 3);
    assert.deepEqual(
      failures.map((failure) => (failure.job as Job<number>).payload),
      [0, 4, 8],
    );
    assert.match(String(failures[0]?.error), /bad 0/);
  });

  it("reports the jobs not started once the signal aborts", async () => {
    const controller = new AbortController();
    const failures = await forEachJob(
      jobs,
      async (job) => {
        if (job.payload === 1) controller.abort(new Error("stop"));
      },
      { concurrency: 1, signal: controller.signal },
    );
    assert.equal(failures.length, 8);
  });

  it("rejects a bad concurrency", async () => {
    await assert.rejects(
      forEachJob(jobs, async () => {}, { concurrency: 0 }),
      RangeError,
    );
  });
});
