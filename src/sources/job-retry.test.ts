import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { jobRetry } from "./job-retry.js";

describe("jobRetry", () => {
  it("reads a stored policy, and leaves out each field enqueue would have refused", () => {
    assert.deepEqual(jobRetry({ maxAttempts: 3, backoff: { base: 10, jitter: 0 } }), {
      maxAttempts: 3,
      backoff: { base: 10, jitter: 0 },
    });
    assert.deepEqual(jobRetry({ maxAttempts: 0, backoff: { base: 10, factor: 0, max: "x" } }), {
      backoff: { base: 10 },
    });
    assert.deepEqual(jobRetry({ maxAttempts: 2, backoff: "x" }), { maxAttempts: 2 });
    for (const nothing of [null, "x", [1], {}, { maxAttempts: -1 }, { backoff: { factor: 0 } }]) {
      assert.equal(jobRetry(nothing), null, JSON.stringify(nothing));
    }
  });
});
