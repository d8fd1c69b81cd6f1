// The messages of the pgoutput plugin, protocol version 1 (PostgreSQL's "Logical Replication
// Message Formats"). Version 1 has no streamed transactions, so no message carries an xid
// besides Begin. LSNs are uint64 bigints; times are int64 bigints of microseconds since
// 2000-01-01 UTC (see `pgTimeToDate`); OIDs and xids are uint32 numbers.

/** The `tag` of every pgoutput message this decoder knows. */
export const pgOutputTags = [
  "begin",
  "commit",
  "origin",
  "relation",
  "type",
  "insert",
  "update",
  "delete",
  "truncate",
  "message",
] as const;

export type PgOutputTag = (typeof pgOutputTags)[number];

/** A relation's REPLICA IDENTITY, which decides what Update and Delete carry of the old row. */
export const replicaIdentities = ["default", "nothing", "full", "index"] as const;

export type ReplicaIdentity = (typeof replicaIdentities)[number];

/**
 * One column of a row. `unchanged-toast` is a large (TOASTed) value the row update did not
 * touch: the server does not send it again, so the receiver must keep the value it has.
 */
export type TupleValue =
  | { readonly kind: "null" }
  | { readonly kind: "unchanged-toast" }
  /** The column's text output, in the connection's client encoding (must be UTF8). */
  | { readonly kind: "text"; readonly value: string }
  /** The type's binary send format, only when the `binary` option is on; a copy of the input. */
  | { readonly kind: "binary"; readonly value: Uint8Array };

/** The columns of a row, in the order of the Relation message's columns. */
export type TupleData = readonly TupleValue[];

/** Start of a transaction: its changes follow, up to a Commit. */
export interface BeginMessage {
  readonly tag: "begin";
  /** LSN of the commit record: the same as the Commit message's `commitLsn`. */
  readonly finalLsn: bigint;
  readonly commitTime: bigint;
  readonly xid: number;
}

export interface CommitMessage {
  readonly tag: "commit";
  /** Unused by the server so far (always 0). */
  readonly flags: number;
  /** LSN of the commit record. */
  readonly commitLsn: bigint;
  /** LSN just past the commit record: what to confirm as flushed once the transaction is done. */
  readonly endLsn: bigint;
  readonly commitTime: bigint;
}

/** Sent after Begin when the transaction was replayed from another node (replication origin). */
export interface OriginMessage {
  readonly tag: "origin";
  /** LSN of the commit on the origin server (0 when the origin session did not set one). */
  readonly originLsn: bigint;
  readonly name: string;
}

export interface RelationColumn {
  /** 1 when the column is part of the replica identity key, else 0. */
  readonly flags: number;
  readonly isKey: boolean;
  readonly name: string;
  readonly typeOid: number;
  /** The type modifier (`atttypmod`), -1 when the type has none. */
  readonly typeMod: number;
}

/**
 * Describes a table before the first change to it in a session, and again after its shape
 * changes. Later Insert, Update and Delete messages refer to it by `relationId`.
 */
export interface RelationMessage {
  readonly tag: "relation";
  readonly relationId: number;
  /** Schema name; the server sends an empty string for `pg_catalog`. */
  readonly namespace: string;
  readonly name: string;
  readonly replicaIdentity: ReplicaIdentity;
  readonly columns: readonly RelationColumn[];
}

/** Describes a non-built-in type (an enum, a domain...) used by a following Relation. */
export interface TypeMessage {
  readonly tag: "type";
  readonly typeOid: number;
  /** Schema name; empty for `pg_catalog`. */
  readonly namespace: string;
  readonly name: string;
}

export interface InsertMessage {
  readonly tag: "insert";
  readonly relationId: number;
  readonly newTuple: TupleData;
}

/**
 * The old row as Update and Delete carry it: `key` holds only the replica identity columns
 * (the others are null), `full` the whole old row (REPLICA IDENTITY FULL).
 */
export interface OldTuple {
  readonly identity: "key" | "full";
  readonly tuple: TupleData;
}

export interface UpdateMessage {
  readonly tag: "update";
  readonly relationId: number;
  /** Absent when the replica identity did not change and is not FULL. */
  readonly old: OldTuple | undefined;
  readonly newTuple: TupleData;
}

export interface DeleteMessage {
  readonly tag: "delete";
  readonly relationId: number;
  readonly old: OldTuple;
}

export interface TruncateMessage {
  readonly tag: "truncate";
  /** The option bits: 1 CASCADE, 2 RESTART IDENTITY. */
  readonly options: number;
  readonly cascade: boolean;
  readonly restartIdentity: boolean;
  readonly relationIds: readonly number[];
}

/** A message written by `pg_logical_emit_message()`, sent when the `messages` option is on. */
export interface LogicalMessage {
  readonly tag: "message";
  /** Bit 1: transactional (delivered inside its transaction, else on its own, at once). */
  readonly flags: number;
  readonly transactional: boolean;
  readonly lsn: bigint;
  readonly prefix: string;
  /** The content, a copy of the input. */
  readonly content: Uint8Array;
}

/** Any pgoutput message; switch on `tag`. */
export type PgOutputMessage =
  | BeginMessage
  | CommitMessage
  | OriginMessage
  | RelationMessage
  | TypeMessage
  | InsertMessage
  | UpdateMessage
  | DeleteMessage
  | TruncateMessage
  | LogicalMessage;
