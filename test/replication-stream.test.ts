import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { EventEmitter } from "node:events";
import { before, describe, it } from "node:test";
import pg from "pg";
import { lsnToString, parseLsn } from "../src/replication/lsn.js";
import { type BackendMessage, MessageFramer } from "../src/replication/message-framer.js";
import { dateToPgMicros, pgMicrosToDate } from "../src/replication/pg-time.js";
import { decodePgOutput } from "../src/replication/pgoutput.js";
import type { PgOutputMessage } from "../src/replication/pgoutput-messages.js";
import {
  decodeReplicationMessage,
  encodeStandbyStatusUpdate,
  type PrimaryKeepalive,
  type XLogData,
} from "../src/replication/replication-messages.js";
import { needs } from "./support/needs.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

// The whole path on a real walsender: a replication connection's raw bytes, recorded from its
// socket, are cut by MessageFramer (however the stream is split), CopyData bodies decoded by
// decodeReplicationMessage, and XLogData payloads by decodePgOutput. A standby status update
// from encodeStandbyStatusUpdate then moves the slot's confirmed_flush_lsn.

const db = useTestDatabase();

/** The parts of pg's Client internals used to drive copy-both mode. */
interface RawConnection {
  readonly stream: EventEmitter;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
}

interface Recorded {
  readonly chunks: Buffer[];
  readonly liveMessages: BackendMessage[];
  readonly confirmed: bigint;
  readonly startedAt: number;
}

const big = "ü".repeat(60_000); // 120 KB of UTF-8: more than one socket read.

async function record(): Promise<Recorded> {
  const slot = `poutbox_stream_${randomBytes(4).toString("hex")}`;
  await db.pool.query(`CREATE TABLE items (id bigint PRIMARY KEY, body text);
    CREATE PUBLICATION stream_pub FOR TABLE items WITH (publish = 'insert')`);
  const chunks: Buffer[] = [];
  const liveMessages: BackendMessage[] = [];
  const framer = new MessageFramer();
  const client = new pg.Client({ connectionString: db.url, replication: "database" } as pg.ClientConfig);
  const raw = (client as unknown as { connection: RawConnection }).connection;
  raw.stream.on("data", (chunk: Buffer) => {
    chunks.push(chunk);
    liveMessages.push(...framer.push(chunk));
  });
  const startedAt = Date.now() - 1000;
  try {
    await client.connect();
    // Temporary: the slot goes away with this connection even if the test dies.
    await client.query(`CREATE_REPLICATION_SLOT ${slot} TEMPORARY LOGICAL pgoutput`);
    await db.pool.query("INSERT INTO items VALUES (1, 'plain'), (2, 'héllo ✓ 日本 😀')");
    await db.pool.query("INSERT INTO items VALUES (3, $1)", [big]);
    const streaming = client.query(
      `START_REPLICATION SLOT ${slot} LOGICAL 0/0 (proto_version '1', publication_names 'stream_pub')`,
    );
    // Awaited below; this only keeps an early failure from surfacing as an unhandled rejection.
    streaming.catch(() => {});
    const commits = () => decodedXLogData(liveMessages).filter(({ message }) => message.tag === "commit");
    await waitFor(() => commits().length === 2, { what: "both commits streamed" });
    const last = commits()[1]?.message;
    assert.ok(last?.tag === "commit");
    const keepalivesBefore = keepalives(liveMessages).length;
    raw.sendCopyFromChunk(
      encodeStandbyStatusUpdate({
        written: last.endLsn,
        flushed: last.endLsn,
        applied: last.endLsn,
        clientTime: dateToPgMicros(new Date()),
        replyRequested: true,
      }),
    );
    let confirmed = 0n;
    await waitFor(
      async () => {
        const { rows } = await db.pool.query(
          "SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1",
          [slot],
        );
        confirmed = parseLsn(rows[0].lsn);
        return confirmed === last.endLsn;
      },
      { what: "confirmed_flush_lsn moved to the acknowledged LSN" },
    );
    // replyRequested makes the server answer with a keepalive; then end copy-both mode.
    await waitFor(() => keepalives(liveMessages).length > keepalivesBefore, { what: "the requested keepalive" });
    raw.endCopyFrom();
    await streaming;
    return { chunks, liveMessages, confirmed, startedAt };
  } finally {
    await client.end();
    // A slot left behind pins WAL and blocks dropping the database.
    await waitFor(
      async () => {
        const { rows } = await db.pool.query("SELECT active FROM pg_replication_slots WHERE slot_name = $1", [slot]);
        if (rows[0]?.active === false) await db.pool.query("SELECT pg_drop_replication_slot($1)", [slot]);
        return rows.length === 0;
      },
      { what: "the temporary slot is gone" },
    );
  }
}

