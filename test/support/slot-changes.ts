import { parseLsn } from "../../src/replication/lsn.js";
import { decodePgOutput } from "../../src/replication/pgoutput.js";
import type { PgOutputMessage } from "../../src/replication/pgoutput-messages.js";

/** One row of pg_logical_slot_peek_binary_changes, with its pgoutput message decoded. */
export interface Change {
  /** The `lsn` column: where the decoding context was when pgoutput wrote the message. */
  readonly lsn: bigint;
  readonly xid: number;
  readonly data: Buffer;
  readonly message: PgOutputMessage;
}

/** The rows of pg_logical_slot_peek_binary_changes, selected as `lsn::text, xid::text, data`. */
export function decodeChanges(rows: readonly { lsn: string; xid: string; data: Buffer }[]): Change[] {
  return rows.map(({ lsn, xid, data }) => ({
    lsn: parseLsn(lsn),
    xid: Number(xid),
    data,
    message: decodePgOutput(data),
  }));
}

/** The messages of one kind among `changes`, in order. */
export function messages<Tag extends PgOutputMessage["tag"]>(changes: readonly Change[], tag: Tag) {
  return changes.map((change) => change.message).filter((message) => message.tag === tag) as Extract<
    PgOutputMessage,
    { tag: Tag }
  >[];
}
