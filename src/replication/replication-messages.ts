import { ByteReader } from "./byte-reader.js";

// After START_REPLICATION the connection is in copy-both mode, and every CopyData message
// carries one of these, told apart by its first byte. The server sends XLogData ('w') and
// primary keepalives ('k'); the client sends standby status updates ('r').

/** WAL data: with a logical slot, exactly one output plugin message (see `decodePgOutput`). */
export interface XLogData {
  readonly tag: "xlog-data";
  /** Where `data` starts in the WAL; for logical replication, the LSN of the message. */
  readonly walStart: bigint;
  /** The end of WAL on the server (logical walsenders send the same LSN as `walStart`). */
  readonly walEnd: bigint;
  /** When the server sent it, in microseconds since 2000-01-01 UTC (see `pgMicrosToDate`). */
  readonly sendTime: bigint;
  /** The payload, a view of the input without copying. */
  readonly data: Uint8Array;
}

/** The server's heartbeat; `replyRequested` asks for a standby status update right away. */
export interface PrimaryKeepalive {
  readonly tag: "keepalive";
  readonly walEnd: bigint;
  readonly sendTime: bigint;
  readonly replyRequested: boolean;
}

/** A message from the server inside CopyData; switch on `tag`. */
export type ReplicationMessage = XLogData | PrimaryKeepalive;

/**
 * Decodes the body of one CopyData message received on a replication connection. Throws a
 * `ReplicationProtocolError` for a short message, an unknown tag or (for a keepalive)
 * trailing bytes.
 *
 * @example
 * const message = decodeReplicationMessage(copyData);
 * if (message.tag === "xlog-data") handle(decodePgOutput(message.data));
 */
export function decodeReplicationMessage(bytes: Uint8Array): ReplicationMessage {
  const reader = new ByteReader(bytes, "replication message");
  const tag = reader.uint8("tag");
  if (tag === 0x77) {
    // 'w'
    reader.context = "XLogData";
    return {
      tag: "xlog-data",
      walStart: reader.uint64("WAL start"),
      walEnd: reader.uint64("WAL end"),
      sendTime: reader.int64("send time"),
      data: reader.rest(),
    };
  }
  if (tag === 0x6b) {
    // 'k'
    reader.context = "Primary keepalive";
    const walEnd = reader.uint64("WAL end");
    const sendTime = reader.int64("send time");
    // Any non-zero byte asks for a reply, as the server's own walreceiver reads it.
    const replyRequested = reader.uint8("reply requested") !== 0;
    reader.end();
    return { tag: "keepalive", walEnd, sendTime, replyRequested };
  }
  return reader.fail("tag", `unknown replication message tag 0x${tag.toString(16)}`, 0);
}

/** What the client reports to the server; all LSNs are uint64 bigints. */
export interface StandbyStatusUpdate {
  /** The last WAL byte + 1 received. */
  readonly written: bigint;
  /**
   * The last WAL byte + 1 durably handled. For a logical slot this is what the server may
   * discard up to (the slot's `confirmed_flush_lsn`), so only report work that is done.
   */
  readonly flushed: bigint;
  /** The last WAL byte + 1 applied. */
  readonly applied: bigint;
  /** Microseconds since 2000-01-01 UTC (`dateToPgMicros(Date.now())`). */
  readonly clientTime: bigint;
  /** Asks the server to answer with a keepalive at once. */
  readonly replyRequested: boolean;
}

/** Byte length of a standby status update: the tag, four int64 and one byte. */
export const standbyStatusUpdateLength = 34;

const maxUint64 = (1n << 64n) - 1n;
const minInt64 = -(1n << 63n);
const maxInt64 = (1n << 63n) - 1n;

/**
 * Encodes a standby status update ('r'), the body of a CopyData message the client sends to
 * acknowledge WAL. Throws a `RangeError` naming the field for an LSN outside uint64 or a time
 * outside int64.
 *
 * @example
 * const body = encodeStandbyStatusUpdate({ written: lsn, flushed: lsn, applied: lsn,
 *   clientTime: dateToPgMicros(Date.now()), replyRequested: false });
 */
export function encodeStandbyStatusUpdate(update: StandbyStatusUpdate): Buffer {
  const buffer = Buffer.alloc(standbyStatusUpdateLength);
  buffer.writeUInt8(0x72, 0); // 'r'
  buffer.writeBigUInt64BE(inRange("written", update.written, 0n, maxUint64), 1);
  buffer.writeBigUInt64BE(inRange("flushed", update.flushed, 0n, maxUint64), 9);
  buffer.writeBigUInt64BE(inRange("applied", update.applied, 0n, maxUint64), 17);
  buffer.writeBigInt64BE(inRange("clientTime", update.clientTime, minInt64, maxInt64), 25);
  buffer.writeUInt8(update.replyRequested ? 1 : 0, 33);
  return buffer;
}

function inRange(field: string, value: bigint, min: bigint, max: bigint): bigint {
  if (typeof value !== "bigint" || value < min || value > max) {
    throw new RangeError(`Standby status update ${field} must be a bigint from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}
