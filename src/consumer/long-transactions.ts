import { queryRows } from "../database/query-rows.js";
import type { Queryable } from "../database/queryable.js";
import { inProgress, type SnapshotText } from "../sources/snapshot.js";
import { transactionsDescribe } from "./consumer-queries.js";

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
  const rows = await queryRows(db, transactionsDescribe, [short]);
  return rows.map((row) => ({
    transactionId: xids[short.indexOf(row.xid)] ?? BigInt(row.xid),
    pid: row.pid === null ? null : Number(row.pid),
    ageMs: Number(row.age_ms),
    database: row.database,
    state: row.state,
    preparedGid: row.gid,
  }));
}
