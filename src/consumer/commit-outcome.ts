import type pg from "pg";
import { describeError } from "../core/describe-error.js";
import { sleep } from "../core/sleep.js";
import { beginReadCommitted } from "../database/isolation.js";
import type { Queryable } from "../database/queryable.js";
import { sqlStateOf, sqlStates } from "../database/sql-state.js";
import { withConnection } from "../database/with-connection.js";
import { type FailureRow, storableText } from "./batch-loop.js";
import type { CommitResult } from "./consumer-queries.js";
import { type HeldOutcome, heldOutcome } from "./held-outcomes.js";
import { FencedError } from "./leader-lock.js";

/** One batch's outcome, and how to write it. */
export interface OutcomeCommit {
  readonly name: string;
  readonly pool: pg.Pool;
  /** The batch's failed jobs. */
  readonly failures: readonly FailureRow[];
  /** Runs the batch's commit statement on `db` with failures and outcomes to hold, as JSON arrays. */
  readonly progress: (db: Queryable, failures: string, held: string) => Promise<CommitResult>;
  /** Writes the `failed` or `dead_letter` rows of failures (a JSON array) on `db`; returns how many. */
  readonly writeOutcomes: (db: Queryable, failures: string) => Promise<number>;
  /** Called once outcomes were held (their write failed) and the commit holding them is durable. */
  readonly held: (outcomes: readonly HeldOutcome[]) => void;
  /**
   * Called once a commit changed a key queue: a head that left it makes the next job due, a
   * head told to wait (a replication consumer saw the promoter's transaction before its row)
   * is due again. Waiting for the promoter's next round would deliver a blocked key's backlog
   * at one job per promoteInterval.
   */
  readonly released?: () => void;
  /** How long to wait for failed jobs' rows to become visible before holding their outcomes. Default 10 s. */
  readonly visibilityTimeout?: number;
}

/** How long a commit waits for the rows of its failed jobs to become visible, by default. */
const defaultVisibilityTimeout = 10_000;

/**
 * Commits a batch: its progress and its failed jobs' outcomes in one statement, run until it
 * writes. A statement that did not find every failed job's row wrote nothing: a replication
 * consumer can get a transaction a moment before its rows are visible to other sessions, so
 * it is run again shortly. Nothing written because the epoch moved is a FencedError, at once.
 *
 * When the outcomes cannot be written (the statement fails: a trigger or a permission refuses
 * `dead_letter`, a lock on it times out, ...), or rows stay invisible past visibilityTimeout,
 * the batch is committed outcome by outcome instead: each one that fails is held in the
 * consumer's row with the progress, for HeldOutcomes to retry alone. One job whose outcome
 * cannot be written then neither holds the other jobs back nor is lost.
 */
export async function commitOutcome(commit: OutcomeCommit): Promise<void> {
  const visibilityTimeout = commit.visibilityTimeout ?? defaultVisibilityTimeout;
  const failures = JSON.stringify(commit.failures);
  const started = Date.now();
  for (let pause = 1; ; pause = Math.min(pause * 2, 100)) {
    let result: CommitResult;
    try {
      result = await commit.progress(commit.pool, failures, "[]");
    } catch (error) {
      if (commit.failures.length > 0 && outcomeMayBeAtFault(commit.pool, error)) {
        return commitHolding(commit);
      }
      throw error;
    }
    const { written, missing, leading } = result;
    if (written > 0) return leftQueues(commit);
    if (!leading || missing === 0) throw new FencedError(commit.name);
    if (Date.now() - started > visibilityTimeout) return commitHolding(commit);
    await sleep(pause);
  }
}

/**
 * Errors a statement raised about what it wrote (a refused insert, a lock or statement
 * timeout, a conflict), as opposed to errors of the connection or the server itself, after
 * which nothing else would get through either.
 */
function outcomeMayBeAtFault(db: Queryable, error: unknown): boolean {
  const state = sqlStateOf(db, error);
  if (state === undefined) return false;
  const errorClass = state.slice(0, 2);
  // Connection exceptions, insufficient resources, system and internal errors, and operator
  // intervention other than a cancelled statement (shutdown, crash, database dropped...).
  if (["08", "53", "58", "XX"].includes(errorClass)) return false;
  return errorClass !== "57" || state === sqlStates.queryCanceled;
}

/** The batch's commit, outcome by outcome, each one that fails held (see commitOutcome). */
async function commitHolding(commit: OutcomeCommit): Promise<void> {
  const held: HeldOutcome[] = [];
  // Fenced is no fault of the connection, which goes back to the pool after its ROLLBACK.
  const fenced = await withConnection(commit.pool, async (client) => {
    try {
      await client.query(beginReadCommitted);
      for (const failure of commit.failures) {
        await client.query("SAVEPOINT poutbox_outcome");
        try {
          const written = await commit.writeOutcomes(client, JSON.stringify([failure]));
          await client.query("RELEASE SAVEPOINT poutbox_outcome");
          if (written === 0) held.push(heldOutcome(failure, "its row in immediate is not visible yet"));
        } catch (error) {
          await client.query("ROLLBACK TO SAVEPOINT poutbox_outcome");
          held.push(heldOutcome(failure, storableText(describeError(error))));
        }
      }
      const result = await commit.progress(client, "[]", JSON.stringify(held));
      if (result.written === 0) {
        await client.query("ROLLBACK");
        return true;
      }
      await client.query("COMMIT");
      return false;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    }
  });
  if (fenced) throw new FencedError(commit.name);
  if (held.length > 0) commit.held(held);
  leftQueues(commit);
}

function leftQueues(commit: OutcomeCommit): void {
  if (commit.failures.some((failure) => failure.queue === "leave" || failure.queue === "wait")) commit.released?.();
}
