import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { before, describe, it } from "node:test";
import { parseLsn } from "../src/replication/lsn.js";
import { pgMicrosToDate } from "../src/replication/pg-time.js";
import type { RelationMessage, TupleData } from "../src/replication/pgoutput-messages.js";
import { needs } from "./support/needs.js";
import { type Change, decodeChanges, messages } from "./support/slot-changes.js";
import { useTestDatabase } from "./support/test-database.js";

// Decodes what a real PostgreSQL sends for inserts: rows are written to a throw-away database
// and read back through a logical slot with pg_logical_slot_peek_binary_changes, which returns
// the exact bytes pgoutput puts in XLogData. pgoutput-changes-server.test.ts does the same for
// updates, deletes and the rest. With POUTBOX_PRINT_FIXTURES=1 both print the bytes as hex,
// which is how the fixtures of src/replication/pgoutput.test.ts were made.

const db = useTestDatabase();

interface Captured {
  readonly startLsn: bigint;
  readonly endLsn: bigint;
  readonly startedAt: number;
  /** The server's major version: PostgreSQL 14 sends a transaction with nothing published. */
  readonly major: number;
  readonly xid: number;
  readonly origin: string;
  readonly oids: { readonly items: number; readonly jobs: number; readonly mood: number };
  readonly text: Change[];
  readonly binary: Change[];
}

const tricky = "héllo ✓ 日本 😀 e\u0301\n\t\"\\'";
// STORAGE EXTERNAL below keeps it out of line and uncompressed, so it really is TOASTed.
const big = "wörld 😀 0123456789 ".repeat(4500);
const payload = JSON.stringify({ orderId: 12345, customer: { id: "c_81", email: "ana@example.com" }, total: 99.5 });

async function capture(): Promise<Captured> {
  const suffix = randomBytes(4).toString("hex");
  const slot = `poutbox_inserts_${suffix}`;
  const origin = `poutbox_origin_${suffix}`;
  const client = await db.pool.connect();
  const lsnNow = async () => parseLsn((await client.query("SELECT pg_current_wal_insert_lsn()::text AS l")).rows[0].l);
  let originCreated = false;
  try {
    await client.query(`
      CREATE TYPE mood AS ENUM ('happy', 'sad');
      CREATE TABLE items (id bigint PRIMARY KEY, body text, n int, feeling mood, big text);
      ALTER TABLE items ALTER COLUMN big SET STORAGE EXTERNAL;
      CREATE TABLE jobs (id bigint, topic text, payload json, headers json, attempt int, consumer text,
        created_at timestamptz DEFAULT now(), transaction_id xid8 DEFAULT pg_current_xact_id());
      CREATE PUBLICATION pub_insert FOR TABLE items, jobs WITH (publish = 'insert');`);
    // Temporary, so even a crashed run leaves no slot pinning WAL; dropped explicitly below.
    await client.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput', true)", [slot]);
    const major = Number(
      (await client.query("SELECT current_setting('server_version_num')::int / 10000 AS m")).rows[0].m,
    );
    const startedAt = Date.now() - 1000;
    const startLsn = await lsnNow();

    await client.query("BEGIN");
    const xid8 = BigInt((await client.query("SELECT pg_current_xact_id()::text AS x")).rows[0].x);
    await client.query("INSERT INTO items VALUES (1, 'plain', 42, 'happy', NULL), (2, $1, NULL, NULL, NULL)", [tricky]);
    await client.query("COMMIT");
    await client.query("INSERT INTO items VALUES (3, '', -7, 'sad', $1)", [big]);
    await client.query("UPDATE items SET n = 43 WHERE id = 3"); // not published: no Begin, no Commit
    await client.query("SELECT pg_replication_origin_create($1)", [origin]);
    originCreated = true;
    await client.query("SELECT pg_replication_origin_session_setup($1)", [origin]);
    await client.query(`BEGIN; SELECT pg_replication_origin_xact_setup('AB/12345678', now());
      INSERT INTO items VALUES (5, 'from an origin', NULL, NULL, NULL); COMMIT`);
    await client.query("SELECT pg_replication_origin_session_reset()");
    await client.query("INSERT INTO jobs (id, topic, payload) VALUES (1001, 'order.created', $1)", [payload]);
    const endLsn = await lsnNow();

    const peek = async (...options: string[]): Promise<Change[]> => {
      const { rows } = await client.query<{ lsn: string; xid: string; data: Buffer }>(
        `SELECT lsn::text, xid::text, data FROM pg_logical_slot_peek_binary_changes($1, NULL, NULL,
           VARIADIC ARRAY['proto_version', '1', 'publication_names', 'pub_insert']::text[] || $2::text[])`,
        [slot, options],
      );
      return decodeChanges(rows);
    };
    const { rows } = await client.query(
      "SELECT 'items'::regclass::oid::int AS items, 'jobs'::regclass::oid::int AS jobs, 'mood'::regtype::oid::int AS mood",
    );
    const xid = Number(xid8 & 0xffff_ffffn); // xid8 carries the epoch in its upper half
    return {
      startLsn,
      endLsn,
      startedAt,
      major,
      xid,
      origin,
      oids: rows[0],
      text: await peek(),
      binary: await peek("binary", "true"),
    };
  } finally {
    // A slot left behind pins WAL and blocks DROP DATABASE, so it goes even if a step failed.
    await client.query("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", [
      slot,
    ]);
    if (originCreated) {
      await client.query("SELECT pg_replication_origin_session_reset()").catch(() => {});
      await client.query("SELECT pg_replication_origin_drop($1)", [origin]);
    }
    client.release();
  }
}

