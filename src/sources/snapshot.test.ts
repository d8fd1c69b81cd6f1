import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { inProgress, validSnapshot } from "./snapshot.js";

describe("snapshot text", () => {
  it("lists the transactions in progress", () => {
    assert.deepEqual(inProgress("10:20:12,15"), [12n, 15n]);
    assert.deepEqual(inProgress("10:10:"), []);
  });

  it("turns a snapshot whose xmin is above its xmax into xmin:xmin:, and leaves others alone", () => {
    assert.equal(validSnapshot("1990:1988:"), "1990:1990:");
    assert.equal(
      validSnapshot("18446744073709551000:18446744073709550999:"),
      "18446744073709551000:18446744073709551000:",
    );
    assert.equal(validSnapshot("10:20:12,15"), "10:20:12,15");
    assert.equal(validSnapshot("10:10:"), "10:10:");
  });
});
