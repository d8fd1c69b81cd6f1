import type pg from "pg";

export type Outcome = "committed" | "rolled back" | "unknown";

/** What a scenario found, per scenario and mode: the suite's table row and JSON line. */
export interface Figures {
  readonly scenario: string;
  readonly mode: string;
  /** Jobs whose transaction committed. */
  readonly committed: number;
  /** Committed jobs never handled nor dead-lettered. Must be 0. */
  readonly lost: number;
  /** Handlings beyond the first, over all jobs. */
  readonly duplicates: number;
  /** The most duplicates the documented guarantee allows for this scenario's faults. */
  readonly duplicate_bound: number;
  /** Jobs handled that never committed. Must be 0. */
  readonly unexpected: number;
  /** From the fault to the next batch handled, ms (null when the scenario has no single fault). */
  readonly recovery_ms: number | null;
  /** Jobs in dead_letter at the end. */
  readonly dead_lettered: number;
  /** What else the scenario measured or checked, in words. */
  readonly notes: string;
  readonly passed: boolean;
}

/**
 * The enqueue log: every job a producer tried to create and what became of its transaction.
 * A transaction whose COMMIT got no answer is `unknown` until `resolve()` looks for its
 * business row, written in the same transaction: the job exists if and only if that row does.
 */
export class Ledger {
  readonly #jobs = new Map<bigint, Outcome>();
  /** The ordering key of each keyed job, and its place among the key's jobs (from 0). */
  readonly keys = new Map<bigint, { readonly key: string; readonly seq: number }>();

  record(ids: readonly bigint[], outcome: Outcome): void {
    for (const id of ids) this.#jobs.set(id, outcome);
  }

  count(outcome: Outcome): number {
    let count = 0;
    for (const each of this.#jobs.values()) if (each === outcome) count++;
    return count;
  }

  committed(): Set<bigint> {
    return new Set([...this.#jobs].filter(([, outcome]) => outcome === "committed").map(([id]) => id));
  }

  async resolve(pool: pg.Pool, schema: string): Promise<void> {
    const unknown = [...this.#jobs].filter(([, outcome]) => outcome === "unknown").map(([id]) => String(id));
    if (unknown.length === 0) return;
    const { rows } = await pool.query(`SELECT job_id::text FROM "${schema}".orders WHERE job_id = ANY($1::bigint[])`, [
      unknown,
    ]);
    const found = new Set(rows.map((row) => BigInt(row.job_id)));
    for (const id of unknown.map(BigInt)) this.#jobs.set(id, found.has(id) ? "committed" : "rolled back");
  }
}

/** Lost, duplicated and unexpected jobs, from the ledger and every handling recorded. */
export function judge(
  ledger: Ledger,
  handled: readonly bigint[],
  deadLettered: ReadonlySet<bigint>,
): { committed: number; lost: number; duplicates: number; unexpected: number } {
  const committed = ledger.committed();
  const seen = new Set(handled);
  let lost = 0;
  for (const id of committed) if (!seen.has(id) && !deadLettered.has(id)) lost++;
  let unexpected = 0;
  for (const id of seen) if (!committed.has(id)) unexpected++;
  return { committed: committed.size, lost, duplicates: handled.length - seen.size, unexpected };
}
