import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ReplicationProtocolError } from "../core/errors.js";
import { pgMicrosToDate } from "./pg-time.js";
import { decodePgOutput } from "./pgoutput.js";

// pgoutput messages (proto_version 1) captured from PostgreSQL 17 the way the *-server.test.ts
// files read them (which print them as hex with POUTBOX_PRINT_FIXTURES=1), so these tests need
// no server. Comments give the row's `lsn` and `xid` from pg_logical_slot_peek_binary_changes.
const fixtures = {
  // lsn=48581072 xid=792
  begin: "420000000002e54b6000030436954eceec00000318",
  // lsn=48581072 xid=792
  type: "59000040697075626c6963006d6f6f6400",
  // lsn=48581072 xid=792
  relationItems:
    "520000406d7075626c6963006974656d73006400050169640000000014ffffffff00626f64790000000019ffffffff00" +
    "6e0000000017ffffffff006665656c696e670000004069ffffffff006269670000000019ffffffff",
  // lsn=48581072 xid=792
  insertPlain: "490000406d4e00057400000001317400000005706c61696e74000000023432740000000568617070796e",
  // lsn=48581312 xid=792
  insertTricky:
    "490000406d4e0005740000000132740000001f68c3a96c6c6f20e29c9320e697a5e69cac20f09f98802065cc810a0922" + "5c276e6e6e",
  // lsn=48581520 xid=792
  commit: "43000000000002e54b600000000002e54b9000030436954eceec",
  // lsn=48692560 xid=794
  updateToast: "550000406d4e0005740000000133740000000074000000023433740000000373616475",
  // lsn=48692664 xid=794
  updateKey:
    "550000406d4b00057400000001316e6e6e6e4e0005740000000231307400000005706c61696e74000000023432740000" +
    "000568617070796e",
  // lsn=48692880 xid=795
  relationFull:
    "52000040747075626c69630066756c6c5f6964656e74697479006600020169640000000017ffffffff016c6162656c00" +
    "00000019ffffffff",
  // lsn=48693232 xid=795
  updateFull: "55000040744f000274000000013174000000036f6e654e00027400000001317400000003756e6f",
  // lsn=48693344 xid=795
  deleteKey: "440000406d4b00057400000001326e6e6e6e",
  // lsn=48693416 xid=795
  deleteFull: "44000040744f0002740000000132740000000374776f",
  // lsn=48696456 xid=796
  truncate: "54000000010200004074",
  // lsn=48696952 xid=797
  messageInTransaction: "4d010000000002e70e78706f7574626f780000000010696e2061207472616e73616374696f6e",
  // lsn=48697208 xid=0
  messageAlone: "4d000000000002e70f78706f7574626f78000000000200ff",
  // lsn=48698016 xid=799
  origin: "4f000000ab12345678706f7574626f785f6f726967696e5f363430383736383400",
  // lsn=48698240 xid=800: a table shaped like the outbox's `immediate`.
  relationJobs:
    "520000407b7075626c6963006a6f6273006400080069640000000014ffffffff00746f7069630000000019ffffffff00" +
    "7061796c6f61640000000072ffffffff00686561646572730000000072ffffffff00617474656d70740000000017ffff" +
    "ffff00636f6e73756d65720000000019ffffffff00637265617465645f617400000004a0ffffffff007472616e736163" +
    "74696f6e5f696400000013cdffffffff",
  // lsn=48698240 xid=800
  insertJob:
    "490000407b4e0008740000000431303031740000000d6f726465722e6372656174656474000000517b226f7264657249" +
    "64223a31323334352c22637573746f6d6572223a7b226964223a22635f3831222c22656d61696c223a22616e61406578" +
    "616d706c652e636f6d227d2c22746f74616c223a39392e357d6e6e6e740000001d323032362d31312d32372030313a31" +
    "363a34392e3835333536362b30307400000003383030",
} as const;

type FixtureName = keyof typeof fixtures;
const bytes = (name: FixtureName) => Buffer.from(fixtures[name], "hex");
const decode = (name: FixtureName) => decodePgOutput(bytes(name));
const text = (value: string) => ({ kind: "text", value }) as const;
const NULL = { kind: "null" } as const;
const column = (name: string, typeOid: number, isKey = false) => ({
  flags: isKey ? 1 : 0,
  isKey,
  name,
  typeOid,
  typeMod: -1,
});

