import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { publicationName, slotName, statementName, wakeChannel } from "./server-names.js";

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

  it("stay as earlier versions named them: a slot renamed would be left behind, keeping WAL", () => {
    assert.equal(slotName("app", "poutbox", "default"), "poutbox_poutbox_default_846c160f92");
    assert.equal(publicationName("poutbox"), "poutbox_poutbox_e9fccd77ce");
  });

  it("differ between databases: slots belong to the whole server", () => {
    assert.notEqual(slotName("shop", "poutbox", "default"), slotName("billing", "poutbox", "default"));
  });
});

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

describe("statementName", () => {
  it("is the same for the same text, apart for others, and short", () => {
    const text = 'SELECT 1 FROM "s".immediate';
    assert.equal(statementName(text), statementName(text));
    assert.notEqual(statementName(text), statementName(`${text} `));
    assert.match(statementName("x".repeat(10_000)), /^poutbox_[0-9a-f]{24}$/);
  });
});
