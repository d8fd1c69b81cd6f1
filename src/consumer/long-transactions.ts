import { queryRows } from "../database/query-rows.js";
import type { Queryable } from "../database/queryable.js";
import { inProgress, type SnapshotText } from "../sources/snapshot.js";

/** A transaction that has stayed open long enough to be worth an operator's look. */
export interface LongTransaction {
  readonly transactionId: bigint;
  /** The backend running it; null for a prepared transaction (see `preparedGid`). */
  readonly pid: number | null;
  readonly ageMs: number;
  readonly database: string | null;
  readonly state: string | null;
  readonly preparedGid: string | null;
}

/**
 * Watches the in-progress lists of the snapshots the consumer takes. Polling never waits for
 * an open transaction, but its progress snapshot keeps the transaction as a hole until it
 * ends, and a job it wrote arrives only then; one open for hours usually means a stuck
 * client. Each is reported once per threshold period.
 */
export class LongTransactionWatch {
  readonly #threshold: number;
  readonly #firstSeen = new Map<bigint, number>();
  readonly #lastReported = new Map<bigint, number>();

  constructor(threshold: number) {
    this.#threshold = threshold;
  }

  /** Records a snapshot; returns the transactions now due for a report. */
  observe(snapshot: SnapshotText, now = Date.now()): bigint[] {
    const open = new Set(inProgress(snapshot));
    for (const xid of this.#firstSeen.keys()) {
      if (!open.has(xid)) {
        this.#firstSeen.delete(xid);
        this.#lastReported.delete(xid);
      }
    }
    const due: bigint[] = [];
    for (const xid of open) {
      const first = this.#firstSeen.get(xid) ?? now;
      this.#firstSeen.set(xid, first);
      const last = this.#lastReported.get(xid);
      if (now - first >= this.#threshold && (last === undefined || now - last >= this.#threshold)) {
        this.#lastReported.set(xid, now);
        due.push(xid);
      }
    }
    return due;
  }
}

/** Who holds the given transactions open, from pg_stat_activity and pg_prepared_xacts. */
export async function describeTransactions(db: Queryable, xids: readonly bigint[]): Promise<LongTransaction[]> {
  // The catalogs show 32-bit xids; a 64-bit xid8 is its epoch and that xid.
  const short = xids.map((xid) => String(xid % 4294967296n));
  const rows = await queryRows<{
    xid: string;
    pid: number | null;
    age_ms: string;
    database: string | null;
    state: string | null;
    gid: string | null;
  }>(
    db,
    `SELECT a.backend_xid::text AS xid, a.pid, (extract(epoch FROM now() - a.xact_start) * 1000)::bigint AS age_ms,
            a.datname AS database, a.state, NULL AS gid
       FROM pg_stat_activity a WHERE a.backend_xid::text = ANY($1::text[])
     UNION ALL
     SELECT p.transaction::text, NULL, (extract(epoch FROM now() - p.prepared) * 1000)::bigint, p.database, 'prepared', p.gid
       FROM pg_prepared_xacts p WHERE p.transaction::text = ANY($1::text[])`,
    [short],
  );
  return rows.map((row) => ({
    transactionId: xids[short.indexOf(row.xid)] ?? BigInt(row.xid),
    pid: row.pid === null ? null : Number(row.pid),
    ageMs: Number(row.age_ms),
    database: row.database,
    state: row.state,
    preparedGid: row.gid,
  }));
}
