import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { hostname } from "node:os";
import type pg from "pg";
import { InvalidOptionError, ProgressMismatchError, ReplicationSetupError, SlotLostError } from "../core/errors.js";
import type { Periodic } from "../core/periodic.js";
import { sleep } from "../core/sleep.js";
import { queryRow, queryRows } from "../database/query-rows.js";
import { Maintenance, type MaintenanceReport } from "../maintenance/maintenance.js";
import { restampFutureRows } from "../recovery/future-rows.js";
import { checkProgress } from "../recovery/progress-check.js";
import { readServerPosition } from "../recovery/server-position.js";
import { checkSchema } from "../schema/check-schema.js";
import { leaderLockKey } from "../schema/server-names.js";
import { checkFailoverSlots, checkLogicalReplication } from "../slots/slot-admin.js";
import type { ReplicationSlotStatus } from "../slots/slot-status.js";
import { snapshotRead } from "../sources/polling-queries.js";
import { ConsumerMetrics } from "../telemetry/consumer-metrics.js";
import type { AnyTopics } from "../topics/topics.js";
import { checkReplicationConnection } from "./check-replication-connection.js";
import {
  type ConsumerOptions,
  type ResolvedConsumerOptions,
  resolveConsumerOptions,
  type SlotLostPolicy,
} from "./consumer-options.js";
import { type ClaimedRow, type ConsumerQueries, consumerQueries } from "./consumer-queries.js";
import type { Handler } from "./handler.js";
import { type HeldOutcome, HeldOutcomes, type OutcomeWriteFailure } from "./held-outcomes.js";
import { FencedError, LeaderLock } from "./leader-lock.js";
import type { LongTransaction } from "./long-transactions.js";
import { type LeaderTerm, leadPolling } from "./polling-leader.js";
import { startPromoter } from "./promoter.js";
import { leadReplication } from "./replication-leader.js";

export interface ConsumerEvents {
  /** This process became the leader for its consumer name. */
  leader: [{ epoch: bigint }];
  /** Another process leads this consumer name; this one waits to take over. */
  standby: [];
  /** A batch was handled and its outcome committed. */
  batch: [{ jobs: number; failed: number; ms: number }];
  /** A transaction has been open longer than longTransactionThreshold. */
  longTransaction: [LongTransaction];
  /** Replication: the slot's state every 10 s, with the WAL it retains (`retainedBytes`). */
  slot: [ReplicationSlotStatus];
  /**
   * Replication: a term found the consumer's slot dropped, or invalidated by the server
   * (`reason`: `dropped`, `wal_removed`, `idle_timeout`, ...; see SlotLostError), and
   * `recovery` says what follows: with `catch-up` the consumer polls from its progress snapshot
   * and streams from a new slot, with `fail` it stops with a SlotLostError.
   */
  slotLost: [{ slot: string; reason: string; explanation: string; recovery: SlotLostPolicy }];
  /** The leader ran partition maintenance (see the `maintenance` option). */
  maintenance: [MaintenanceReport];
  /**
   * A job's outcome (a retry or a dead letter) could not be written: it is held in the
   * consumer's row and retried alone with back-off, while other jobs go on. Also emitted for
   * each failed retry of it; `status()` counts what is held.
   */
  outcomeWriteFailed: [OutcomeWriteFailure];
  /** A database or internal error; the consumer retries by itself. */
  error: [Error];
  /** stop() finished: the last outcome is written and connections are released. */
  stopped: [];
}

type State = "new" | "running" | "stopping" | "stopped";

/**
 * Delivers committed jobs to a handler, at least once, in snapshot order. Several processes
 * may run a consumer of the same name: one leads, the others stand by and take over when it
 * dies.
 *
 * It holds one connection of the pool for leadership and uses one or two more while it works.
 *
 * @example
 * ```ts
 * const consumer = new Consumer(pool, async (jobs) => {
 *   for (const job of jobs) await send(job.payload);
 * }, { name: "mailer" });
 * await consumer.start();
 * // ...
 * await consumer.stop();
 * ```
 */
