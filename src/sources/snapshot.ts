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

/**
 * The same snapshot in a form that pg_snapshot's input accepts. The snapshot a logical slot
 * exports can have xmin above xmax (its builder moves xmin with the running transactions but
 * xmax only with the commits it decodes): "1990:1988:" came back from pg_current_snapshot()
 * after importing one, in about a quarter of slot creations under concurrent commits and
 * rollbacks, and pg_snapshot's input refuses it. PostgreSQL tests xid < xmin first, so such a
 * snapshot counts every xid below xmin as finished and every other one as not yet started:
 * that is "xmin:xmin:". Any other snapshot is returned as it is.
 */
export function validSnapshot(snapshot: SnapshotText): SnapshotText {
  const [xmin, xmax] = snapshot.split(":");
  if (xmin === undefined || xmax === undefined || BigInt(xmin) <= BigInt(xmax)) return snapshot;
  return `${xmin}:${xmin}:`;
}
