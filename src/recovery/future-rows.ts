import { queryRow } from "../database/query-rows.js";
import type { Queryable } from "../database/queryable.js";
import { sqlStateOf, sqlStates } from "../database/sql-state.js";
import { futureRowsExist, futureRowsRestamp } from "./recovery-queries.js";

/** What restampFutureRows found and did. */
export interface RestampResult {
  /** Rows re-inserted with a transaction id of this server. */
  readonly rows: number;
  /** Set when such rows exist but could not be re-inserted (the role may not delete from immediate). */
  readonly refused?: Error;
}

/**
 * Re-inserts the rows of `immediate` whose transaction ids come from another cluster (see
 * futureRowsExist), so that they are delivered now. Cheap when there are none: one index probe
 * per partition. Must not run inside the caller's transaction (a refusal is reported, not thrown).
 */
export async function restampFutureRows(db: Queryable, quotedSchema: string): Promise<RestampResult> {
  const { found } = await queryRow(db, futureRowsExist(quotedSchema));
  if (!found) return { rows: 0 };
  try {
    const { rows } = await queryRow(db, futureRowsRestamp(quotedSchema));
    return { rows: Number(rows) };
  } catch (error) {
    // A consumer's role may insert and read only: say so, and let the consumer go on with the
    // rest; the rows wait for someone who may (moveConsumer, or the table's owner).
    if (sqlStateOf(db, error) === sqlStates.insufficientPrivilege) return { rows: 0, refused: error as Error };
    throw error;
  }
}