export class Consumer<Payload = unknown> extends EventEmitter<ConsumerEvents> {
  readonly #pool: pg.Pool;
  readonly #handler: Handler<Payload>;
  readonly #options: ResolvedConsumerOptions;
  readonly #queries: ConsumerQueries;
  readonly #lock: LeaderLock;
  readonly #id = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  #state: State = "new";
  /** With startFrom "now": the snapshot read at start(), where a new consumer name begins. */
  #startSnapshot: string | undefined;
  #stopping = new AbortController();
  #abandon = new AbortController();
  #loop: Promise<void> | undefined;
  #leader = false;
  readonly #metrics: ConsumerMetrics;
  #failure: Error | undefined;

  /**
   * @param handler gets each batch; typed by `Payload`, or by the topic map given as `topics`
   *   (inferred from it).
   */
  constructor(
    pool: pg.Pool,
    handler: Handler<Payload>,
    options: ConsumerOptions & { readonly topics: Payload & AnyTopics },
  );
  constructor(pool: pg.Pool, handler: Handler<Payload>, options?: ConsumerOptions);
  constructor(pool: pg.Pool, handler: Handler<Payload>, options: ConsumerOptions = {}) {
    super();
    if (pool === null || typeof pool !== "object" || typeof (pool as { connect?: unknown }).connect !== "function") {
      throw new InvalidOptionError("pool", "expected a pg Pool");
    }
    if (typeof handler !== "function") throw new InvalidOptionError("handler", "expected a function");
    this.#pool = pool;
    this.#handler = handler;
    this.#options = {
      ...resolveConsumerOptions(options),
      slotLostListener: (loss) => this.emit("slotLost", loss),
    };
    // One connection is held for leadership for as long as the consumer runs; with fewer than
    // two (three with listen) the polling queries would wait for a connection forever.
    const max = (pool as { options?: { max?: number } }).options?.max;
    const needed = this.#options.listen ? 3 : 2;
    if (typeof max === "number" && max < needed) {
      throw new InvalidOptionError("pool", `the pool allows ${max} connection(s); a consumer needs at least ${needed}`);
    }
    this.#queries = consumerQueries(this.#options.quotedSchema);
    this.#metrics = new ConsumerMetrics(this.#options);
    this.#lock = new LeaderLock(
      pool,
      leaderLockKey(this.#options.schema, this.#options.name),
      this.#options.leaderTimeout,
    );
  }

  /** The consumer group name. */
  get name(): string {
    return this.#options.name;
  }

  /** The error that stopped the consumer for good (a lost slot, a server that cannot replicate), if any. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** True while this process leads its consumer name. */
  get isLeader(): boolean {
    return this.#leader;
  }

  /**
   * Checks the schema and starts consuming in the background. Resolves once running (as
   * leader or standby); rejects on a configuration error (missing or outdated schema; in
   * replication mode also a server or walsender connection that cannot serve it, or
   * `failoverSlot` below PostgreSQL 17, as a `ReplicationSetupError`).
   */
  async start(): Promise<void> {
    if (this.#state !== "new") throw new Error(`consumer "${this.name}" was already started`);
    this.#state = "running";
    try {
      // The walsender first: a password or pg_hba.conf refusal then reads as what it is for
      // replication, not as whatever the schema check's query happened to fail with.
      if (this.#options.mode === "replication") await checkReplicationConnection(this.#pool, this.#options.logger);
      await checkSchema(this.#pool, this.#options.schema, this.#options.quotedSchema);
      if (this.#options.mode === "replication") await checkLogicalReplication(this.#pool);
      if (this.#options.failoverSlot) await checkFailoverSlots(this.#pool);
      // "Now" is when start() is called, not when this process first leads, which may come later.
      if (this.#options.startFrom === "now") this.#startSnapshot = (await queryRow(this.#pool, snapshotRead)).snapshot;
    } catch (error) {
      this.#state = "stopped";
      throw error;
    }
    const { signal } = this.#options;
    if (signal) {
      if (signal.aborted) {
        this.#state = "stopped";
        return;
      }
      signal.addEventListener("abort", () => void this.stop(), { once: true });
    }
    this.#loop = this.#run();
  }

  /**
   * Stops taking batches, lets the batch in the handler finish (for up to shutdownTimeout,
   * then aborts it and leaves it to be delivered again), writes the last outcome and releases
   * every connection. Safe to call before start() and more than once.
   */
  async stop(): Promise<void> {
    if (this.#state === "new" || this.#state === "stopped") {
      this.#state = "stopped";
      return;
    }
    if (this.#state === "running") {
      this.#state = "stopping";
      this.#stopping.abort(new Error("consumer stopping"));
      const grace = setTimeout(
        () => this.#abandon.abort(new Error("shutdown grace period over")),
        this.#options.shutdownTimeout,
      );
      try {
        await this.#loop;
      } finally {
        clearTimeout(grace);
        await this.#lock.release();
        this.#state = "stopped";
        this.emit("stopped");
      }
      return;
    }
    await new Promise<void>((resolve) => this.once("stopped", resolve));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  async #run(): Promise<void> {
    let delay = this.#options.reconnectDelay;
    let standing = false;
    while (!this.#stopping.signal.aborted) {
      let ledSince: number | undefined;
      try {
        if (await this.#lock.tryAcquire()) {
          standing = false;
          ledSince = Date.now();
          await this.#lead();
          delay = this.#options.reconnectDelay;
          continue;
        }
        if (!standing) {
          standing = true;
          this.emit("standby");
        }
        await sleep(this.#options.takeoverInterval, this.#stopping.signal);
      } catch (error) {
        this.#report(error as Error);
        if (
          error instanceof ReplicationSetupError ||
          error instanceof SlotLostError ||
          error instanceof ProgressMismatchError
        ) {
          // Retrying cannot fix these; an operator must act. Stop instead of looping.
          this.#failure = error;
          await this.#lock.release();
          void this.stop();
          return;
        }
        // A fenced or failed term gives the lock up, so that either a standby or this process
        // starts the next term cleanly from the committed progress.
        await this.#lock.release();
        // A term that led for at least as long as the wait ahead did not fail at once: the
        // waits start again from reconnectDelay. Otherwise every error in a consumer's life,
        // days apart, would double the next wait, until each one cost 30 s.
        if (ledSince !== undefined && Date.now() - ledSince >= delay) delay = this.#options.reconnectDelay;
        if (!(error instanceof FencedError)) {
          await sleep(delay, this.#stopping.signal);
          delay = Math.min(delay * 2, 30_000);
        }
        standing = false;
      }
    }
  }

  /**
   * A consumer without ordering delivers every job on its own: queues an earlier run with
   * `ordering: "key"` left would otherwise hold their waiting jobs for ever.
   */
  async #dissolveKeyQueues(): Promise<void> {
    const [row] = await queryRows(this.#pool, this.#queries.keyQueuesDissolve, [this.#options.name]);
    if (row && row.released > 0) {
      this.#options.logger.info?.("ordering is off: the jobs of earlier key queues are retried on their own", {
        released: row.released,
      });
    }
  }

  async #lead(): Promise<void> {
    // Listen for the loss of the lock before claiming: losing it during the claim must end
    // the term too, not go unnoticed until the next write is fenced.
    const term = new AbortController();
    const lost = (error: Error) => term.abort(error);
    this.#lock.once("lost", lost);
    const abandon = () => term.abort(this.#abandon.signal.reason);
    this.#abandon.signal.addEventListener("abort", abandon, { once: true });
    let claimed: ClaimedRow;
    try {
      claimed = await queryRow(this.#pool, this.#queries.consumerClaim, [
        this.#options.name,
        this.#id,
        this.#options.mode,
        this.#startSnapshot ?? null,
      ]);
      // Before anything is delivered or acknowledged: progress recorded on another cluster, or
      // ahead of this server (a restore), must not be resumed.
      await this.#checkProgress(claimed);
      if (this.#options.ordering === "none") await this.#dissolveKeyQueues();
    } catch (error) {
      this.#lock.off("lost", lost);
      this.#abandon.signal.removeEventListener("abort", abandon);
      throw error;
    }
    if (!this.#lock.held) {
      this.#lock.off("lost", lost);
      this.#abandon.signal.removeEventListener("abort", abandon);
      throw term.signal.reason ?? new Error("leader lock lost while claiming leadership");
    }
    this.#leader = true;
    this.#metrics.leading(true);
    this.emit("leader", { epoch: BigInt(claimed.epoch) });
    this.#options.logger.info?.("consumer leads", { epoch: claimed.epoch, id: this.#id });
    const held = new HeldOutcomes(
      {
        pool: this.#pool,
        queries: this.#queries,
        name: this.name,
        epoch: claimed.epoch,
        logger: this.#options.logger,
        report: (failure) => {
          this.#metrics.outcomeWriteFailed();
          this.emit("outcomeWriteFailed", failure);
        },
      },
      claimed.held_outcomes === null ? [] : (JSON.parse(claimed.held_outcomes) as HeldOutcome[]),
    );
    try {
      let promoter: Periodic | undefined;
      const leaderTerm: LeaderTerm = {
        pool: this.#pool,
        handler: this.#handler as Handler<unknown>,
        options: this.#options,
        queries: this.#queries,
        epoch: claimed.epoch,
        held,
        progress: {
          snapshot: claimed.snapshot,
          window: claimed.window,
          afterXid: claimed.after_xid ?? "0",
          afterId: claimed.after_id ?? "0",
        },
        stopping: AbortSignal.any([this.#stopping.signal, term.signal]),
        abandon: term.signal,
        events: {
          batch: (summary) => this.emit("batch", summary),
          longTransaction: (transaction) => this.emit("longTransaction", transaction),
          slot: (status) => this.emit("slot", status),
          error: (error) => this.#report(error),
        },
        promoteNow: () => promoter?.wake(),
      };
      // Every leader, of either mode, moves due retries and scheduled jobs into immediate.
      promoter = startPromoter(leaderTerm);
      const maintenance = this.#startMaintenance();
      held.start();
      try {
        if (this.#options.mode === "replication") {
          await leadReplication(leaderTerm, {
            ackedLsn: claimed.acked_lsn,
            partialLsn: claimed.partial_lsn,
            partialCount: claimed.partial_count,
          });
        } else {
          await leadPolling(leaderTerm);
        }
      } finally {
        await Promise.all([promoter.stop(), maintenance?.stop(), held.stop()]);
      }
      if (term.signal.aborted && !this.#stopping.signal.aborted) throw term.signal.reason;
    } finally {
      this.#leader = false;
      this.#metrics.leading(false);
      this.#lock.off("lost", lost);
      this.#abandon.signal.removeEventListener("abort", abandon);
    }
  }

  /**
   * Refuses progress that does not belong to this server (see checkProgress), records the
   * cluster and timeline this term's progress is written on, and makes rows copied from
   * another cluster deliverable (see restampFutureRows).
   */
  async #checkProgress(claimed: ClaimedRow): Promise<void> {
    const server = await readServerPosition(this.#pool);
    const mismatch = checkProgress(
      this.name,
      {
        snapshot: claimed.snapshot,
        window: claimed.window,
        afterXid: claimed.after_xid,
        ackedLsn: claimed.acked_lsn,
        partialLsn: claimed.partial_lsn,
        systemIdentifier: claimed.system_identifier,
        timeline: claimed.timeline === null ? null : Number(claimed.timeline),
      },
      server,
    );
    if (mismatch) throw mismatch;
    const { logger } = this.#options;
    if (claimed.timeline !== null && server.timeline !== null && Number(claimed.timeline) !== server.timeline) {
      logger.warn?.(
        "the server is on a new timeline (a promoted standby, or a point-in-time recovery); progress goes on",
        {
          epoch: claimed.epoch,
          recordedOn: Number(claimed.timeline),
          timeline: server.timeline,
        },
      );
    }
    await queryRows(this.#pool, this.#queries.consumerIdentify, [
      this.name,
      claimed.epoch,
      server.systemIdentifier,
      server.timeline,
    ]);
    const restamp = await restampFutureRows(this.#pool, this.#options.quotedSchema);
    if (restamp.rows > 0) {
      logger.warn?.(
        "jobs copied from another cluster (transaction ids this server has not reached) were re-inserted to be delivered",
        { epoch: claimed.epoch, rows: restamp.rows },
      );
    }
    if (restamp.refused) {
      logger.warn?.(
        "jobs copied from another cluster wait in immediate: this role may not re-insert them (moveConsumer, run by the table's owner, does)",
        { epoch: claimed.epoch, err: restamp.refused },
      );
    }
  }

  #startMaintenance(): Maintenance | undefined {
    if (this.#options.maintenance === false) return undefined;
    const maintenance = new Maintenance(this.#pool, this.#options.maintenance);
    maintenance.on("run", (report) => {
      this.#metrics.maintenance(report);
      this.emit("maintenance", report);
    });
    maintenance.on("error", (error) => this.#report(error));
    maintenance.start();
    return maintenance;
  }

  #report(error: Error): void {
    this.#options.logger.error?.(error.message, { err: error });
    // An 'error' event with no listener would crash the process; the logger has it anyway.
    if (this.listenerCount("error") > 0) this.emit("error", error);
  }
}