/** Groups changes into transactions, checking what ties Begin, the changes and Commit together. */
function checkTransactions(changes: readonly Change[], captured: Captured): Change[][] {
  const all: Change[][] = [];
  for (const change of changes) {
    if (change.message.tag === "begin") all.push([]);
    all.at(-1)?.push(change);
  }
  let previousEnd = captured.startLsn;
  for (const tx of all) {
    const [first, last] = [tx[0], tx.at(-1)];
    assert.ok(first?.message.tag === "begin" && last?.message.tag === "commit");
    const [begin, commit] = [first.message, last.message];
    assert.equal(begin.finalLsn, commit.commitLsn, "Begin's final LSN is the commit record's LSN");
    assert.equal(last.lsn, commit.endLsn, "the Commit row's lsn is the end of the commit record");
    assert.ok(previousEnd < commit.commitLsn && commit.commitLsn < commit.endLsn && commit.endLsn <= captured.endLsn);
    previousEnd = commit.endLsn;
    assert.equal(commit.flags, 0);
    assert.equal(begin.commitTime, commit.commitTime);
    const committedAt = pgMicrosToDate(commit.commitTime).getTime();
    assert.ok(committedAt >= captured.startedAt && committedAt <= Date.now() + 1000, `commit time ${committedAt}`);
    // From PostgreSQL 15 the Begin row carries the LSN of the transaction's first change: the
    // server defers Begin until something in the transaction is published. 14 sends Begin
    // first, at the transaction's first record, whether anything follows or not.
    if (captured.major >= 15) assert.equal(first.lsn, tx[1]?.lsn);
    else assert.ok(first.lsn <= (tx[1] as Change).lsn && first.lsn < commit.commitLsn);
    tx.forEach((change, index) => {
      assert.equal(change.xid, begin.xid, "every row of a transaction has its xid");
      assert.ok(index === 0 || change.lsn >= (tx[index - 1] as Change).lsn, "lsn never goes back");
      if (change !== last) assert.ok(change.lsn < commit.commitLsn, "changes come before their commit record");
    });
  }
  return all;
}

/** A tuple as column name -> text or null. */
function row(relation: RelationMessage, tuple: TupleData): Record<string, string | null> {
  assert.equal(tuple.length, relation.columns.length);
  return Object.fromEntries(
    relation.columns.map((column, index) => {
      const value = tuple[index];
      assert.ok(value?.kind === "text" || value?.kind === "null");
      return [column.name, value.kind === "text" ? value.value : null];
    }),
  );
}

