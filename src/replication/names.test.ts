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
      assert.match(slotName(schema, consumer), /^[a-z0-9_]{1,63}$/);
      assert.match(publicationName(schema), /^[a-z0-9_]{1,63}$/);
    }
  });

  it("differ for inputs that sanitise alike or share a long prefix", () => {
    assert.notEqual(slotName("poutbox", "a-b"), slotName("poutbox", "a_b"));
    assert.notEqual(slotName("Poutbox", "x"), slotName("poutbox", "x"));
    assert.notEqual(slotName("poutbox", `${"c".repeat(100)}1`), slotName("poutbox", `${"c".repeat(100)}2`));
    assert.equal(slotName("poutbox", "x"), slotName("poutbox", "x"));
  });
});
