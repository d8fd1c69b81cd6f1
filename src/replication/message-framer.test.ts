import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ReplicationProtocolError } from "../core/errors.js";
import { type BackendMessage, MessageFramer } from "./message-framer.js";

// Every byte PostgreSQL 17 sent on a replication connection (recorded from the socket, as in
// test/replication-stream.test.ts but without its 120 KB row): authentication, parameters,
// CREATE_REPLICATION_SLOT, START_REPLICATION with a keepalive, one transaction of two inserts,
// CopyDone, a last keepalive the server sends after its own CopyDone, CommandComplete x2 and
// ReadyForQuery.
const stream = Buffer.from(
  "5200000008000000035200000008000000005300000017696e5f686f745f7374616e646279006f666600530000001969" +
    "6e74656765725f6461746574696d6573006f6e00530000001554696d655a6f6e65004574632f55544300530000001b49" +
    "6e74657276616c5374796c6500706f73746772657300530000001469735f737570657275736572006f6e005300000016" +
    "6170706c69636174696f6e5f6e616d650000530000002664656661756c745f7472616e73616374696f6e5f726561645f" +
    "6f6e6c79006f666600530000001a736372616d5f697465726174696f6e73003430393600530000001744617465537479" +
    "6c650049534f2c204d44590053000000237374616e646172645f636f6e666f726d696e675f737472696e6773006f6e00" +
    "530000002373657373696f6e5f617574686f72697a6174696f6e00706f737467726573005300000019636c69656e745f" +
    "656e636f64696e6700555446380053000000197365727665725f76657273696f6e0031372e3130005300000019736572" +
    "7665725f656e636f64696e670055544638004b0000000c00003a5f19a5c5065a000000054954000000850004736c6f74" +
    "5f6e616d650000000000000000000019ffffffffffff0000636f6e73697374656e745f706f696e740000000000000000" +
    "000019ffffffffffff0000736e617073686f745f6e616d650000000000000000000019ffffffffffff00006f75747075" +
    "745f706c7567696e0000000000000000000019ffffffffffff0000440000004100040000000766785f736c6f74000000" +
    "09302f333642454336300000001330303030303133442d30303030303030322d310000000870676f7574707574430000" +
    "001c4352454154455f5245504c49434154494f4e5f534c4f54005a0000000549570000000700000064000000166b0000" +
    "0000036bec60000304369e50a2a00064000000327700000000036bec6000000000036bec60000304369e50a3a2420000" +
    "0000036bede0000304369e509fde0000032a640000004c7700000000000000000000000000000000000304369e50a3fe" +
    "52000040987075626c6963006974656d73006400020169640000000014ffffffff00626f64790000000019ffffffff64" +
    "000000357700000000036bec6000000000036bec60000304369e50a41b49000040984e00027400000001317400000005" +
    "706c61696e64000000467700000000036bed4800000000036bed48000304369e50a42249000040984e00027400000001" +
    "32740000001668c3a96c6c6f20e29c9320e697a5e69cac20f09f988064000000377700000000036bee1000000000036b" +
    "ee10000304369e50a426430000000000036bede000000000036bee10000304369e509fde64000000166b00000000036b" +
    "ee10000304369e50a42f00630000000464000000166b00000000036bee10000304369e5cdc6700430000000b434f5059" +
    "203000430000001653544152545f5245504c49434154494f4e005a0000000549",
  "hex",
);
const expectedTypes = "RRSSSSSSSSSSSSSSKZTDCZWdddddddcdCCZ";

function framedWhole(): BackendMessage[] {
  return new MessageFramer().push(stream);
}

function assertSame(actual: readonly BackendMessage[], expected: readonly BackendMessage[], how: string): void {
  assert.equal(actual.length, expected.length, how);
  actual.forEach((message, index) => {
    const other = expected[index] as BackendMessage;
    assert.ok(
      message.type === other.type && Buffer.compare(message.body, other.body) === 0,
      `${how}: message ${index}`,
    );
  });
}

/** Expects a ReplicationProtocolError whose message matches `pattern`. */
function throwsProtocolError(work: () => unknown, pattern: RegExp): void {
  assert.throws(work, (error: unknown) => error instanceof ReplicationProtocolError && pattern.test(error.message));
}

