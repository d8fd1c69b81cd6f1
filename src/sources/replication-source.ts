import type { Job } from "../core/job.js";
import type { PgOutputMessage } from "../replication/pgoutput-messages.js";
import type { Subscription } from "../topics/subscription.js";
import { type ImmediateColumns, immediateColumns, jobFromTuple, rowConsumer, rowTopic } from "./replicated-job.js";

/**
 * Where a replication consumer stands: every transaction that ended at or before `ackedLsn`
 * is done, and so are the first `partialCount` inserts of the transaction whose commit
 * record is at `partialLsn` (one split across batches).
 */
export interface ReplicationProgress {
  readonly ackedLsn: bigint;
  readonly partialLsn: bigint | null;
  readonly partialCount: number;
}

export interface ReplicatedBatch {
  readonly jobs: Job<unknown>[];
  /** The progress once every job of this batch is done. */
  readonly progress: ReplicationProgress;
}

export interface ReplicationSourceOptions {
  readonly schema: string;
  readonly consumer: string;
  readonly batchSize: number;
  /** A batch closes before its payloads pass this size (it always takes at least one job). */
  readonly maxBatchBytes: number;
  /** A partial batch is handed out this long after its first job arrived, in ms. */
  readonly flushDelay: number;
  /** With nothing to deliver, next() resolves with an empty batch after this long, in ms. */
  readonly idleTimeout: number;
  /** The topics delivered; undefined for every job. */
  readonly subscription?: Subscription | undefined;
}

type Item =
  | {
      readonly kind: "job";
      readonly job: Job<unknown>;
      readonly bytes: number;
      readonly commitLsn: bigint;
      readonly ordinal: number;
    }
  | { readonly kind: "commit"; readonly endLsn: bigint };

interface OpenTransaction {
  readonly commitLsn: bigint;
  /** The transaction's id (32 bits, as Begin carries it). */
  readonly xid: bigint;
  /** Inserts into immediate seen so far, skipped ones included: their position on replay. */
  inserts: number;
  /** Inserts already done in an earlier run (a transaction split across batches). */
  readonly skip: number;
}

/**
 * Turns the pgoutput stream into batches. Without streaming of in-progress transactions the
 * server sends a transaction only once it has committed, whole and in commit order, so every
 * job seen is committed. Queued items are bounded by the caller pausing the stream while
 * `full` is true.
 */
export class ReplicationSource {
  readonly #options: ReplicationSourceOptions;
  readonly #queue: Item[] = [];
  readonly #columns = new Map<number, ImmediateColumns>();
  #queuedJobs = 0;
  #queuedBytes = 0;
  #open: OpenTransaction | undefined;
  #position: ReplicationProgress;
  #skipBefore: bigint;
  #wake: (() => void) | undefined;

  constructor(options: ReplicationSourceOptions, from: ReplicationProgress) {
    this.#options = options;
    this.#position = from;
    this.#skipBefore = from.ackedLsn;
  }

  /** True while enough is queued: the caller should stop reading the socket. */
  get full(): boolean {
    return this.#queuedJobs >= this.#options.batchSize * 2 || this.#queuedBytes >= this.#options.maxBatchBytes * 2;
  }

  /** True when nothing is queued and no transaction is half received. */
  get drained(): boolean {
    return this.#queue.length === 0 && this.#open === undefined;
  }

  /**
   * Moves the position to `lsn` while nothing is queued or half received: everything the
   * server sent before it is done, so later batches must not report an older position.
   */
  advance(lsn: bigint): ReplicationProgress {
    if (this.drained && lsn > this.#position.ackedLsn) {
      this.#position = { ackedLsn: lsn, partialLsn: null, partialCount: 0 };
    }
    return this.#position;
  }