describe("decodePgOutput on inserts from a real server", needs("logical-replication", "replication-origins"), () => {
  let captured: Captured;
  before(async () => {
    captured = await capture();
  });

  it("prints the captured bytes when asked, to refresh the fixtures", (t) => {
    if (!process.env.POUTBOX_PRINT_FIXTURES) return;
    for (const { message, lsn, xid, data } of captured.text) {
      if (data.length < 2000) t.diagnostic(`${message.tag} lsn=${lsn} xid=${xid} ${data.toString("hex")}`);
    }
  });

  it("decodes Type and Relation messages for the tables and the enum they use", () => {
    const { oids } = captured;
    assert.deepEqual(messages(captured.text, "type"), [
      { tag: "type", typeOid: oids.mood, namespace: "public", name: "mood" },
    ]);
    const [items, jobs] = messages(captured.text, "relation");
    assert.deepEqual(
      {
        ...items,
        columns: items?.columns.map((column) => [column.name, column.isKey, column.typeOid, column.typeMod]),
      },
      {
        tag: "relation",
        relationId: oids.items,
        namespace: "public",
        name: "items",
        replicaIdentity: "default",
        columns: [
          ["id", true, 20, -1],
          ["body", false, 25, -1],
          ["n", false, 23, -1],
          ["feeling", false, oids.mood, -1],
          ["big", false, 25, -1],
        ],
      },
    );
    assert.equal(jobs?.relationId, oids.jobs);
    assert.deepEqual(
      jobs?.columns.map((column) => column.typeOid),
      [20, 25, 114, 114, 23, 25, 1184, 5069],
    );
  });

  it("decodes inserted rows exactly: NULLs, non-ASCII text, an enum, a 100 KB value, JSON", () => {
    const [items, jobs] = messages(captured.text, "relation");
    assert.ok(items && jobs);
    const inserts = messages(captured.text, "insert");
    assert.deepEqual(
      inserts.filter((insert) => insert.relationId === items.relationId).map((insert) => row(items, insert.newTuple)),
      [
        { id: "1", body: "plain", n: "42", feeling: "happy", big: null },
        { id: "2", body: tricky, n: null, feeling: null, big: null },
        { id: "3", body: "", n: "-7", feeling: "sad", big },
        { id: "5", body: "from an origin", n: null, feeling: null, big: null },
      ],
    );
    const job = row(jobs, inserts.at(-1)?.newTuple ?? []);
    assert.deepEqual([job.id, job.topic, job.payload, job.headers], ["1001", "order.created", payload, null]);
  });

  it("ties LSNs, xids and commit times together, and skips a transaction with nothing published (15+)", () => {
    const all = checkTransactions(captured.text, captured);
    const tags = all.map((tx) => tx.map((change) => change.message.tag));
    const empty = tags.filter((tx) => tx.length === 2);
    // PostgreSQL 14 sends an empty Begin and Commit for each transaction with nothing
    // published (the UPDATE at least); 15 and later send nothing for them.
    if (captured.major >= 15) assert.equal(empty.length, 0);
    else assert.ok(empty.length >= 1 && empty.every((tx) => tx[0] === "begin" && tx[1] === "commit"));
    assert.deepEqual(
      tags.filter((tx) => tx.length > 2),
      [
        ["begin", "type", "relation", "insert", "insert", "commit"],
        ["begin", "insert", "commit"],
        ["begin", "origin", "insert", "commit"],
        ["begin", "relation", "insert", "commit"],
      ],
    );
    assert.equal(messages(captured.text, "begin")[0]?.xid, captured.xid);
    assert.deepEqual(messages(captured.text, "origin"), [
      { tag: "origin", originLsn: 0xab_12345678n, name: captured.origin },
    ]);
  });

  it("decodes binary columns as the types' send format", () => {
    const inserts = messages(captured.binary, "insert");
    const binary = (insert: number, column: number) => {
      const value = inserts[insert]?.newTuple[column];
      assert.ok(value?.kind === "binary", `insert ${insert} column ${column}`);
      return Buffer.from(value.value);
    };
    assert.equal(binary(0, 0).readBigInt64BE(), 1n);
    assert.equal(binary(0, 1).toString(), "plain");
    assert.equal(binary(0, 2).readInt32BE(), 42);
    assert.equal(binary(0, 3).toString(), "happy");
    assert.equal(inserts[0]?.newTuple[4]?.kind, "null");
    assert.equal(binary(2, 2).readInt32BE(), -7);
    assert.equal(binary(2, 4).toString(), big);
    checkTransactions(captured.binary, captured);
  });
});