function keepalives(messages: readonly BackendMessage[]): PrimaryKeepalive[] {
  return copyData(messages)
    .map((body) => decodeReplicationMessage(body))
    .filter((message): message is PrimaryKeepalive => message.tag === "keepalive");
}

function copyData(messages: readonly BackendMessage[]): Uint8Array[] {
  return messages.filter((message) => message.type === "d").map((message) => message.body);
}

function decodedXLogData(messages: readonly BackendMessage[]): { xlog: XLogData; message: PgOutputMessage }[] {
  return copyData(messages)
    .map((body) => decodeReplicationMessage(body))
    .filter((decoded): decoded is XLogData => decoded.tag === "xlog-data")
    .map((xlog) => ({ xlog, message: decodePgOutput(xlog.data) }));
}

function assertSameMessages(actual: readonly BackendMessage[], expected: readonly BackendMessage[], how: string) {
  assert.equal(actual.length, expected.length, how);
  for (let index = 0; index < expected.length; index++) {
    const a = actual[index] as BackendMessage;
    const b = expected[index] as BackendMessage;
    if (a.type !== b.type || Buffer.compare(a.body, b.body) !== 0) assert.fail(`${how}: message ${index} differs`);
  }
}

describe("a real replication stream", needs("logical-replication"), () => {
  let recorded: Recorded;
  let stream: Buffer;
  let reference: BackendMessage[];
  before(async () => {
    recorded = await record();
    stream = Buffer.concat(recorded.chunks);
    reference = new MessageFramer().push(stream);
  });

  it("frames the whole conversation, from authentication to the end of copy-both mode", () => {
    const types = reference.map((message) => message.type).join("");
    // Authentication, parameters, key data, ready; slot creation; copy-both, data, copy done.
    assert.match(types, /^R+S+KZ/);
    assert.match(types, /TDCZWd+c(d*)CCZ$/);
    assertSameMessages(recorded.liveMessages, reference, "as read from the socket");
    assert.ok(recorded.chunks.length > 1);
  });

  it("frames identically when the stream is split at every byte offset, or into single bytes", () => {
    for (let split = 0; split <= stream.length; split++) {
      const framer = new MessageFramer();
      const messages = [...framer.push(stream.subarray(0, split)), ...framer.push(stream.subarray(split))];
      assertSameMessages(messages, reference, `split at ${split}`);
      assert.equal(framer.bufferedBytes, 0);
    }
    const framer = new MessageFramer();
    const messages: BackendMessage[] = [];
    for (let offset = 0; offset < stream.length; offset++)
      messages.push(...framer.push(stream.subarray(offset, offset + 1)));
    assertSameMessages(messages, reference, "single bytes");
  });

  it("decodes XLogData into the inserted rows, with LSNs that match the commits", () => {
    const decoded = decodedXLogData(reference);
    assert.deepEqual(
      decoded.map(({ message }) => message.tag),
      ["begin", "relation", "insert", "insert", "commit", "begin", "insert", "commit"],
    );
    const values = decoded.flatMap(({ message }) =>
      message.tag === "insert"
        ? [message.newTuple.map((value) => (value.kind === "text" ? value.value : value.kind))]
        : [],
    );
    assert.deepEqual(values, [
      ["1", "plain"],
      ["2", "héllo ✓ 日本 😀"],
      ["3", big],
    ]);
    for (const { xlog, message } of decoded) {
      // A logical walsender sends one LSN twice; and 0 for messages that are not the last
      // written for a change (Relation, Type), so walStart is not monotonic.
      assert.equal(xlog.walEnd, xlog.walStart);
      if (message.tag === "relation") assert.equal(xlog.walStart, 0n);
      if (message.tag === "commit") assert.equal(xlog.walStart, message.endLsn);
      const sentAt = pgMicrosToDate(xlog.sendTime).getTime();
      assert.ok(sentAt >= recorded.startedAt && sentAt <= Date.now() + 1000);
    }
    const commits = decoded.flatMap(({ message }) => (message.tag === "commit" ? [message] : []));
    assert.equal(recorded.confirmed, commits[1]?.endLsn);
    assert.equal(lsnToString(recorded.confirmed), lsnToString(parseLsn(lsnToString(recorded.confirmed))));
  });

  it("decodes primary keepalives", () => {
    const received = keepalives(reference);
    assert.ok(received.length > 0);
    for (const keepalive of received) {
      assert.equal(typeof keepalive.replyRequested, "boolean");
      assert.ok(keepalive.walEnd > 0n);
      assert.ok(pgMicrosToDate(keepalive.sendTime).getTime() >= recorded.startedAt);
    }
  });
});
