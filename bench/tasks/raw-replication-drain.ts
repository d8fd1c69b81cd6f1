import pg from "pg";
import { dateToPgMicros } from "../../src/replication/pg-time.js";
import { encodeStandbyStatusUpdate } from "../../src/replication/replication-messages.js";
import type { Drained, RawReplicationDrainTask } from "./task.js";
import { peakRssMb } from "./task.js";

// Byte offsets inside a CopyData message: 'w' XLogData is tag, start LSN (8), end LSN (8),
// send time (8), then the pgoutput message, whose first byte is its tag; 'k' keepalive is tag,
// end LSN (8), send time (8), reply-requested (1).
const xlogData = 0x77;
const keepalive = 0x6b;
const pgoutputTag = 25;
const insertTag = 0x49;
const replyRequested = 17;

/**
 * The best raw reader of a pgoutput slot, as a ceiling for the consumer: it counts Insert
 * messages by their tag byte and decodes nothing, acknowledging once a second and when the
 * server asks. With `coalesce` it pauses the socket for 1 ms after each read, so that the
 * next read takes what arrived meanwhile in one chunk (faster on a backlog of small
 * transactions). Timed from connecting until the n-th insert.
 */
export async function drainWithRawReader(task: RawReplicationDrainTask): Promise<Drained> {
  const client = new pg.Client({ connectionString: task.url, replication: "database" } as pg.ClientConfig);
  client.on("error", () => {}); // the socket is destroyed mid-stream at the end
  const started = performance.now();
  await client.connect();
  const connection = (client as unknown as { connection: RawConnection }).connection;
  const socket = connection.stream;
  let inserts = 0;
  let last: Buffer | undefined;
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const ack = () => {
    if (!last) return;
    const lsn = last.readBigUInt64BE(1); // the start of the last message received
    connection.sendCopyFromChunk(
      encodeStandbyStatusUpdate({
        written: lsn,
        flushed: lsn,
        applied: lsn,
        clientTime: dateToPgMicros(Date.now()),
        replyRequested: false,
      }),
    );
  };
  connection.on("copyData", ({ chunk }) => {
    if (chunk[0] === xlogData) {
      last = chunk;
      if (chunk[pgoutputTag] === insertTag && ++inserts >= task.n) done();
    } else if (chunk[0] === keepalive && chunk[replyRequested] !== 0) {
      ack();
    }
  });
  if (task.coalesce) {
    socket.on("data", () => {
      socket.pause();
      setTimeout(() => socket.resume(), 1);
    });
  }
  const timer = setInterval(ack, 1000);
  const streaming = client
    .query(
      `START_REPLICATION SLOT "${task.slot}" LOGICAL 0/0 (proto_version '1', publication_names '"${task.publication}"')`,
    )
    .catch(() => undefined);
  await finished;
  const seconds = (performance.now() - started) / 1000;
  clearInterval(timer);
  ack();
  socket.destroy();
  await streaming;
  return { seconds, peakRssMb: peakRssMb() };
}

interface RawConnection {
  readonly stream: {
    on(event: "data", listener: (data: Buffer) => void): void;
    pause(): void;
    resume(): void;
    destroy(): void;
  };
  on(event: "copyData", listener: (message: { chunk: Buffer }) => void): void;
  sendCopyFromChunk(chunk: Buffer): void;
}