/** Expects a ReplicationProtocolError whose message matches `pattern`. */
function rejects(input: Uint8Array, pattern: RegExp): void {
  assert.throws(
    () => decodePgOutput(input),
    (error: unknown) => {
      assert.ok(error instanceof ReplicationProtocolError, `not a ReplicationProtocolError: ${String(error)}`);
      assert.equal(error.code, "REPLICATION_PROTOCOL");
      assert.match(error.message, pattern);
      return true;
    },
  );
}

/** A fixture with some bytes replaced from `offset`. */
function patched(name: FixtureName, offset: number, hex: string): Buffer {
  const copy = bytes(name);
  Buffer.from(hex, "hex").copy(copy, offset);
  return copy;
}

describe("decodePgOutput on captured messages", () => {
  it("decodes Begin and Commit, whose LSNs and commit time agree", () => {
    const commitTime = 849_057_409_847_020n;
    assert.deepEqual(decode("begin"), { tag: "begin", finalLsn: 0x2e54b60n, commitTime, xid: 792 });
    assert.deepEqual(decode("commit"), {
      tag: "commit",
      flags: 0,
      commitLsn: 0x2e54b60n,
      endLsn: 48_581_520n, // the `lsn` column of the Commit row
      commitTime,
    });
    assert.equal(pgMicrosToDate(commitTime).toISOString(), "2026-11-27T01:16:49.847Z");
  });

  it("decodes Type and Relation, with key flags and type OIDs", () => {
    assert.deepEqual(decode("type"), { tag: "type", typeOid: 16489, namespace: "public", name: "mood" });
    assert.deepEqual(decode("relationItems"), {
      tag: "relation",
      relationId: 16493,
      namespace: "public",
      name: "items",
      replicaIdentity: "default",
      columns: [
        column("id", 20, true),
        column("body", 25),
        column("n", 23),
        column("feeling", 16489),
        column("big", 25),
      ],
    });
    const full = decode("relationFull");
    assert.ok(full.tag === "relation");
    assert.equal(full.replicaIdentity, "full");
    assert.deepEqual(full.columns, [column("id", 23, true), column("label", 25, true)]);
  });

  it("decodes Insert tuples: text, NULL and multi-byte UTF-8", () => {
    assert.deepEqual(decode("insertPlain"), {
      tag: "insert",
      relationId: 16493,
      newTuple: [text("1"), text("plain"), text("42"), text("happy"), NULL],
    });
    assert.deepEqual(decode("insertTricky"), {
      tag: "insert",
      relationId: 16493,
      newTuple: [text("2"), text("héllo ✓ 日本 😀 e\u0301\n\t\"\\'"), NULL, NULL, NULL],
    });
  });

  it("decodes Update with no old row, a key, or the full old row; unchanged TOAST is marked", () => {
    assert.deepEqual(decode("updateToast"), {
      tag: "update",
      relationId: 16493,
      old: undefined,
      newTuple: [text("3"), text(""), text("43"), text("sad"), { kind: "unchanged-toast" }],
    });
    assert.deepEqual(decode("updateKey"), {
      tag: "update",
      relationId: 16493,
      old: { identity: "key", tuple: [text("1"), NULL, NULL, NULL, NULL] },
      newTuple: [text("10"), text("plain"), text("42"), text("happy"), NULL],
    });
    assert.deepEqual(decode("updateFull"), {
      tag: "update",
      relationId: 16500,
      old: { identity: "full", tuple: [text("1"), text("one")] },
      newTuple: [text("1"), text("uno")],
    });
  });

  it("decodes Delete, Truncate, Origin and logical decoding messages", () => {
    assert.deepEqual(decode("deleteKey"), {
      tag: "delete",
      relationId: 16493,
      old: { identity: "key", tuple: [text("2"), NULL, NULL, NULL, NULL] },
    });
    assert.deepEqual(decode("deleteFull"), {
      tag: "delete",
      relationId: 16500,
      old: { identity: "full", tuple: [text("2"), text("two")] },
    });
    assert.deepEqual(decode("truncate"), {
      tag: "truncate",
      options: 2,
      cascade: false,
      restartIdentity: true,
      relationIds: [16500],
    });
    assert.deepEqual(decode("origin"), { tag: "origin", originLsn: 0xab_12345678n, name: "poutbox_origin_64087684" });
    const inside = decode("messageInTransaction");
    assert.ok(inside.tag === "message");
    assert.deepEqual(
      { ...inside, content: Buffer.from(inside.content).toString() },
      {
        tag: "message",
        flags: 1,
        transactional: true,
        lsn: 48_696_952n,
        prefix: "poutbox",
        content: "in a transaction",
      },
    );
    const alone = decode("messageAlone");
    assert.ok(alone.tag === "message");
    assert.equal(alone.transactional, false);
    assert.deepEqual([...alone.content], [0x00, 0xff]);
  });
});

