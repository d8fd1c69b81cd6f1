import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ReplicationProtocolError } from "../core/errors.js";
import { ByteReader } from "./byte-reader.js";
import { readTupleData } from "./pgoutput-tuple.js";

const hex = (text: string) => Buffer.from(text.replaceAll(" ", ""), "hex");

describe("readTupleData", () => {
  it("reads every column kind: null, unchanged TOAST, text and binary", () => {
    // 4 columns: 'n'; 'u'; 't' "hé"; 'b' int4 42.
    const reader = new ByteReader(hex("0004 6e 75 74 00000003 68c3a9 62 00000004 0000002a"), "Insert");
    const tuple = readTupleData(reader, "new");
    reader.end();
    assert.equal(tuple.length, 4);
    assert.deepEqual(tuple.slice(0, 3), [{ kind: "null" }, { kind: "unchanged-toast" }, { kind: "text", value: "hé" }]);
    assert.ok(tuple[3]?.kind === "binary");
    assert.deepEqual([...tuple[3].value], [0, 0, 0, 42]);
  });

  it("copies binary values out of the input", () => {
    const input = hex("0001 62 00000002 abcd");
    const tuple = readTupleData(new ByteReader(input, "Insert"), "new");
    input.fill(0);
    assert.ok(tuple[0]?.kind === "binary");
    assert.deepEqual([...tuple[0].value], [0xab, 0xcd]);
    assert.notEqual(tuple[0].value.buffer, input.buffer);
  });

  it("reads an empty tuple and empty text", () => {
    assert.deepEqual(readTupleData(new ByteReader(hex("0000"), "Insert"), "new"), []);
    assert.deepEqual(readTupleData(new ByteReader(hex("0001 74 00000000"), "Insert"), "new"), [
      { kind: "text", value: "" },
    ]);
  });

  it("names the tuple's role and the field in errors", () => {
    const cases = [
      ["0001 78", "old", /^Update: old tuple column kind at offset 2: unknown column kind 'x' \(0x78\)$/],
      ["0001 00", "key", /^Delete: key tuple column kind at offset 2: unknown column kind 0x0$/],
      ["0002 6e", "new", /^Update: new tuple column count at offset 0: 2 items cannot fit in the 1 bytes left$/],
      ["0001 74 0000", "new", /^Update: new tuple column length at offset 3: needs int32/],
      ["0001 74 00000005 6869", "new", /^Update: new tuple column value at offset 7: needs 5 bytes of UTF-8/],
      ["0001 62 ffffffff", "new", /^Update: new tuple column value at offset 7: invalid length -1/],
      ["ffff", "new", /^Update: new tuple column count at offset 0: negative count -1/],
    ] as const;
    for (const [bytes, role, pattern] of cases) {
      assert.throws(
        () => readTupleData(new ByteReader(hex(bytes), role === "key" ? "Delete" : "Update"), role),
        (error: unknown) => error instanceof ReplicationProtocolError && pattern.test(error.message),
        bytes,
      );
    }
  });
});
