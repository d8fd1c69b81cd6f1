import type pg from "pg";
import type { Job } from "../core/job.js";
import type { JobId } from "../core/job-id.js";
import { queryRows } from "../database/query-rows.js";
import { type ResolvedConsumerOptions, retryPolicyOf } from "./consumer-options.js";
import type { ConsumerQueries } from "./consumer-queries.js";
import type { FailedJob, JobOutcomes } from "./job-outcome.js";

/** A row of a key's queue. */
interface QueueRow {
  readonly id: JobId;
  readonly state: string;
  /** The transaction that last moved it back into immediate, as the head; null if none did. */
  readonly promotedXid: bigint | null;
}

/** The queues of a batch's keys as stored when the batch was fetched. */
export interface KeyQueues {
  /** Each key that has a queue, with its rows' ids and states. */
  readonly rows: ReadonlyMap<string, readonly QueueRow[]>;
  /** How many batch commits had completed when they were read. */
  readonly committed: number;
}

/** A batch taken into the schedule: the outcomes of its jobs, as they are known. */
export interface ScheduledBatch<Batch> {
  readonly batch: Batch;
  readonly outcomes: Map<JobId, FailedJob>;
  /** Its jobs not yet handled (nor set to wait). The batch can be committed at 0. */
  open: number;
  /** The keys it left blocked, for the reads of later batches (see KeyOrder). */
  readonly blocked: Set<string>;
  readonly started: number;
}

/** A job in the schedule, from being taken in until its outcome is known. */
export interface Scheduled<Batch = unknown> {
  readonly job: Job<unknown>;
  readonly owner: ScheduledBatch<Batch>;
  /** Its ordering key, or null when it has none or the consumer does not order by key. */
  readonly key: string | null;
  /** The head of its key's queue, moved back into immediate: it leaves the queue when it succeeds. */
  readonly head: boolean;
  /** In the handler now. Only a lane's first job can be. */
  running: boolean;
}

/**
 * Delivery by key for a consumer with `ordering: "key"`.
 *
 * A key with rows in the consumer's `failed` queue is blocked: its new jobs join the queue's end
 * instead of being delivered, and only the queue's head comes back (moved into immediate by the
 * promoter). Jobs of the batches in hand wait in one lane per key, in order; each handler call
 * takes the first job of every lane (and every job without a key), so a call never holds two
 * jobs of one key, and a key's next job is in a later call only if this one succeeded. A lane
 * runs on from one batch into the next, so the short last rounds of a batch's keys share their
 * calls with the next batch's jobs instead of each costing a call of its own. A job that fails
 * blocks its key: the jobs behind it in its lane are set to wait.
 *
 * Batches are fetched ahead of the commits of those before, so the queues read with a batch may
 * miss what those did: the keys they blocked are kept here until a read is known to have seen
 * their commit. A key seen blocked when it no longer is costs a short wait, not order: its jobs
 * join a queue that is empty by then, and are due at once.
 *
 * Work is taken either a call at a time (nextCall, record) or a job at a time (take, settle),
 * for a handler made by perJob: a key's next job can then start as soon as its previous one
 * succeeded, while other jobs are still running. Without ordering by key (`ordered` false),
 * every job is on its own: that serves a perJob handler of an unordered consumer.
 */
export class KeyOrder<Batch = unknown> {
  readonly #pool: pg.Pool;
  readonly #queries: ConsumerQueries;
  readonly #options: ResolvedConsumerOptions;
  readonly #ordered: boolean;
  #committed = 0;
  #scheduled = 0;
  /** The keys each scheduled batch left blocked, by its position in commit order. */
  readonly #blockedBy = new Map<number, ReadonlySet<string>>();
  readonly #lanes = new Map<string, Scheduled<Batch>[]>();
  #unkeyed: Scheduled<Batch>[] = [];
  /**
   * Keys whose lane's first job may be able to start, in the order they became so. A key can
   * be here more than once, or no longer startable: take() checks.
   */
  #startable: string[] = [];
  /** The entries of the call in progress (see nextCall). */
  #inCall: Scheduled<Batch>[] = [];
  /** Ids of queue heads in the lanes. */
  readonly #heads = new Set<JobId>();

