import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { before, describe, it } from "node:test";
import type { RelationMessage, TupleData } from "../src/replication/pgoutput-messages.js";
import { needs } from "./support/needs.js";
import { type Change, decodeChanges, messages } from "./support/slot-changes.js";
import { useTestDatabase } from "./support/test-database.js";

// Updates, deletes, TRUNCATE and logical decoding messages as a real PostgreSQL sends them,
// read back through a logical slot like pgoutput-server.test.ts does for inserts.

const db = useTestDatabase();

const big = "wörld 😀 0123456789 ".repeat(4500);

async function capture(): Promise<Change[]> {
  const slot = `poutbox_changes_${randomBytes(4).toString("hex")}`;
  const client = await db.pool.connect();
  try {
    await client.query(`
      CREATE TABLE items (id bigint PRIMARY KEY, n int, big text);
      ALTER TABLE items ALTER COLUMN big SET STORAGE EXTERNAL;
      CREATE TABLE full_identity (id int PRIMARY KEY, label text);
      ALTER TABLE full_identity REPLICA IDENTITY FULL;
      CREATE PUBLICATION pub_all FOR TABLE items, full_identity;`);
    // Temporary, so even a crashed run leaves no slot pinning WAL; dropped explicitly below.
    await client.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput', true)", [slot]);
    await client.query("INSERT INTO items VALUES (1, 42, NULL), (2, NULL, NULL), (3, -7, $1)", [big]);
    await client.query("BEGIN; UPDATE items SET n = 43 WHERE id = 3; UPDATE items SET id = 10 WHERE id = 1; COMMIT");
    await client.query(`BEGIN; INSERT INTO full_identity VALUES (1, 'one'), (2, 'two');
      UPDATE full_identity SET label = 'uno' WHERE id = 1; DELETE FROM items WHERE id = 2;
      DELETE FROM full_identity WHERE id = 2; COMMIT`);
    await client.query("TRUNCATE full_identity RESTART IDENTITY");
    // A non-transactional message is not flushed to WAL by itself, and a slot is read only up
    // to the flushed end of WAL: the commit that follows flushes it.
    await client.query("SELECT pg_logical_emit_message(false, 'poutbox', '\\x00ff'::bytea)");
    await client.query(`BEGIN; SELECT pg_logical_emit_message(true, 'poutbox', 'in a transaction');
      INSERT INTO items VALUES (4, NULL, NULL); COMMIT`);
    const { rows } = await client.query<{ lsn: string; xid: string; data: Buffer }>(
      `SELECT lsn::text, xid::text, data FROM pg_logical_slot_peek_binary_changes($1, NULL, NULL,
         'proto_version', '1', 'publication_names', 'pub_all', 'messages', 'true')`,
      [slot],
    );
    return decodeChanges(rows);
  } finally {
    // A slot left behind pins WAL and blocks DROP DATABASE, so it goes even if a step failed.
    await client.query("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", [
      slot,
    ]);
    client.release();
  }
}

/** A tuple as column name -> text, null, or "(unchanged)" for an unchanged TOASTed value. */
function row(relation: RelationMessage | undefined, tuple: TupleData | undefined): Record<string, string | null> {
  assert.ok(relation && tuple);
  assert.equal(tuple.length, relation.columns.length);
  return Object.fromEntries(
    relation.columns.map((column, index) => {
      const value = tuple[index];
      assert.ok(value && value.kind !== "binary");
      return [column.name, value.kind === "text" ? value.value : value.kind === "null" ? null : "(unchanged)"];
    }),
  );
}

