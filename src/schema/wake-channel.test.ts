import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { wakeChannel } from "./wake-channel.js";

describe("wakeChannel", () => {
  it("is poutbox.<schema> while that fits in 63 bytes", () => {
    assert.equal(wakeChannel("poutbox"), "poutbox.poutbox");
    assert.equal(wakeChannel("s".repeat(55)), `poutbox.${"s".repeat(55)}`);
  });

  it("stays within 63 bytes and apart for longer schema names that share a prefix", () => {
    const a = wakeChannel(`${"s".repeat(60)}_a`);
    const b = wakeChannel(`${"s".repeat(60)}_b`);
    assert.equal(a.length, 63);
    assert.equal(b.length, 63);
    assert.notEqual(a, b);
  });
});
