/**
 * A PostgreSQL pg_snapshot in its text form, `xmin:xmax:xip1,xip2,...`: transactions below
 * xmin are finished, those at or above xmax had not started, and the listed ones were in
 * progress. Kept as text between queries; parsed only to watch for long-open transactions.
 */
export type SnapshotText = string;

/** Sees no transaction at all: a new consumer's progress, so every job present is new. */
export const emptySnapshot: SnapshotText = "1:1:";

/** The transactions in progress when the snapshot was taken. */
export function inProgress(snapshot: SnapshotText): bigint[] {
  const list = snapshot.split(":")[2];
  return list ? list.split(",").map((xid) => BigInt(xid)) : [];
}
