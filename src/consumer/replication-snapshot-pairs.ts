import type pg from "pg";
import { queryRow } from "../database/query-rows.js";
import { parseLsn } from "../replication/lsn.js";
import { snapshotPairRead } from "./consumer-queries.js";

// How often a new (snapshot, WAL position) pair is taken to move the progress snapshot.
const snapshotPairInterval = 1000;

/**
 * Keeps the replication consumer's progress snapshot, the one model of progress that polling,
 * partition maintenance and status share. A pair (snapshot S, WAL insert position W) read in
 * one statement says: every transaction visible in S committed before W. So once the
 * acknowledged LSN reaches W, every job visible in S is done and S may be recorded.
 */
export class SnapshotPairs {
  readonly #pool: pg.Pool;
  #pending: { readonly snapshot: string; readonly lsn: bigint } | undefined;
  #takenAt = 0;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  /** The pending snapshot if `acked` has passed its WAL position (then it is consumed). */
  passedBy(acked: bigint): string | undefined {
    const pending = this.#pending;
    if (!pending || acked < pending.lsn) return undefined;
    this.#pending = undefined;
    return pending.snapshot;
  }

  /** Takes a new pair when none is pending and the last was taken over a second ago. */
  async refresh(): Promise<void> {
    if (this.#pending || Date.now() - this.#takenAt < snapshotPairInterval) return;
    this.#takenAt = Date.now();
    const { snapshot, lsn } = await queryRow(this.#pool, snapshotPairRead);
    this.#pending = { snapshot, lsn: parseLsn(lsn) };
  }
}