describe("decodePgOutput on updates, deletes, truncate and messages from a real server", {
  ...needs("logical-replication"),
}, () => {
  let changes: Change[];
  let items: RelationMessage | undefined;
  let full: RelationMessage | undefined;
  before(async () => {
    changes = await capture();
    [items, full] = messages(changes, "relation");
  });

  it("prints the captured bytes when asked, to refresh the fixtures", (t) => {
    if (!process.env.POUTBOX_PRINT_FIXTURES) return;
    for (const { message, lsn, xid, data } of changes) {
      if (data.length < 2000) t.diagnostic(`${message.tag} lsn=${lsn} xid=${xid} ${data.toString("hex")}`);
    }
  });

  it("sends the changes in order, each transaction between Begin and Commit", () => {
    const tags = changes.map((change) => change.message.tag).filter((tag) => tag !== "relation");
    assert.equal(
      tags.join(" "),
      [
        "begin insert insert insert commit",
        "begin update update commit",
        "begin insert insert update delete delete commit",
        "begin truncate commit",
        "message",
        "begin message insert commit",
      ].join(" "),
    );
    // Rows inside a transaction carry its xid; a non-transactional message carries 0.
    let xid: number | undefined;
    for (const change of changes) {
      if (change.message.tag === "begin") xid = change.message.xid;
      assert.equal(change.xid, xid ?? 0);
      if (change.message.tag === "commit") xid = undefined;
    }
  });

  it("marks REPLICA IDENTITY FULL, where every column counts as key", () => {
    assert.equal(items?.replicaIdentity, "default");
    assert.deepEqual(
      items?.columns.map((column) => column.isKey),
      [true, false, false],
    );
    assert.equal(full?.replicaIdentity, "full");
    assert.deepEqual(
      full?.columns.map((column) => column.isKey),
      [true, true],
    );
  });

  it("decodes updates: unchanged TOAST, a changed key, the full old row", () => {
    const [toast, rekey, fullUpdate] = messages(changes, "update");
    assert.equal(toast?.old, undefined);
    assert.deepEqual(row(items, toast?.newTuple), { id: "3", n: "43", big: "(unchanged)" });
    assert.equal(rekey?.old?.identity, "key");
    assert.deepEqual(row(items, rekey?.old?.tuple), { id: "1", n: null, big: null });
    assert.deepEqual(row(items, rekey?.newTuple), { id: "10", n: "42", big: null });
    assert.equal(fullUpdate?.old?.identity, "full");
    assert.deepEqual(row(full, fullUpdate?.old?.tuple), { id: "1", label: "one" });
    assert.deepEqual(row(full, fullUpdate?.newTuple), { id: "1", label: "uno" });
    assert.equal(row(items, messages(changes, "insert")[2]?.newTuple).big, big);
  });

  it("decodes deletes by key and by full old row, and TRUNCATE with its options", () => {
    const [byKey, byRow] = messages(changes, "delete");
    assert.equal(byKey?.old.identity, "key");
    assert.deepEqual(row(items, byKey?.old.tuple), { id: "2", n: null, big: null });
    assert.equal(byRow?.old.identity, "full");
    assert.deepEqual(row(full, byRow?.old.tuple), { id: "2", label: "two" });
    assert.deepEqual(messages(changes, "truncate"), [
      { tag: "truncate", options: 2, cascade: false, restartIdentity: true, relationIds: [full?.relationId] },
    ]);
  });

  it("decodes logical decoding messages: transactional ones inside their transaction, others alone", () => {
    const [alone, inside] = changes.filter((change) => change.message.tag === "message");
    assert.ok(inside?.message.tag === "message" && alone?.message.tag === "message");
    assert.deepEqual(
      { ...inside.message, content: Buffer.from(inside.message.content).toString() },
      {
        tag: "message",
        flags: 1,
        transactional: true,
        lsn: inside.lsn,
        prefix: "poutbox",
        content: "in a transaction",
      },
    );
    assert.notEqual(inside.xid, 0);
    assert.equal(alone.xid, 0, "a non-transactional message belongs to no transaction");
    assert.equal(alone.message.transactional, false);
    assert.equal(alone.message.lsn, alone.lsn);
    assert.deepEqual([...alone.message.content], [0x00, 0xff]);
  });
});