describe("MessageFramer", () => {
  it("cuts a captured stream into its messages", () => {
    const messages = framedWhole();
    assert.equal(messages.map((message) => message.type).join(""), expectedTypes);
    const [request, ok] = messages;
    assert.deepEqual([...(request?.body ?? [])], [0, 0, 0, 3], "AuthenticationCleartextPassword");
    assert.deepEqual([...(ok?.body ?? [])], [0, 0, 0, 0], "AuthenticationOk");
    assert.equal(messages.at(-1)?.body.length, 1, "ReadyForQuery carries the transaction status");
    assert.equal(messages.find((message) => message.type === "c")?.body.length, 0, "CopyDone has no body");
  });

  it("returns identical messages when the stream is split at every byte offset", () => {
    const reference = framedWhole();
    for (let split = 0; split <= stream.length; split++) {
      const framer = new MessageFramer();
      const first = framer.push(stream.subarray(0, split));
      const buffered = framer.bufferedBytes;
      const second = framer.push(stream.subarray(split));
      assertSame([...first, ...second], reference, `split at ${split}`);
      assert.equal(framer.bufferedBytes, 0);
      const whole = first.reduce((total, message) => total + 5 + message.body.length, 0);
      assert.equal(buffered, split - whole, `bytes held back at ${split}`);
    }
  });

  it("returns identical messages from single-byte chunks and from random chunk sizes", () => {
    const reference = framedWhole();
    const single = new MessageFramer();
    const messages: BackendMessage[] = [];
    for (let offset = 0; offset < stream.length; offset++)
      messages.push(...single.push(stream.subarray(offset, offset + 1)));
    assertSame(messages, reference, "single bytes");

    let seed = 7;
    for (let round = 0; round < 500; round++) {
      const framer = new MessageFramer();
      const collected: BackendMessage[] = [];
      for (let offset = 0; offset < stream.length; ) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        const size = seed % 40;
        collected.push(...framer.push(stream.subarray(offset, offset + size)));
        offset += size;
      }
      assertSame(collected, reference, `random chunks, round ${round}`);
    }
  });

  it("returns a message inside one chunk as a view, and copies one that spans chunks", () => {
    const chunk = Buffer.from("640000000701020364000000070405", "hex");
    const framer = new MessageFramer();
    const [inside, ...rest] = framer.push(chunk);
    assert.equal(rest.length, 0);
    assert.equal(inside?.body.buffer, chunk.buffer, "no copy");
    assert.deepEqual([...(inside?.body ?? [])], [1, 2, 3]);
    assert.equal(framer.bufferedBytes, 7);
    const [spanning] = framer.push(Buffer.from([6]));
    assert.deepEqual([...(spanning?.body ?? [])], [4, 5, 6]);
    chunk.fill(0);
    assert.deepEqual([...(spanning?.body ?? [])], [4, 5, 6], "owns its bytes");
  });

  it("rejects a length below 4 or above 1 GiB, naming where the message starts", () => {
    throwsProtocolError(
      () => new MessageFramer().push(Buffer.from("5a0000000549" + "6400000003", "hex")),
      /^Backend message at stream offset 6: type 0x64 has length 3, outside 4 to 1073741824/,
    );
    throwsProtocolError(() => new MessageFramer().push(Buffer.from("6440000001", "hex")), /length 1073741825/);
    throwsProtocolError(() => new MessageFramer().push(Buffer.from("64ffffffff", "hex")), /length 4294967295/);
  });

  it("rejects a bad length split across chunks, and refuses every later chunk", () => {
    const framer = new MessageFramer();
    assert.deepEqual(framer.push(Buffer.from("6300000004", "hex")).length, 1);
    assert.deepEqual(framer.push(Buffer.from("6400", "hex")), []);
    throwsProtocolError(() => framer.push(Buffer.from("000000", "hex")), /stream offset 5: .* length 0,/);
    throwsProtocolError(() => framer.push(Buffer.from("5a0000000549", "hex")), /stream offset 5/);
  });
});
