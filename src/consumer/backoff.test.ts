import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { defaultBackoff, retryDelay } from "./backoff.js";

describe("retryDelay", () => {
  it("grows exponentially from base by factor, up to max", () => {
    const backoff = { base: 100, factor: 3, max: 5000, jitter: 0 };
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((attempt) => retryDelay(backoff, attempt)),
      [100, 300, 900, 2700, 5000],
    );
  });

  it("spreads the delay by jitter, never above the computed delay", () => {
    const backoff = { ...defaultBackoff, base: 1000, jitter: 0.5 };
    assert.equal(
      retryDelay(backoff, 1, () => 0),
      1000,
    );
    assert.equal(
      retryDelay(backoff, 1, () => 1),
      500,
    );
    assert.equal(
      retryDelay(backoff, 2, () => 0.5),
      1500,
    );
  });
});
