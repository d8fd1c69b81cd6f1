import { FencedError } from "./polling-leader.js";
import { sleep } from "./sleep.js";

/** What a commit statement (consumerCommit, consumerCommitReplication) returns. */
export interface CommitResult {
  /** 1 when progress and failures were written, 0 when nothing was. */
  readonly written: number;
  /** Failed jobs whose immediate row the statement did not see. */
  readonly missing: number;
  /** The stored epoch is still the one this process claimed. */
  readonly leading: boolean;
}

/** How long a commit waits for the rows of its failed jobs to become visible, by default. */
const defaultVisibilityTimeout = 10_000;

/**
 * Runs a batch's commit statement until it writes. A statement that did not find every failed
 * job's row wrote nothing: a replication consumer can get a transaction a moment before its
 * rows are visible to other sessions, so it is run again shortly. Past visibilityTimeout this
 * fails, and the term ends without progress (the batch is delivered again, nothing is lost).
 * Nothing written because the epoch moved is a FencedError, at once.
 */
export async function commitOutcome(
  name: string,
  run: () => Promise<CommitResult>,
  visibilityTimeout = defaultVisibilityTimeout,
): Promise<void> {
  const started = Date.now();
  for (let pause = 1; ; pause = Math.min(pause * 2, 100)) {
    const { written, missing, leading } = await run();
    if (written > 0) return;
    if (!leading || missing === 0) throw new FencedError(name);
    if (Date.now() - started > visibilityTimeout) {
      throw new Error(
        `consumer "${name}": ${missing} failed job(s) of the batch are still not visible in immediate after ` +
          `${visibilityTimeout} ms; nothing was recorded and the batch will be delivered again`,
      );
    }
    await sleep(pause);
  }
}
