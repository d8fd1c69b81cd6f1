import type pg from "pg";
import type { Job } from "../core/job.js";
import type { JobId } from "../core/job-id.js";
import { queryRows } from "../database/query-rows.js";
import { type ResolvedConsumerOptions, retryPolicyOf } from "./consumer-options.js";
import type { ConsumerQueries } from "./consumer-queries.js";
import type { FailedJob } from "./job-outcome.js";

/** The queues of a batch's keys as stored when the batch was fetched. */
export interface KeyQueues {
  /** Each key that has a queue, with its rows' ids and states. */
  readonly rows: ReadonlyMap<string, readonly { readonly id: JobId; readonly state: string }[]>;
  /** How many batch commits had completed when they were read. */
  readonly committed: number;
}

/** A round's outcome: each failed job's error, and whether it is dead whatever its attempt. */
export type RoundResult =
  | { readonly kind: "done"; readonly failures: ReadonlyMap<JobId, { error: string; dead: boolean }> }
  | { readonly kind: "abandoned" };

/**
 * Delivery by key for a consumer with `ordering: "key"`. A key with rows in the consumer's
 * `failed` queue is blocked: its new jobs join the queue's end instead of being delivered, and
 * only the queue's head comes back (moved into immediate by the promoter, `delivering`). Within
 * a batch, the jobs of one key are handed to the handler one per call, in rounds: a round holds
 * at most one job per key, and a key's next job is in the next round only if this one
 * succeeded. So the handler never has two jobs of one key at once, whatever it does with a
 * batch.
 *
 * Batches are fetched ahead of the commit of the one before, so the queues read with a batch
 * may miss what the previous batches did: the keys those blocked are kept here until their
 * commit is known to have been seen. A key seen blocked when it no longer is costs a short
 * wait, not order: its jobs join a queue that is empty by then, and are due at once.
 */
export class KeyOrder {
  readonly #pool: pg.Pool;
  readonly #queries: ConsumerQueries;
  readonly #options: ResolvedConsumerOptions;
  #committed = 0;
  #handled = 0;
  /** The keys each handled batch left blocked, by its position in commit order. */
  readonly #blockedBy = new Map<number, ReadonlySet<string>>();

  constructor(pool: pg.Pool, queries: ConsumerQueries, options: ResolvedConsumerOptions) {
    this.#pool = pool;
    this.#queries = queries;
    this.#options = options;
  }