describe("decodePgOutput on malformed bytes", () => {
  const names = Object.keys(fixtures) as FixtureName[];

  it("rejects every truncation of every captured message, naming the message", () => {
    for (const name of names) {
      const whole = bytes(name);
      for (let length = 0; length < whole.length; length++) {
        const context = length === 0 ? /^pgoutput message: tag at offset 0/ : /^[A-Z][a-z]+: .+ at offset \d+: /;
        rejects(whole.subarray(0, length), context);
      }
    }
  });

  it("rejects trailing bytes after every captured message", () => {
    for (const name of names) {
      rejects(
        Buffer.concat([bytes(name), Buffer.from([0])]),
        /end of message at offset \d+: 1 unexpected trailing bytes/,
      );
    }
  });

  it("rejects unknown tags, such as the streaming messages of protocol version 2", () => {
    rejects(Buffer.from("53000003e800", "hex"), /tag at offset 0: unknown message tag 'S' \(0x53\)/);
    rejects(Buffer.from([0x00]), /unknown message tag 0x0 /);
  });

  it("rejects impossible field values, naming the field", () => {
    rejects(patched("insertPlain", 5, "58"), /^Insert: new tuple marker at offset 5: expected 'N'.*got 'X'/);
    rejects(patched("insertPlain", 8, "78"), /^Insert: new tuple column kind at offset 8: unknown column kind 'x'/);
    rejects(patched("insertPlain", 9, "ffffffff"), /^Insert: new tuple column value at offset 13: invalid length -1/);
    rejects(patched("insertPlain", 9, "7fffffff"), /^Insert: new tuple column value at offset 13: needs 2147483647/);
    rejects(patched("insertPlain", 6, "8000"), /^Insert: new tuple column count at offset 6: negative count -32768/);
    rejects(patched("insertPlain", 6, "7fff"), /^Insert: new tuple column count .*32767 items cannot fit/);
    rejects(patched("insertTricky", 19, "ff"), /^Insert: new tuple column value at offset 19: is not valid UTF-8/);
    rejects(patched("relationFull", 26, "7a"), /^Relation: replica identity at offset 26: unknown setting 'z'/);
    rejects(patched("deleteKey", 5, "4e"), /^Delete: old tuple marker at offset 5: expected 'K' or 'O', got 'N'/);
    rejects(patched("updateKey", 5, "51"), /^Update: tuple marker at offset 5: expected 'K', 'O' or 'N', got 'Q'/);
    rejects(patched("truncate", 1, "7fffffff"), /^Truncate: relation count .*2147483647 items cannot fit/);
    rejects(patched("origin", 9, "ff"), /^Origin: origin name at offset 9: is not valid UTF-8/);
    rejects(bytes("type").subarray(0, -1), /^Type: type name at offset 12: no NUL terminator in the 4 bytes left/);
  });

  it("throws only ReplicationProtocolError for any corrupted byte, never another error", () => {
    // A deterministic generator, so a failure reproduces.
    let seed = 12345;
    const next = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let round = 0; round < 20_000; round++) {
      const name = names[next() % names.length] as FixtureName;
      const input = bytes(name);
      for (let flips = 1 + (next() % 3); flips > 0; flips--) input[next() % input.length] = next() & 0xff;
      try {
        decodePgOutput(input);
      } catch (error) {
        if (!(error instanceof ReplicationProtocolError)) throw error;
      }
    }
  });
});
