import type pg from "pg";
import type { Job } from "../core/job.js";
import { requiredDateFromEpochMs } from "../database/epoch.js";
import { queryRows, type Sql } from "../database/query-rows.js";
import type { Subscription } from "../topics/subscription.js";
import { jobHeaders } from "./job-headers.js";
import { jobRetry } from "./job-retry.js";
import { type PageRow, pageQuery } from "./polling-queries.js";
import type { SnapshotText } from "./snapshot.js";

/**
 * Where a polling consumer stands: every job visible in `snapshot` is done, and so is every
 * job of the window (visible in `window`, not in `snapshot`) up to (afterXid, afterId).
 */
export interface PollingProgress {
  readonly snapshot: SnapshotText;
  readonly window: SnapshotText | null;
  readonly afterXid: string;
  readonly afterId: string;
}

export interface PolledBatch {
  readonly jobs: Job<unknown>[];
  /** The progress once every job of this batch is done. */
  readonly progress: PollingProgress;
  /** The snapshot of the window this batch came from. */
  readonly windowSnapshot: SnapshotText;
}

export interface PollingSourceOptions {
  readonly consumer: string;
  readonly batchSize: number;
  /** A batch ends before its payloads and headers pass this many bytes; it always holds one job. */
  readonly maxBatchBytes: number;
  /** The topics delivered; undefined for every job. */
  readonly subscription?: Subscription | undefined;
}

/**
 * Reads new jobs by snapshot difference (see polling-queries.ts). next() fetches the batch
 * after the previous one without waiting for it to be handled, so the consumer can fetch
 * ahead; progress is only persisted by the outcome writer.
 */
export class PollingSource {
  readonly #db: pg.Pool;
  readonly #page: Sql<PageRow>;
  readonly #consumer: string;
  readonly #batchSize: number;
  readonly #maxBatchBytes: number;
  readonly #topics: readonly [names: readonly string[], likePatterns: readonly string[]] | readonly [null, null];
  #position: PollingProgress;
  /** The partitions of `immediate` the last page query that took its window saw; none yet. */
  #partitions: string | null | undefined = undefined;

  constructor(db: pg.Pool, quotedSchema: string, from: PollingProgress, options: PollingSourceOptions) {
    const { consumer, batchSize, maxBatchBytes, subscription } = options;
    this.#db = db;
    this.#page = pageQuery(quotedSchema);
    this.#consumer = consumer;
    this.#batchSize = batchSize;
    this.#maxBatchBytes = maxBatchBytes;
    this.#topics = subscription ? [subscription.names, subscription.likePatterns] : [null, null];
    this.#position = from;
  }

  async next(): Promise<PolledBatch> {
    const from = this.#position;
    let rows = await this.#read(from, from.window);
    if (from.window === null) {
      // PostgreSQL reads the partitions of `immediate` when it plans a statement, and takes the
      // statement's snapshot (the new window) after planning. A partition attached in between
      // (ATTACH takes no lock that stops a query) can hold rows that the window counts as
      // committed but the plan never scans: taken as read, they would be skipped. A plan has
      // every partition an earlier statement's snapshot saw; when this statement's snapshot
      // sees others, its window is read again by a new statement, planned after it.
      const partitions = rows[0]?.partitions ?? null;
      const kept = partitions === this.#partitions;
      this.#partitions = partitions;
      if (!kept) rows = await this.#read(from, windowOf(rows));
    }
    const windowSnapshot = windowOf(rows);
    if (xmax(windowSnapshot) < xmax(from.snapshot)) {
      // Snapshots only move forward on one server: this one was restored or replaced under the
      // running consumer. Moving progress backwards would skip jobs; the next term's check says
      // what happened and refuses to resume.
      throw new Error(
        `the server's snapshot ${windowSnapshot} is behind this consumer's progress ${from.snapshot}; ending the term`,
      );
    }
    const jobs = rows.filter((row) => row.id !== null).map(toJob);
    const last = jobs.at(-1);
    // A page cut short by bytes leaves the rest of its window for the next one.
    const windowDone = jobs.length < this.#batchSize && rows.at(-1)?.more !== true;
    const progress: PollingProgress = windowDone
      ? { snapshot: windowSnapshot, window: null, afterXid: "0", afterId: "0" }
      : {
          snapshot: from.snapshot,
          window: windowSnapshot,
          afterXid: String(last?.transactionId),
          afterId: String(last?.id),
        };
    this.#position = progress;
    return { jobs, progress, windowSnapshot };
  }

  /** One page after `from` in `window` (null: a window taken by the statement itself). */
  async #read(from: PollingProgress, window: SnapshotText | null): Promise<PageRow[]> {
    // Whatever parsers the application gave pg, the handler gets the same shapes as in
    // replication mode.
    return queryRows(this.#db, this.#page, [
      from.snapshot,
      window,
      from.afterXid,
      from.afterId,
      this.#batchSize,
      this.#consumer,
      ...this.#topics,
      this.#maxBatchBytes,
    ]);
  }
}

/** The window snapshot the page query returns on its first row, jobs or none. */
function windowOf(rows: readonly PageRow[]): SnapshotText {
  const windowSnapshot = rows[0]?.window_snapshot;
  if (windowSnapshot == null) throw new Error("poutbox: the page query returned no row");
  return windowSnapshot;
}

function xmax(snapshot: SnapshotText): bigint {
  return BigInt(snapshot.split(":")[1] ?? "0");
}

function toJob(row: PageRow): Job<unknown> {
  return {
    id: BigInt(row.id as string),
    payload: row.payload,
    topic: row.topic,
    key: row.key,
    retry: jobRetry(row.retry),
    headers: jobHeaders(row.headers),
    attempt: row.attempt + 1,
    enqueuedAt: requiredDateFromEpochMs(row.enqueued_ms ?? row.created_ms),
    createdAt: requiredDateFromEpochMs(row.created_ms),
    transactionId: BigInt(row.transaction_id),
  };
}
