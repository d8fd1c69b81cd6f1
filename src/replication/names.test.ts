import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { publicationName, slotName } from "./names.js";

describe("replication names", () => {
  it("are valid slot names: lower case, digits, underscores, at most 63 characters", () => {
    for (const [schema, consumer] of [
      ["poutbox", "default"],
      ["Outbox_Case", "Mailer Service / EU-west"],
      ["s".repeat(63), "c".repeat(200)],
    ] as const) {
      assert.match(slotName("app", schema, consumer), /^[a-z0-9_]{1,63}$/);
      assert.match(publicationName(schema), /^[a-z0-9_]{1,63}$/);
    }
  });

  it("differ for inputs that sanitise alike or share a long prefix", () => {
    assert.notEqual(slotName("app", "poutbox", "a-b"), slotName("app", "poutbox", "a_b"));
    assert.notEqual(slotName("app", "Poutbox", "x"), slotName("app", "poutbox", "x"));
    assert.notEqual(
      slotName("app", "poutbox", `${"c".repeat(100)}1`),
      slotName("app", "poutbox", `${"c".repeat(100)}2`),
    );
    assert.equal(slotName("app", "poutbox", "x"), slotName("app", "poutbox", "x"));
  });

  it("differ between databases: slots belong to the whole server", () => {
    assert.notEqual(slotName("shop", "poutbox", "default"), slotName("billing", "poutbox", "default"));
  });
});