  /** Takes one decoded message of the stream. */
  push(message: PgOutputMessage): void {
    switch (message.tag) {
      case "relation":
        this.#columns.set(message.relationId, immediateColumns(message));
        return;
      case "begin": {
        // A transaction that ended before the acknowledged position was done in an earlier
        // run (the server may send it again when its confirmed position lags ours).
        const done = message.finalLsn < this.#skipBefore;
        const partial = message.finalLsn === this.#position.partialLsn ? this.#position.partialCount : 0;
        this.#open = {
          commitLsn: message.finalLsn,
          xid: BigInt(message.xid),
          inserts: 0,
          skip: done ? Number.POSITIVE_INFINITY : partial,
        };
        return;
      }
      case "insert": {
        const open = this.#open;
        const columns = this.#columns.get(message.relationId);
        if (!open || !columns) throw new Error("insert outside a transaction or before its relation");
        open.inserts++;
        if (open.inserts <= open.skip) return;
        const consumer = rowConsumer(message.newTuple, columns);
        if (consumer !== null && consumer !== this.#options.consumer) return;
        // Filtered before the payload is decoded. A retry of this consumer's own is delivered
        // whatever its topic, as in polling mode. The skipped row still counted in `inserts`.
        const subscription = this.#options.subscription;
        if (consumer === null && subscription && !subscription.matches(rowTopic(message.newTuple, columns))) return;
        const { job, bytes } = jobFromTuple(message.newTuple, columns);
        // A job's row is written by the transaction that enqueued it (or moved it into
        // immediate: the promoter, a requeue), whose id it carries in transaction_id. A row
        // whose transaction_id names another transaction was moved, not enqueued: an UPDATE
        // across partitions, or rows re-inserted by an operator with all their columns. Its job
        // reached this stream when it was first written, so it is not delivered again.
        if (BigInt.asUintN(32, job.transactionId) !== open.xid) return;
        this.#queue.push({ kind: "job", job, bytes, commitLsn: open.commitLsn, ordinal: open.inserts });
        this.#queuedJobs++;
        this.#queuedBytes += bytes;
        this.#notify();
        return;
      }
      case "commit":
        this.#open = undefined;
        this.#queue.push({ kind: "commit", endLsn: message.endLsn });
        this.#notify();
        return;
      default:
        // Origin, Type, Message, and changes the publication does not send (update,
        // delete, truncate): nothing to deliver.
        return;
    }
  }

  /**
   * The next batch: at once when a full one is queued, `flushDelay` after the first job
   * arrived otherwise, or empty (carrying any finished transactions) after `idleTimeout` or
   * when `signal` aborts.
   */
  async next(signal: AbortSignal): Promise<ReplicatedBatch> {
    const started = Date.now();
    while (!signal.aborted) {
      if (this.#queuedJobs >= this.#options.batchSize || this.#queuedBytes >= this.#options.maxBatchBytes) break;
      const waited = Date.now() - started;
      if (this.#queuedJobs > 0 && waited >= this.#options.flushDelay) break;
      if (this.#queuedJobs === 0 && waited >= this.#options.idleTimeout) break;
      const limit = this.#queuedJobs > 0 ? this.#options.flushDelay - waited : this.#options.idleTimeout - waited;
      await this.#sleep(limit, signal);
    }
    return this.#take();
  }

  #take(): ReplicatedBatch {
    const jobs: Job<unknown>[] = [];
    let bytes = 0;
    let { ackedLsn, partialLsn, partialCount } = this.#position;
    let taken = 0;
    for (const item of this.#queue) {
      if (item.kind === "commit") {
        ackedLsn = item.endLsn;
        partialLsn = null;
        partialCount = 0;
      } else {
        const fits =
          jobs.length < this.#options.batchSize &&
          (jobs.length === 0 || bytes + item.bytes <= this.#options.maxBatchBytes);
        if (!fits) break;
        jobs.push(item.job);
        bytes += item.bytes;
        partialLsn = item.commitLsn;
        partialCount = item.ordinal;
      }
      taken++;
    }
    this.#queue.splice(0, taken);
    this.#queuedJobs -= jobs.length;
    this.#queuedBytes -= bytes;
    this.#position = { ackedLsn, partialLsn, partialCount };
    return { jobs, progress: this.#position };
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal.addEventListener("abort", done, { once: true });
      this.#wake = done;
    });
  }
}