  /** Reads the queues of the jobs' keys (no query when none has a key). */
  async read(jobs: readonly Job<unknown>[]): Promise<KeyQueues> {
    const committed = this.#committed;
    const keys = [...new Set(jobs.map((job) => job.key).filter((key) => key !== null))];
    const rows = new Map<string, { id: JobId; state: string }[]>();
    if (keys.length === 0) return { rows, committed };
    const found = await queryRows(this.#pool, this.#queries.keyQueuesRead, [this.#options.name, JSON.stringify(keys)]);
    for (const row of found) {
      const list = rows.get(row.key) ?? [];
      list.push({ id: BigInt(row.id) as JobId, state: row.state });
      rows.set(row.key, list);
    }
    return { rows, committed };
  }

  /** Called as each batch's commit completes, in batch order. */
  committed(): void {
    this.#committed++;
  }

  /**
   * Delivers a batch by rounds through `run` and returns the outcome of every job that needs
   * one (failures, and the steps of key queues), or undefined when a round was abandoned.
   */
  async deliver(
    jobs: readonly Job<unknown>[],
    queues: KeyQueues,
    run: (jobs: readonly Job<unknown>[]) => Promise<RoundResult>,
  ): Promise<Map<JobId, FailedJob> | undefined> {
    const index = this.#handled++;
    const outcomes = new Map<JobId, FailedJob>();
    const blocked = new Set<string>();
    const unseen = new Set<string>();
    for (let earlier = queues.committed; earlier < index; earlier++) {
      for (const key of this.#blockedBy.get(earlier) ?? []) unseen.add(key);
    }
    // Later batches' queues are read later still: what this one's read saw, theirs will.
    for (const earlier of this.#blockedBy.keys()) if (earlier < queues.committed) this.#blockedBy.delete(earlier);
    const lanes = new Map<string, Job<unknown>[]>();
    const heads = new Set<JobId>();
    let round: Job<unknown>[] = [];
    for (const job of jobs) {
      if (job.key === null) round.push(job);
      else lanes.set(job.key, [...(lanes.get(job.key) ?? []), job]);
    }
    for (const [key, lane] of lanes) {
      const rows = queues.rows.get(key) ?? [];
      const inBatch = new Set(lane.map((job) => job.id));
      // A job of the batch that has a row in its key's queue is the head, moved back into
      // immediate by the promoter: only a head is ever moved. Its row may not read
      // `delivering` yet: a replication consumer can get the promoter's transaction before
      // it is visible to other sessions.
      const queuedIds = new Set(rows.map((row) => row.id));
      const first = lane.filter((job) => queuedIds.has(job.id));
      for (const job of first) heads.add(job.id);
      // The head comes first, wherever its new row landed.
      const ordered = [...first, ...lane.filter((job) => !queuedIds.has(job.id))];
      const queued = rows.some((row) => !inBatch.has(row.id));
      if (queued || unseen.has(key)) {
        // Other jobs wait in the key's queue: only its head may go now.
        this.#wait(ordered.slice(first.length), key, outcomes, blocked);
        lanes.set(key, first);
      } else {
        lanes.set(key, ordered);
      }
    }
    const position = new Map<string, number>();
    for (const [key, lane] of lanes) {
      const head = lane[0];
      if (head) round.push(head);
      position.set(key, 0);
    }
    while (round.length > 0) {
      const result = await run(round);
      if (result.kind === "abandoned") return undefined;
      const nextRound: Job<unknown>[] = [];
      for (const job of round) {
        const failure = result.failures.get(job.id);
        const key = job.key;
        if (key === null) {
          if (failure) outcomes.set(job.id, failure);
          continue;
        }
        const lane = lanes.get(key) ?? [];
        const at = position.get(key) ?? 0;
        let goesOn = true;
        if (!failure) {
          if (heads.has(job.id)) outcomes.set(job.id, { error: "", dead: false, queue: "leave" });
        } else if (!failure.dead && job.attempt < retryPolicyOf(job, this.#options).maxAttempts) {
          outcomes.set(job.id, { ...failure, queue: "retry" });
          goesOn = false;
        } else if (this.#options.deadLetterBlocksKey) {
          outcomes.set(job.id, { error: failure.error, dead: true, queue: "dead-block" });
          goesOn = false;
        } else {
          outcomes.set(job.id, { error: failure.error, dead: true, queue: "leave" });
        }
        if (!goesOn) {
          blocked.add(key);
          this.#wait(lane.slice(at + 1), key, outcomes, blocked, job.id);
          continue;
        }
        const following = lane[at + 1];
        position.set(key, at + 1);
        if (following) nextRound.push(following);
      }
      round = nextRound;
    }
    this.#blockedBy.set(index, blocked);
    return outcomes;
  }

  #wait(
    jobs: readonly Job<unknown>[],
    key: string,
    outcomes: Map<JobId, FailedJob>,
    blocked: Set<string>,
    behind?: JobId,
  ): void {
    if (jobs.length === 0) return;
    blocked.add(key);
    const error =
      behind === undefined
        ? "waiting: an earlier job of its key has not succeeded yet"
        : `waiting: job ${behind} of its key has not succeeded yet`;
    for (const job of jobs) outcomes.set(job.id, { error, dead: false, queue: "wait" });
  }
}

/** The key order of a term whose consumer orders by key, else undefined. */
export function keyOrderFor(term: {
  readonly pool: pg.Pool;
  readonly queries: ConsumerQueries;
  readonly options: ResolvedConsumerOptions;
}): KeyOrder | undefined {
  return term.options.ordering === "key" ? new KeyOrder(term.pool, term.queries, term.options) : undefined;
}
