import type pg from "pg";
import type { Job } from "../consumer/job.js";
import { pageQuery } from "./polling-queries.js";
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

interface PageRow {
  window_snapshot: string;
  id: string | null;
  topic: string | null;
  payload: unknown;
  headers: Record<string, string> | null;
  attempt: number;
  created_at: Date;
  transaction_id: string;
}

/**
 * Reads new jobs by snapshot difference (see polling-queries.ts). next() fetches the batch
 * after the previous one without waiting for it to be handled, so the consumer can fetch
 * ahead; progress is only persisted by the outcome writer.
 */
export class PollingSource {
  readonly #db: pg.Pool;
  readonly #statement: { readonly name: string; readonly text: string };
  readonly #consumer: string;
  readonly #batchSize: number;
  #position: PollingProgress;

  constructor(db: pg.Pool, quotedSchema: string, consumer: string, batchSize: number, from: PollingProgress) {
    this.#db = db;
    // A named statement is parsed once per connection instead of at every poll.
    this.#statement = { name: `poutbox.page.${quotedSchema}`, text: pageQuery(quotedSchema) };
    this.#consumer = consumer;
    this.#batchSize = batchSize;
    this.#position = from;
  }

  async next(): Promise<PolledBatch> {
    const from = this.#position;
    const { rows } = await this.#db.query<PageRow>({
      ...this.#statement,
      values: [from.snapshot, from.window, from.afterXid, from.afterId, this.#batchSize, this.#consumer],
    });
    const windowSnapshot = (rows[0] as PageRow).window_snapshot;
    const jobs = rows.filter((row) => row.id !== null).map(toJob);
    const last = jobs.at(-1);
    const windowDone = jobs.length < this.#batchSize;
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
}

function toJob(row: PageRow): Job<unknown> {
  return {
    id: BigInt(row.id as string),
    payload: row.payload,
    topic: row.topic,
    headers: row.headers ?? {},
    attempt: row.attempt + 1,
    createdAt: row.created_at,
    transactionId: BigInt(row.transaction_id),
  };
}
