import type { Logger } from "../core/logger.js";
import { queryRow, sql } from "../database/query-rows.js";
import type { ConnectionSource } from "../database/queryable.js";
import { withConnection } from "../database/with-connection.js";
import { status } from "../status/status.js";
import { type OutboxStatusJson, statusToJson } from "../status/status-to-json.js";

// The overview the dashboard charts: status() now, and a series of samples taken every
// sampleInterval while the handler lives (kept in memory, the last 360), pushed to the event
// streams as they are taken.

/** One consumer's figures in a sample. */
export interface ConsumerSample {
  readonly pending: number | null;
  readonly lagMs: number | null;
  /** Jobs it got through since the previous sample: enqueued minus the growth of its backlog, at least 0. */
  readonly delivered: number | null;
}

export interface Sample {
  readonly at: string;
  /** Jobs enqueued since the previous sample (the job id sequence's advance); 0 in the first sample. */
  readonly enqueued: number;
  readonly consumers: Readonly<Record<string, ConsumerSample>>;
  readonly deadLetters: number;
}

export interface OverviewJson {
  readonly at: string;
  readonly status: OutboxStatusJson;
  readonly series: readonly Sample[];
}

export const seriesLength = 360;

type Listener = (overview: OverviewJson) => void;

export class Overview {
  readonly #pool: ConnectionSource;
  readonly #schema: string;
  readonly #quotedSchema: string;
  readonly #interval: number;
  readonly #logger: Logger;
  readonly #series: Sample[] = [];
  readonly #listeners = new Set<Listener>();
  #timer: NodeJS.Timeout | undefined;
  #sampling = false;
  #closed = false;
  #lastSequence: bigint | undefined;
  #lastPending = new Map<string, number | null>();

  constructor(pool: ConnectionSource, schema: string, quotedSchema: string, interval: number, logger: Logger) {
    this.#pool = pool;
    this.#schema = schema;
    this.#quotedSchema = quotedSchema;
    this.#interval = interval;
    this.#logger = logger;
  }

  /** Starts sampling (the first sample at once); does nothing when started or closed. */
  start(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setInterval(() => void this.#sample(), this.#interval);
    this.#timer.unref();
    void this.#sample();
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#listeners.clear();
  }

  get series(): readonly Sample[] {
    return this.#series;
  }

  /** The overview now: a fresh status() and the samples so far. */
  async current(): Promise<OverviewJson> {
    const json = statusToJson(await status(this.#pool, { schema: this.#schema }));
    return { at: new Date().toISOString(), status: json, series: [...this.#series] };
  }

  /** Calls `listener` with the overview after each new sample; returns the unsubscribe. */
  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async #sample(): Promise<void> {
    if (this.#sampling || this.#closed) return;
    this.#sampling = true;
    try {
      // The sequence first: a job enqueued between the two reads is then counted in the next
      // sample's enqueued, after its backlog, never as delivered before it was.
      const sequence = await this.#readSequence();
      const read = await status(this.#pool, { schema: this.#schema });
      const enqueued = this.#lastSequence === undefined ? 0 : Math.max(0, Number(sequence - this.#lastSequence));
      this.#lastSequence = sequence;
      const consumers: Record<string, ConsumerSample> = {};
      const pendingNow = new Map<string, number | null>();
      for (const consumer of read.consumers) {
        const before = this.#lastPending.get(consumer.name);
        const pending = consumer.pendingJobs;
        pendingNow.set(consumer.name, pending);
        const delivered =
          pending === null || before === undefined || before === null
            ? null
            : Math.max(0, enqueued - (pending - before));
        consumers[consumer.name] = { pending, lagMs: consumer.lagMs, delivered };
      }
      this.#lastPending = pendingNow;
      if (this.#closed) return;
      const sample: Sample = {
        at: read.at.toISOString(),
        enqueued,
        consumers,
        deadLetters: read.tables.deadLetter.rows,
      };
      this.#series.push(sample);
      if (this.#series.length > seriesLength) this.#series.splice(0, this.#series.length - seriesLength);
      const overview: OverviewJson = { at: sample.at, status: statusToJson(read), series: [...this.#series] };
      for (const listener of this.#listeners) {
        try {
          listener(overview);
        } catch (error) {
          this.#logger.warn?.("dashboard: an overview listener failed", { err: error });
        }
      }
    } catch (error) {
      this.#logger.warn?.("dashboard: reading the overview sample failed", { err: error });
    } finally {
      this.#sampling = false;
    }
  }

  /** The last job id the sequence gave (0 when it gave none). */
  async #readSequence(): Promise<bigint> {
    const row = await withConnection(this.#pool, (client) =>
      queryRow(
        client,
        sql<{ last_value: string; is_called: boolean }>(
          `SELECT last_value::text AS last_value, is_called FROM ${this.#quotedSchema}.job_id_seq`,
        ),
      ),
    );
    const last = BigInt(row.last_value);
    return row.is_called ? last : last - 1n;
  }
}
