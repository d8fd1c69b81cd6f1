import { ByteReader, describeByte } from "./byte-reader.js";
import type {
  BeginMessage,
  CommitMessage,
  DeleteMessage,
  InsertMessage,
  LogicalMessage,
  OldTuple,
  OriginMessage,
  PgOutputMessage,
  RelationColumn,
  RelationMessage,
  ReplicaIdentity,
  TruncateMessage,
  TypeMessage,
  UpdateMessage,
} from "./pgoutput-messages.js";
import { readTupleData } from "./pgoutput-tuple.js";

/**
 * Decodes one pgoutput message (protocol version 1), the payload of one XLogData. A pure
 * function of the bytes: the whole input must be exactly one message, so a short message, an
 * unknown tag or trailing bytes throw a `ReplicationProtocolError` naming the message and the
 * field instead of returning a partial result.
 *
 * Strings are decoded as UTF-8: the connection's client_encoding must be UTF8.
 *
 * @example
 * const message = decodePgOutput(xlogData.data);
 * if (message.tag === "insert") console.log(message.relationId, message.newTuple);
 */
export function decodePgOutput(bytes: Uint8Array): PgOutputMessage {
  const reader = new ByteReader(bytes, "pgoutput message");
  const tag = reader.uint8("tag");
  const decode = decoders.get(tag);
  if (decode === undefined) {
    return reader.fail("tag", `unknown message tag ${describeByte(tag)} (only protocol version 1 is supported)`, 0);
  }
  reader.context = decode.name;
  const message = decode.read(reader);
  reader.end();
  return message;
}

interface Decoder {
  readonly name: string;
  read(reader: ByteReader): PgOutputMessage;
}

function readBegin(reader: ByteReader): BeginMessage {
  return {
    tag: "begin",
    finalLsn: reader.uint64("final LSN"),
    commitTime: reader.int64("commit time"),
    xid: reader.uint32("xid"),
  };
}

function readCommit(reader: ByteReader): CommitMessage {
  return {
    tag: "commit",
    flags: reader.uint8("flags"),
    commitLsn: reader.uint64("commit LSN"),
    endLsn: reader.uint64("end LSN"),
    commitTime: reader.int64("commit time"),
  };
}

function readOrigin(reader: ByteReader): OriginMessage {
  return { tag: "origin", originLsn: reader.uint64("origin LSN"), name: reader.cString("origin name") };
}

function readRelation(reader: ByteReader): RelationMessage {
  const relationId = reader.uint32("relation id");
  const namespace = reader.cString("namespace");
  const name = reader.cString("relation name");
  const replicaIdentity = readReplicaIdentity(reader);
  // A column takes at least 10 bytes: flags, an empty name's NUL, type OID and modifier.
  const count = reader.count("column count", 2, 10);
  const columns: RelationColumn[] = [];
  for (let index = 0; index < count; index++) {
    const flags = reader.uint8("column flags");
    columns.push({
      flags,
      isKey: (flags & 1) !== 0,
      name: reader.cString("column name"),
      typeOid: reader.uint32("column type OID"),
      typeMod: reader.int32("column type modifier"),
    });
  }
  return { tag: "relation", relationId, namespace, name, replicaIdentity, columns };
}

function readReplicaIdentity(reader: ByteReader): ReplicaIdentity {
  const at = reader.offset;
  const byte = reader.uint8("replica identity");
  switch (byte) {
    case 0x64: // 'd'
      return "default";
    case 0x6e: // 'n'
      return "nothing";
    case 0x66: // 'f'
      return "full";
    case 0x69: // 'i'
      return "index";
  }
  return reader.fail("replica identity", `unknown setting ${describeByte(byte)}`, at);
}

function readType(reader: ByteReader): TypeMessage {
  return {
    tag: "type",
    typeOid: reader.uint32("type OID"),
    namespace: reader.cString("namespace"),
    name: reader.cString("type name"),
  };
}

function readInsert(reader: ByteReader): InsertMessage {
  const relationId = reader.uint32("relation id");
  expectByte(reader, "new tuple marker", 0x4e); // 'N'
  return { tag: "insert", relationId, newTuple: readTupleData(reader, "new") };
}

function readUpdate(reader: ByteReader): UpdateMessage {
  const relationId = reader.uint32("relation id");
  // The old row comes first and is optional: 'K' or 'O', else straight to the new row's 'N'.
  const at = reader.offset;
  const marker = reader.uint8("tuple marker");
  let old: OldTuple | undefined;
  if (marker === 0x4b || marker === 0x4f) {
    old = readOld(reader, marker);
    expectByte(reader, "new tuple marker", 0x4e);
  } else if (marker !== 0x4e) {
    reader.fail("tuple marker", `expected 'K', 'O' or 'N', got ${describeByte(marker)}`, at);
  }
  return { tag: "update", relationId, old, newTuple: readTupleData(reader, "new") };
}

function readDelete(reader: ByteReader): DeleteMessage {
  const relationId = reader.uint32("relation id");
  const at = reader.offset;
  const marker = reader.uint8("old tuple marker");
  if (marker !== 0x4b && marker !== 0x4f) {
    reader.fail("old tuple marker", `expected 'K' or 'O', got ${describeByte(marker)}`, at);
  }
  return { tag: "delete", relationId, old: readOld(reader, marker) };
}

function readOld(reader: ByteReader, marker: number): OldTuple {
  return marker === 0x4b
    ? { identity: "key", tuple: readTupleData(reader, "key") }
    : { identity: "full", tuple: readTupleData(reader, "old") };
}

function readTruncate(reader: ByteReader): TruncateMessage {
  // Each relation is an int32 OID, after the one options byte.
  const count = reader.count("relation count", 4, 4, 1);
  const options = reader.uint8("options");
  const relationIds: number[] = [];
  for (let index = 0; index < count; index++) relationIds.push(reader.uint32("relation id"));
  return { tag: "truncate", options, cascade: (options & 1) !== 0, restartIdentity: (options & 2) !== 0, relationIds };
}

function readMessage(reader: ByteReader): LogicalMessage {
  const flags = reader.uint8("flags");
  const lsn = reader.uint64("LSN");
  const prefix = reader.cString("prefix");
  const length = reader.int32("content length");
  // A copy, so a message kept by the caller does not pin (or follow changes to) the input.
  // `new Uint8Array(view)` copies; Buffer#slice would not.
  const content = new Uint8Array(reader.bytes("content", length));
  return { tag: "message", flags, transactional: (flags & 1) !== 0, lsn, prefix, content };
}

function expectByte(reader: ByteReader, field: string, expected: number): void {
  const at = reader.offset;
  const byte = reader.uint8(field);
  if (byte !== expected) {
    reader.fail(field, `expected ${describeByte(expected)}, got ${describeByte(byte)}`, at);
  }
}

// Indexed by the tag byte. The name is what errors call the message.
const decoders = new Map<number, Decoder>([
  [0x42, { name: "Begin", read: readBegin }], // 'B'
  [0x43, { name: "Commit", read: readCommit }], // 'C'
  [0x4f, { name: "Origin", read: readOrigin }], // 'O'
  [0x52, { name: "Relation", read: readRelation }], // 'R'
  [0x59, { name: "Type", read: readType }], // 'Y'
  [0x49, { name: "Insert", read: readInsert }], // 'I'
  [0x55, { name: "Update", read: readUpdate }], // 'U'
  [0x44, { name: "Delete", read: readDelete }], // 'D'
  [0x54, { name: "Truncate", read: readTruncate }], // 'T'
  [0x4d, { name: "Message", read: readMessage }], // 'M'
]);
