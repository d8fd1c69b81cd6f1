import type pg from "pg";
import { settleWithin } from "../core/sleep.js";
import { lsnToString, parseLsn } from "./lsn.js";
import { dateToPgMicros } from "./pg-time.js";
import { decodeReplicationMessage, encodeStandbyStatusUpdate } from "./replication-messages.js";

export interface StreamHandlers {
  /** One output plugin message (the body of an XLogData), in stream order. */
  readonly data: (data: Uint8Array) => void;
}

/** What CREATE_REPLICATION_SLOT returns when it exports its starting snapshot. */
export interface CreatedSlot {
  /** The slot streams every transaction that commits after this LSN. */
  readonly consistentPoint: bigint;
  /** Valid until this connection runs its next command: import it at once. */
  readonly snapshotName: string;
}

/**
 * A walsender connection (`replication=database`) over `pg`'s protocol implementation.
 * After START_REPLICATION the connection is in copy-both mode: CopyData messages carry WAL
 * in and status updates out. Acknowledgements are sent from a timer of their own, so a slow
 * handler never lets the server's wal_sender_timeout expire, and never on a dead connection.
 */
export class ReplicationConnection {
  readonly #client: pg.Client;
  #confirmed = 0n;
  #serverEnd = 0n;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(client: pg.Client) {
    this.#client = client;
  }

  /**
   * Connects `client`, which must be configured for `replication: "database"` (how it is made
   * from a pool is connection policy: see replicationClient), and takes it over. A client
   * that fails to connect is closed: a failure found on the client's side (no usable
   * password, say) leaves its socket open otherwise.
   */
  static async open(client: pg.Client): Promise<ReplicationConnection> {
    try {
      await client.connect();
    } catch (error) {
      const socket = (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
      await settleWithin(client.end(), 1000);
      socket?.destroy();
      throw error;
    }
    return new ReplicationConnection(client);
  }

  /** The walsender's process id, as the server announced it at connect. */
  get pid(): number | null {
    return (this.#client as unknown as { processID: number | null }).processID;
  }

  /** The server's WAL position as its last keepalive or message said. */
  get serverEnd(): bigint {
    return this.#serverEnd;
  }

  /** A replication command; the walsender accepts the simple query protocol only. */
  async command(text: string): Promise<Record<string, unknown>[]> {
    const { rows } = await this.#client.query(text);
    return rows;
  }

  /**
   * Creates a permanent pgoutput slot and exports the snapshot it starts from; with `failover`,
   * a failover slot (PostgreSQL 17+), which standbys with sync_replication_slots keep a copy of.
   */
  async createSlot(slot: string, { failover = false }: { failover?: boolean } = {}): Promise<CreatedSlot> {
    const [row] = await this.command(
      failover
        ? `CREATE_REPLICATION_SLOT "${slot}" LOGICAL pgoutput (SNAPSHOT 'export', FAILOVER true)`
        : `CREATE_REPLICATION_SLOT "${slot}" LOGICAL pgoutput EXPORT_SNAPSHOT`,
    );
    return {
      consistentPoint: parseLsn(String(row?.consistent_point)),
      snapshotName: String(row?.snapshot_name),
    };
  }

  /** Makes an existing slot a failover slot, or not (PostgreSQL 17+); the slot must be free. */
  async setFailover(slot: string, failover: boolean): Promise<void> {
    await this.command(`ALTER_REPLICATION_SLOT "${slot}" (FAILOVER ${failover})`);
  }

  /**
   * Streams from `from` until the connection ends or fails. Resolves when the server ends
   * the stream, rejects with the server's error (slot in use, missing, invalidated...).
   */
  stream(
    slot: string,
    publication: string,
    from: bigint,
    handlers: StreamHandlers,
    statusInterval: number,
  ): Promise<void> {
    // Nothing is reported as processed until the consumer says so: a stored position that is
    // wrong (a restored database) must never move the slot past WAL nobody has read. Zero is
    // "no position" to the server, which then leaves the slot where it is.
    this.#confirmed = 0n;
    const connection = (this.#client as unknown as { connection: ConnectionEvents }).connection;
    connection.on("copyData", (message: { chunk: Buffer }) => {
      const decoded = decodeReplicationMessage(message.chunk);
      if (decoded.tag === "xlog-data") {
        if (decoded.walEnd > this.#serverEnd) this.#serverEnd = decoded.walEnd;
        handlers.data(decoded.data);
      } else {
        if (decoded.walEnd > this.#serverEnd) this.#serverEnd = decoded.walEnd;
        if (decoded.replyRequested) this.#sendStatus();
      }
    });
    // The periodic update also asks for a reply: the server answers with a keepalive carrying
    // its current position, which is what an idle consumer may acknowledge up to. (Unasked,
    // an idle walsender speaks only every wal_sender_timeout / 2.)
    this.#timer = setInterval(() => this.#sendStatus(true), statusInterval);
    this.#timer.unref();
    const started = this.#client.query(
      `START_REPLICATION SLOT "${slot}" LOGICAL ${lsnToString(from)} (proto_version '1', publication_names '"${publication}"')`,
    );
    return started.then(
      () => this.#stopTimer(),
      (error: unknown) => {
        this.#stopTimer();
        throw error;
      },
    );
  }

  /** Reports everything up to `lsn` as processed; the server may then recycle that WAL. */
  confirm(lsn: bigint): void {
    if (lsn <= this.#confirmed) return;
    this.#confirmed = lsn;
    this.#sendStatus();
  }

  /** Stops and resumes reading from the socket, to keep what is queued in memory bounded. */
  pause(): void {
    this.#socket()?.pause();
  }

  resume(): void {
    this.#socket()?.resume();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopTimer();
    // Ending a connection in copy-both mode politely would need a CopyDone exchange; the
    // server handles a plain disconnect the same way, keeping the slot's confirmed position.
    // Either way this returns before the walsender has exited and released its slot.
    const socket = this.#socket();
    await settleWithin(this.#client.end(), 1000);
    socket?.destroy();
  }

  #sendStatus(replyRequested = false): void {
    // Never write an acknowledgement into a connection that is closing or already gone.
    if (this.#closed || !(this.#socket() as { writable?: boolean } | undefined)?.writable) return;
    const connection = (this.#client as unknown as { connection: ConnectionEvents }).connection;
    const body = encodeStandbyStatusUpdate({
      written: this.#confirmed,
      flushed: this.#confirmed,
      applied: this.#confirmed,
      clientTime: dateToPgMicros(Date.now()),
      replyRequested,
    });
    connection.sendCopyFromChunk(body);
  }

  #stopTimer(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #socket(): { pause(): void; resume(): void; destroy(): void } | undefined {
    return (this.#client as unknown as { connection?: { stream?: { pause(): void; resume(): void; destroy(): void } } })
      .connection?.stream;
  }

  /** Fires when the connection fails after the stream started. */
  onError(listener: (error: Error) => void): void {
    this.#client.on("error", listener);
  }
}

interface ConnectionEvents {
  on(event: "copyData", listener: (message: { chunk: Buffer }) => void): void;
  sendCopyFromChunk(chunk: Buffer): void;
}
