import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ReplicationProtocolError } from "../core/errors.js";
import { lsnToString, parseLsn } from "./lsn.js";

describe("LSN text", () => {
  it("formats and parses PostgreSQL's upper-case, unpadded halves", () => {
    const cases = [
      ["16/B374D848", 0x16_b374d848n],
      ["0/0", 0n],
      ["0/36BEC60", 0x36bec60n],
      ["1/0", 1n << 32n],
      ["FFFFFFFF/FFFFFFFF", (1n << 64n) - 1n],
    ] as const;
    for (const [text, lsn] of cases) {
      assert.equal(lsnToString(lsn), text);
      assert.equal(parseLsn(text), lsn);
    }
    assert.equal(parseLsn("16/b374d848"), 0x16_b374d848n, "lower case is accepted too");
    assert.equal(parseLsn("00000016/0B374D84"), 0x16_0b374d84n, "and padding");
  });

  it("orders as numbers where the strings do not", () => {
    assert.ok("9/0" > "10/0");
    assert.ok(parseLsn("9/0") < parseLsn("10/0"));
    assert.ok("0/FFFFFFF" > "0/10000000");
    assert.ok(parseLsn("0/FFFFFFF") < parseLsn("0/10000000"));
  });

  it("rejects anything but two hex halves of 1 to 8 digits", () => {
    for (const text of [
      "",
      "0",
      "/0",
      "0/",
      "16-B374D848",
      "1/2/3",
      "123456789/0",
      "0/123456789",
      " 0/0",
      "0/0 ",
      "G/0",
      "-1/0",
    ]) {
      assert.throws(
        () => parseLsn(text),
        (error: unknown) => error instanceof ReplicationProtocolError && error.message.includes(JSON.stringify(text)),
      );
    }
  });

  it("refuses to format a value outside uint64", () => {
    assert.throws(() => lsnToString(-1n), RangeError);
    assert.throws(() => lsnToString(1n << 64n), RangeError);
  });
});
