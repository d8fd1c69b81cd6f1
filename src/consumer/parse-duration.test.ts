import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseDuration } from "./replication-status-interval.js";

describe("parseDuration", () => {
  it("reads PostgreSQL time settings as SHOW prints them", () => {
    assert.equal(parseDuration("60s"), 60_000);
    assert.equal(parseDuration("500ms"), 500);
    assert.equal(parseDuration("1min"), 60_000);
    assert.equal(parseDuration("0"), 0);
    assert.equal(parseDuration("nonsense"), 0);
  });
});
