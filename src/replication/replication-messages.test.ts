import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ReplicationProtocolError } from "../core/errors.js";
import { lsnToString } from "./lsn.js";
import { pgMicrosToDate } from "./pg-time.js";
import { decodePgOutput } from "./pgoutput.js";
import {
  decodeReplicationMessage,
  encodeStandbyStatusUpdate,
  standbyStatusUpdateLength,
} from "./replication-messages.js";

// CopyData bodies captured from a PostgreSQL 17 walsender (the stream of
// message-framer.test.ts). The slot's consistent point was 0/36BEC60.
const fixtures = {
  keepalive: "6b00000000036bec60000304369e50a2a000",
  begin: "7700000000036bec6000000000036bec60000304369e50a3a24200000000036bede0000304369e509fde0000032a",
  relation:
    "7700000000000000000000000000000000000304369e50a3fe52000040987075626c6963006974656d730064000201" +
    "69640000000014ffffffff00626f64790000000019ffffffff",
  commit: "7700000000036bee1000000000036bee10000304369e50a426430000000000036bede000000000036bee10000304369e509fde",
} as const;

const bytes = (name: keyof typeof fixtures) => Buffer.from(fixtures[name], "hex");

const update = {
  written: 0x16_b374d848n,
  flushed: 0x16_b374d800n,
  applied: 0n,
  clientTime: 849_057_560_961_696n,
  replyRequested: true,
};

function rejects(input: Uint8Array, pattern: RegExp): void {
  assert.throws(
    () => decodeReplicationMessage(input),
    (error: unknown) => error instanceof ReplicationProtocolError && pattern.test(error.message),
  );
}

describe("decodeReplicationMessage", () => {
  it("decodes a primary keepalive", () => {
    const keepalive = decodeReplicationMessage(bytes("keepalive"));
    assert.deepEqual(keepalive, {
      tag: "keepalive",
      walEnd: 0x36bec60n,
      sendTime: 849_057_560_961_696n,
      replyRequested: false,
    });
    assert.equal(lsnToString(keepalive.walEnd), "0/36BEC60");
    assert.equal(pgMicrosToDate(keepalive.sendTime).toISOString(), "2026-11-27T01:19:20.961Z");
  });

  it("reads any non-zero reply byte as a request for a reply", () => {
    for (const [byte, expected] of [
      [0, false],
      [1, true],
      [2, true],
    ] as const) {
      const input = bytes("keepalive");
      input[17] = byte;
      const decoded = decodeReplicationMessage(input);
      assert.ok(decoded.tag === "keepalive");
      assert.equal(decoded.replyRequested, expected);
    }
  });

  it("decodes XLogData, whose data is a view of the input holding one pgoutput message", () => {
    const input = bytes("begin");
    const xlog = decodeReplicationMessage(input);
    assert.ok(xlog.tag === "xlog-data");
    assert.equal(xlog.walStart, 0x36bec60n);
    assert.equal(xlog.walEnd, 0x36bec60n);
    assert.equal(xlog.sendTime, 0x304369e50a3a2n);
    assert.equal(xlog.data.buffer, input.buffer);
    assert.equal(xlog.data.byteOffset, input.byteOffset + 25);
    assert.deepEqual(decodePgOutput(xlog.data), {
      tag: "begin",
      finalLsn: 0x36bede0n,
      commitTime: 0x304369e509fden,
      xid: 810,
    });
  });

  it("shows walStart 0 for a Relation and the end LSN for a Commit", () => {
    const relation = decodeReplicationMessage(bytes("relation"));
    assert.ok(relation.tag === "xlog-data");
    assert.equal(relation.walStart, 0n);
    assert.equal(decodePgOutput(relation.data).tag, "relation");
    const commit = decodeReplicationMessage(bytes("commit"));
    assert.ok(commit.tag === "xlog-data");
    const message = decodePgOutput(commit.data);
    assert.ok(message.tag === "commit");
    assert.equal(commit.walStart, message.endLsn);
  });

  it("rejects short messages, a keepalive with trailing bytes, and unknown tags", () => {
    const keepalive = bytes("keepalive");
    for (let length = 1; length < keepalive.length; length++) {
      rejects(keepalive.subarray(0, length), /^Primary keepalive: .+ at offset \d+: needs/);
    }
    const xlog = bytes("begin");
    for (let length = 1; length < 25; length++) rejects(xlog.subarray(0, length), /^XLogData: .+ at offset \d+: needs/);
    assert.equal(decodeReplicationMessage(xlog.subarray(0, 25)).tag, "xlog-data", "empty data is still XLogData");
    rejects(Buffer.concat([keepalive, Buffer.from([0])]), /^Primary keepalive: end of message at offset 18/);
    rejects(Buffer.alloc(0), /^replication message: tag at offset 0: needs uint8/);
    rejects(encodeStandbyStatusUpdate(update), /unknown replication message tag 0x72/);
  });
});

describe("encodeStandbyStatusUpdate", () => {
  it("writes 'r', three LSNs, the client time and the reply flag in 34 bytes", () => {
    const encoded = encodeStandbyStatusUpdate(update);
    assert.equal(encoded.length, standbyStatusUpdateLength);
    assert.equal(
      encoded.toString("hex"),
      `72${"00000016b374d848"}${"00000016b374d800"}${"0000000000000000"}${"000304369e50a2a0"}01`,
    );
    assert.equal(encodeStandbyStatusUpdate({ ...update, replyRequested: false }).at(-1), 0);
  });

  it("takes the whole uint64 range for LSNs and negative times", () => {
    const max = (1n << 64n) - 1n;
    const encoded = encodeStandbyStatusUpdate({ ...update, written: max, clientTime: -1n });
    assert.equal(encoded.subarray(1, 9).toString("hex"), "ffffffffffffffff");
    assert.equal(encoded.subarray(25, 33).toString("hex"), "ffffffffffffffff");
  });

  it("refuses values that do not fit, naming the field", () => {
    const cases = [
      [{ ...update, written: -1n }, /written must be a bigint/],
      [{ ...update, flushed: 1n << 64n }, /flushed must be a bigint/],
      [{ ...update, applied: 5 as unknown as bigint }, /applied must be a bigint .* got 5/],
      [{ ...update, clientTime: 1n << 63n }, /clientTime must be a bigint/],
    ] as const;
    for (const [input, pattern] of cases)
      assert.throws(() => encodeStandbyStatusUpdate(input), { name: "RangeError", message: pattern });
  });
});