  constructor(pool: pg.Pool, queries: ConsumerQueries, options: ResolvedConsumerOptions, ordered = true) {
    this.#pool = pool;
    this.#queries = queries;
    this.#options = options;
    this.#ordered = ordered;
  }

  /** Reads the queues of the jobs' keys (no query when none has a key). */
  async read(jobs: readonly Job<unknown>[]): Promise<KeyQueues> {
    const committed = this.#committed;
    const rows = new Map<string, QueueRow[]>();
    if (!this.#ordered) return { rows, committed };
    const keys = [...new Set(jobs.map((job) => job.key).filter((key) => key !== null))];
    if (keys.length === 0) return { rows, committed };
    const found = await queryRows(this.#pool, this.#queries.keyQueuesRead, [this.#options.name, JSON.stringify(keys)]);
    for (const row of found) {
      const list = rows.get(row.key) ?? [];
      list.push({
        id: BigInt(row.id) as JobId,
        state: row.state,
        promotedXid: row.promoted_xid === null ? null : BigInt(row.promoted_xid),
      });
      rows.set(row.key, list);
    }
    return { rows, committed };
  }

  /** Called as each batch's commit completes, in batch order. */
  committed(): void {
    this.#committed++;
  }

  /** Whether some job can go to the handler now. */
  get ready(): boolean {
    if (this.#unkeyed.length > 0) return true;
    while (this.#startable.length > 0) {
      if (this.#canStart(this.#startable[0] as string)) return true;
      this.#startable.shift();
    }
    return false;
  }

  #canStart(key: string): boolean {
    const first = this.#lanes.get(key)?.[0];
    return first !== undefined && !first.running;
  }

  /** Takes a batch into the schedule: its jobs join their keys' lanes, or wait in their queues. */
  add(batch: Batch, jobs: readonly Job<unknown>[], queues: KeyQueues): ScheduledBatch<Batch> {
    const index = this.#scheduled++;
    const owner: ScheduledBatch<Batch> = {
      batch,
      outcomes: new Map(),
      open: 0,
      blocked: new Set(),
      started: performance.now(),
    };
    const unseen = new Set<string>();
    for (let earlier = queues.committed; earlier < index; earlier++) {
      for (const key of this.#blockedBy.get(earlier) ?? []) unseen.add(key);
    }
    // Later batches' queues are read later still: what this one's read saw, theirs will.
    for (const earlier of this.#blockedBy.keys()) if (earlier < queues.committed) this.#blockedBy.delete(earlier);
    this.#blockedBy.set(index, owner.blocked);

    const byKey = new Map<string, Job<unknown>[]>();
    for (const job of jobs) {
      if (job.key === null || !this.#ordered) {
        this.#unkeyed.push({ job, owner, key: null, head: false, running: false });
        owner.open++;
      } else {
        const same = byKey.get(job.key);
        if (same) same.push(job);
        else byKey.set(job.key, [job]);
      }
    }
    for (const [key, keyJobs] of byKey) {
      const rows = queues.rows.get(key) ?? [];
      // The head, moved back into immediate by the promoter, comes from the transaction that
      // moved it. The same job from another transaction is a duplicate of an earlier delivery
      // (at least once allows them), not the head. A replication consumer can get the
      // promoter's transaction before it is visible here: the head then waits, and its commit
      // makes it due again (see failureInserts).
      const isHead = (job: Job<unknown>) =>
        rows.some((row) => row.id === job.id && row.promotedXid === job.transactionId);
      const heads = keyJobs.filter(isHead);
      const others = keyJobs.filter((job) => !isHead(job));
      const headIds = new Set([...heads.map((job) => job.id), ...this.#heads]);
      // Other rows wait in the queue (not a head in hand): only heads may go now.
      const queued = rows.some((row) => !headIds.has(row.id)) || unseen.has(key);
      const lane = this.#lanes.get(key) ?? [];
      for (const job of heads) {
        // Before the lane's jobs, but not before one already in the handler.
        lane.splice(lane[0]?.running ? 1 : 0, 0, { job, owner, key, head: true, running: false });
        this.#heads.add(job.id);
        owner.open++;
      }
      if (queued) {
        this.#wait(others, key, owner);
      } else {
        for (const job of others) lane.push({ job, owner, key, head: false, running: false });
        owner.open += others.length;
      }
      if (lane.length > 0) {
        this.#lanes.set(key, lane);
        if (!lane[0]?.running) this.#startable.push(key);
      }
    }
    return owner;
  }

  /** The next handler call: the first job of every lane, and every job without a key. */
  nextCall(): Job<unknown>[] {
    const call: Scheduled<Batch>[] = [];
    for (let entry = this.take(); entry !== undefined; entry = this.take()) call.push(entry);
    this.#inCall = call;
    return call.map((entry) => entry.job);
  }

  /** Records the outcome of the call nextCall() made. */
  record(result: Extract<JobOutcomes, { kind: "done" }>): void {
    const call = this.#inCall;
    this.#inCall = [];
    for (const entry of call) this.settle(entry, result.failures.get(entry.job.id));
  }

  /** A job that can start now (marked running), or undefined: a job without a key, else a lane's first. */
  take(): Scheduled<Batch> | undefined {
    const free = this.#unkeyed.shift();
    if (free) {
      free.running = true;
      return free;
    }
    for (let key = this.#startable.shift(); key !== undefined; key = this.#startable.shift()) {
      const first = this.#lanes.get(key)?.[0];
      if (first && !first.running) {
        first.running = true;
        return first;
      }
    }
    return undefined;
  }

  /** Records how a job that take() gave out ended: its failure, or undefined when it succeeded. */
  settle(entry: Scheduled<Batch>, failure: { readonly error: string; readonly dead: boolean } | undefined): void {
    const { job, owner, head, key } = entry;
    entry.running = false;
    owner.open--;
    if (key === null) {
      if (failure) owner.outcomes.set(job.id, failure);
      return;
    }
    const lane = this.#lanes.get(key) ?? [];
    const at = lane.indexOf(entry);
    if (at >= 0) lane.splice(at, 1);
    this.#heads.delete(job.id);
    let goesOn = true;
    if (!failure) {
      if (head) owner.outcomes.set(job.id, { error: "", dead: false, queue: "leave" });
    } else if (!failure.dead && job.attempt < retryPolicyOf(job, this.#options).maxAttempts) {
      owner.outcomes.set(job.id, { ...failure, queue: "retry" });
      goesOn = false;
    } else if (this.#options.deadLetterBlocksKey) {
      owner.outcomes.set(job.id, { error: failure.error, dead: true, queue: "dead-block" });
      goesOn = false;
    } else {
      owner.outcomes.set(job.id, { error: failure.error, dead: true, queue: "leave" });
    }
    if (!goesOn) {
      owner.blocked.add(key);
      // The rest of the lane waits behind it, each job in its own batch's outcomes (none of
      // them runs: only a lane's first job can).
      for (const other of lane) {
        other.owner.open--;
        this.#heads.delete(other.job.id);
        this.#wait([other.job], key, other.owner, job.id);
      }
      lane.length = 0;
    }
    if (lane.length === 0) this.#lanes.delete(key);
    else this.#startable.push(key);
  }

  #wait(jobs: readonly Job<unknown>[], key: string, owner: ScheduledBatch<Batch>, behind?: JobId): void {
    if (jobs.length === 0) return;
    owner.blocked.add(key);
    const error =
      behind === undefined
        ? "waiting: an earlier job of its key has not succeeded yet"
        : `waiting: job ${behind} of its key has not succeeded yet`;
    for (const job of jobs) owner.outcomes.set(job.id, { error, dead: false, queue: "wait" });
  }
}

/**
 * The schedule of a term whose consumer orders by key or runs a perJob handler (which then takes
 * its jobs one at a time); else undefined: batches go to the handler whole.
 */
export function keyOrderFor<Batch>(
  term: {
    readonly pool: pg.Pool;
    readonly queries: ConsumerQueries;
    readonly options: ResolvedConsumerOptions;
  },
  perJob: boolean,
): KeyOrder<Batch> | undefined {
  const ordered = term.options.ordering === "key";
  return ordered || perJob ? new KeyOrder<Batch>(term.pool, term.queries, term.options, ordered) : undefined;
}
