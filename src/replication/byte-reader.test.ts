import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ReplicationProtocolError } from "../core/errors.js";
import { ByteReader, describeByte } from "./byte-reader.js";

const hex = (text: string) => Buffer.from(text.replaceAll(" ", ""), "hex");

function throwsAt(work: () => unknown, pattern: RegExp): ReplicationProtocolError {
  let caught: unknown;
  assert.throws(work, (error: unknown) => {
    caught = error;
    return (
      error instanceof ReplicationProtocolError && error.code === "REPLICATION_PROTOCOL" && pattern.test(error.message)
    );
  });
  return caught as ReplicationProtocolError;
}

describe("ByteReader", () => {
  it("reads big-endian integers of every width, signed and unsigned", () => {
    const reader = new ByteReader(
      hex("ff fffe ffffffff ffffffff ffffffffffffffff ffffffffffffffff 8000000000000000"),
      "test",
    );
    assert.equal(reader.uint8("a"), 255);
    assert.equal(reader.int16("b"), -2);
    assert.equal(reader.int32("c"), -1);
    assert.equal(reader.uint32("d"), 4_294_967_295);
    assert.equal(reader.uint64("e"), (1n << 64n) - 1n);
    assert.equal(reader.int64("f"), -1n);
    assert.equal(reader.int64("g"), -(1n << 63n));
    assert.equal(reader.remaining, 0);
    reader.end();
  });

  it("builds 64-bit values from both halves exactly, beyond 2^53", () => {
    const reader = new ByteReader(hex("00000016 b374d848 7fffffff ffffffff"), "test");
    assert.equal(reader.uint64("lsn"), 0x16_b374d848n);
    assert.equal(reader.int64("max"), (1n << 63n) - 1n);
  });

  it("reads from a view that does not start at the beginning of its buffer", () => {
    const backing = hex("aa bb cc 0102 00000003 6869 00 7a");
    const reader = new ByteReader(backing.subarray(3), "test");
    assert.equal(reader.int16("n"), 0x0102);
    assert.equal(reader.int32("m"), 3);
    assert.equal(reader.cString("s"), "hi");
    assert.equal(reader.offset, 9);
    assert.equal(reader.utf8("z", 1), "z");
  });

  it("reads NUL-terminated and counted UTF-8 strings", () => {
    const text = "héllo ✓ 日本 😀";
    const encoded = Buffer.from(text);
    const reader = new ByteReader(Buffer.concat([encoded, hex("00 00"), encoded]), "test");
    assert.equal(reader.cString("first"), text);
    assert.equal(reader.cString("empty"), "");
    assert.equal(reader.utf8("second", encoded.length), text);
  });

  it("returns byte runs and the rest as views of the input", () => {
    const input = hex("01 02 03 04 05");
    const reader = new ByteReader(input, "test");
    const run = reader.bytes("run", 2);
    assert.deepEqual([...run], [1, 2]);
    assert.equal(run.buffer, input.buffer);
    assert.deepEqual([...reader.bytes("none", 0)], []);
    assert.deepEqual([...reader.rest()], [3, 4, 5]);
    assert.equal(reader.remaining, 0);
    assert.deepEqual([...reader.rest()], []);
  });

  it("checks the length before every read, naming the context, field and offset", () => {
    const reads: [string, (reader: ByteReader) => unknown, RegExp][] = [
      ["uint8", (reader) => reader.uint8("kind"), /^Insert: kind at offset 2: needs uint8 but only 0 bytes are left$/],
      ["int16", (reader) => reader.int16("count"), /^Insert: count at offset 2: needs int16/],
      ["int32", (reader) => reader.int32("length"), /^Insert: length at offset 2: needs int32/],
      ["uint32", (reader) => reader.uint32("oid"), /^Insert: oid at offset 2: needs uint32/],
      ["int64", (reader) => reader.int64("time"), /^Insert: time at offset 2: needs int64/],
      ["uint64", (reader) => reader.uint64("lsn"), /^Insert: lsn at offset 2: needs uint64/],
      ["utf8", (reader) => reader.utf8("value", 1), /^Insert: value at offset 2: needs 1 bytes of UTF-8/],
      ["bytes", (reader) => reader.bytes("value", 1), /^Insert: value at offset 2: needs 1 bytes/],
      ["cString", (reader) => reader.cString("name"), /^Insert: name at offset 2: no NUL terminator/],
    ];
    for (const [what, read, pattern] of reads) {
      const reader = new ByteReader(hex("0102"), "Insert");
      reader.int16("first");
      throwsAt(() => read(reader), pattern);
      assert.equal(reader.offset, 2, `${what} moved nothing after failing`);
    }
    const partial = new ByteReader(hex("010203"), "Begin");
    throwsAt(
      () => partial.uint64("final LSN"),
      /^Begin: final LSN at offset 0: needs uint64 but only 3 bytes are left$/,
    );
  });

  it("rejects a negative or fractional length", () => {
    const reader = new ByteReader(hex("0102"), "test");
    throwsAt(() => reader.bytes("value", -1), /value at offset 0: invalid length -1/);
    throwsAt(() => reader.utf8("value", 0.5), /invalid length 0.5/);
  });

  it("rejects invalid UTF-8 rather than replacing it, keeping the decoder's error as cause", () => {
    const error = throwsAt(
      () => new ByteReader(hex("68 ff 00"), "Origin").cString("name"),
      /^Origin: name at offset 0: is not valid UTF-8$/,
    );
    assert.ok(error.cause instanceof TypeError);
    throwsAt(() => new ByteReader(hex("e2 9c"), "test").utf8("value", 2), /value at offset 0: is not valid UTF-8/);
  });

  it("rejects trailing bytes at the end, and reports failures found by the caller", () => {
    const reader = new ByteReader(hex("01 02"), "Commit");
    reader.uint8("flags");
    throwsAt(() => reader.end(), /^Commit: end of message at offset 1: 1 unexpected trailing bytes$/);
    reader.context = "Delete";
    throwsAt(() => reader.fail("marker", "expected 'K'", 1), /^Delete: marker at offset 1: expected 'K'$/);
  });

  it("reads item counts, refusing negative ones and ones the bytes left cannot hold", () => {
    assert.equal(new ByteReader(hex("0002 0000"), "test").count("n", 2, 1), 2);
    assert.equal(new ByteReader(hex("00000001 ff 00000000"), "test").count("n", 4, 4, 1), 1);
    throwsAt(() => new ByteReader(hex("ffff"), "R").count("n", 2, 1), /^R: n at offset 0: negative count -1$/);
    throwsAt(
      () => new ByteReader(hex("00000002 ff 00000000"), "T").count("n", 4, 4, 1),
      /^T: n at offset 0: 2 items cannot fit in the 5 bytes left$/,
    );
  });

  it("describes bytes for error messages", () => {
    assert.equal(describeByte(0x4e), "'N' (0x4e)");
    assert.equal(describeByte(0), "0x0");
    assert.equal(describeByte(0xff), "0xff");
  });
});
