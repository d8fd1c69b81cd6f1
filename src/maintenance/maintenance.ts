import { EventEmitter } from "node:events";
import type pg from "pg";
import { InvalidOptionError } from "../core/errors.js";
import { type Periodic, repeat } from "../core/periodic.js";
import { advisoryUnlock, tryAdvisoryLock } from "../database/advisory-locks.js";
import { beginReadCommitted } from "../database/isolation.js";
import { queryRow, queryRows } from "../database/query-rows.js";
import type { PooledConnection } from "../database/queryable.js";
import { sqlStates } from "../database/sql-state.js";
import { withConnection } from "../database/with-connection.js";
import { idempotencyKeysRelease } from "../idempotency/idempotency-queries.js";
import { restampFutureRows } from "../recovery/future-rows.js";
import { readServerPosition } from "../recovery/server-position.js";
import { checkSchema } from "../schema/check-schema.js";
import { maintenanceLockKey } from "../schema/server-names.js";
import {
  type MaintenanceOptions,
  type ResolvedMaintenanceOptions,
  resolveMaintenanceOptions,
} from "./maintenance-options.js";
import {
  clockBefore,
  consumersBehind,
  partitionAttach,
  partitionCreate,
  partitionMark,
  partitionRowsCount,
  partitionRowsExist,
  partitionRowsTotal,
  partitionsDrop,
  partitionTruncate,
  tablesLock,
} from "./maintenance-queries.js";
import { missingRanges, partitionName } from "./partition-plan.js";
import { managedMark, type PartitionMs, qualified, readPartitions } from "./partitions.js";

/** Why a partition was left in place (or not created) in this run. */
export type SkipReason =
  /** Some consumer has not passed every row in it (see `consumers`). */
  | "not-consumed"
  /** No consumer is registered: nothing can be known to be done. */
  | "no-consumers"
  /** Its range ended less than `retention` ago. */
  | "retention"
  /** A lock was not granted within lockTimeout (an open transaction uses the table); retried next run. */
  | "locked"
  /** Not created: the default partition holds rows in its range (see docs/operations.md). */
  | "default-rows"
  /** A table someone attached that holds rows, not yet imported or adopted (see `attached`). */
  | "attached";

export interface PartitionRange {
  readonly name: string;
  readonly from: Date;
  readonly to: Date;
}

export interface SkippedPartition extends PartitionRange {
  readonly reason: SkipReason;
  /** For `not-consumed`: the consumers still behind it. */
  readonly consumers?: readonly string[];
}

export interface MaintenanceReport {
  /** False when another process was running maintenance on this schema: nothing was done. */
  readonly ran: boolean;
  /** The server's time the run was planned with. */
  readonly at: Date;
  readonly created: readonly PartitionRange[];
  readonly dropped: readonly PartitionRange[];
  readonly skipped: readonly SkippedPartition[];
  /** Rows found in the default partition (written while no partition covered their time). */
  readonly defaultRows: number;
  /** Of those, how many were removed, every consumer having passed them. */
  readonly defaultRowsRemoved: number;
  /**
   * Partitions of `immediate` the library did not make that hold rows: tables someone attached.
   * Left in place until an operator imports them (their rows are jobs to deliver) or adopts them
   * (their rows are jobs moved there); see docs/operations.md.
   */
  readonly attached: readonly { readonly name: string; readonly rows: number }[];
  /**
   * Rows copied from another cluster (transaction ids this server has not reached) that this
   * run re-inserted, so that they are delivered now.
   */
  readonly restamped: number;
  /** Idempotency keys deleted because their jobs are no longer pending (see EnqueueOptions.idempotencyKey). */
  readonly idempotencyKeysReleased: number;
}

export interface MaintenanceEvents {
  /** A run finished (also when it found another runner busy: `ran` is false). */
  run: [MaintenanceReport];
  /** A run failed; the periodic runner tries again after runInterval. */
  error: [Error];
}

/** A range starting at least this long after planning is attached without locking out inserts. */
const futureMargin = 10_000;

/** The range began, or is about to, before the ATTACH could commit: roll it back, redo it locked. */
class TooLate extends Error {}

interface Plan {
  readonly now: number;
  readonly partitions: PartitionMs[];
  readonly defaultPartition: PartitionMs | undefined;
  /** The server's, to tell consumers whose progress was recorded elsewhere; null when unreadable. */
  readonly systemIdentifier: string | null;
}

/**
 * Keeps the `immediate` table's partitions: creates them ahead of time and drops the ones
 * every consumer has passed. It never loses a job: a partition goes only when every
 * registered consumer's progress snapshot shows every row in it done, checked again under a
 * lock that no open transaction holding rows in it can share, and rows written where no
 * partition exists land in the default partition instead of failing. A consumer runs this
 * on its leader by default; use this class directly when consumers run with
 * `maintenance: false`.
 *
 * Runs are serialised across processes by an advisory lock: a run that finds another one
 * under way does nothing and reports `ran: false`.
 *
 * @example
 * ```ts
 * const maintenance = new Maintenance(pool, { partitionInterval: 60 * 60_000, retention: 24 * 60 * 60_000 });
 * const report = await maintenance.runOnce(); // or maintenance.start() ... await maintenance.stop()
 * ```
 */
export class Maintenance extends EventEmitter<MaintenanceEvents> {
  readonly #pool: pg.Pool;
  readonly #options: ResolvedMaintenanceOptions;
  readonly #lockKey: string;
  #runner: Periodic | undefined;

  constructor(pool: pg.Pool, options: MaintenanceOptions = {}) {
    super();
    if (pool === null || typeof pool !== "object" || typeof (pool as { connect?: unknown }).connect !== "function") {
      throw new InvalidOptionError("pool", "expected a pg Pool");
    }
    this.#pool = pool;
    this.#options = resolveMaintenanceOptions(options);
    this.#lockKey = maintenanceLockKey(this.#options.schema);
  }

  /** Runs every runInterval (the first run at once) until stop(). Errors go to the `error` event. */
  start(): void {
    if (this.#runner) return;
    this.#runner = repeat(
      this.#options.runInterval,
      async () => {
        this.emit("run", await this.runOnce());
      },
      (error) => {
        this.#options.logger.error?.(`maintenance failed: ${(error as Error).message}`, { err: error });
        if (this.listenerCount("error") > 0) this.emit("error", error as Error);
      },
    );
  }

  /** Stops the periodic runner, waiting for a run in progress to finish. */
  async stop(): Promise<void> {
    const runner = this.#runner;
    await runner?.stop();
    if (this.#runner === runner) this.#runner = undefined;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** One run: clear the default partition if it can, create what is missing, drop what is done. */
  async runOnce(): Promise<MaintenanceReport> {
    // After an error the session may still hold the advisory lock or an open transaction:
    // withConnection closes it then, the sure way to free both.
    return withConnection(this.#pool, async (client) => {
      await checkSchema(client, this.#options.schema, this.#options.quotedSchema);
      if (!(await tryAdvisoryLock(client, this.#lockKey))) {
        return {
          ran: false,
          at: new Date(),
          created: [],
          dropped: [],
          skipped: [],
          defaultRows: 0,
          defaultRowsRemoved: 0,
          attached: [],
          restamped: 0,
          idempotencyKeysReleased: 0,
        };
      }
      try {
        return await this.#run(client);
      } finally {
        await advisoryUnlock(client, this.#lockKey);
      }
    });
  }

  async #run(client: PooledConnection): Promise<MaintenanceReport> {
    const { logger, quotedSchema } = this.#options;
    const server = await readServerPosition(client);
    const { now, partitions } = await readPartitions(client, quotedSchema);
    const plan: Plan = {
      now,
      partitions,
      defaultPartition: partitions.find((each) => each.isDefault),
      systemIdentifier: server.systemIdentifier,
    };
    const report = {
      ran: true,
      at: new Date(now),
      created: [] as PartitionRange[],
      dropped: [] as PartitionRange[],
      skipped: [] as SkippedPartition[],
      defaultRows: 0,
      defaultRowsRemoved: 0,
      attached: [] as { name: string; rows: number }[],
      restamped: 0,
      idempotencyKeysReleased: 0,
    };
    // Rows nobody would deliver as they are: copied from another cluster, or in a table an
    // operator attached. Taken as jobs before anything is judged done.
    const restamp = await restampFutureRows(client, quotedSchema);
    if (restamp.refused) throw restamp.refused;
    report.restamped = restamp.rows;
    if (restamp.rows > 0) {
      logger.warn?.("rows copied from another cluster were re-inserted to be delivered", { rows: restamp.rows });
    }
    await this.#reviewAttached(client, plan, report);
    // The default partition first: rows in it block creating a partition over their range.
    const defaultHoldsRows = await this.#clearDefault(client, plan, report);
    await this.#create(client, plan, defaultHoldsRows, report);
    await this.#drop(client, plan, report);
    report.idempotencyKeysReleased = (await queryRow(client, idempotencyKeysRelease(quotedSchema))).released;
    if (report.created.length + report.dropped.length + report.defaultRowsRemoved > 0) {
      logger.info?.("maintenance", {
        created: report.created.map((each) => each.name),
        dropped: report.dropped.map((each) => each.name),
        defaultRowsRemoved: report.defaultRowsRemoved,
        idempotencyKeysReleased: report.idempotencyKeysReleased,
      });
    }
    if (report.skipped.length > 0) logger.debug?.("maintenance skipped", { skipped: report.skipped });
    return report;
  }

  /**
   * A partition without the library's mark is a table someone else attached. Empty, it is
   * marked and kept like any other: rows that reach it later are inserted through the outbox.
   * Holding rows, it is reported on every run, never dropped, and left for an operator to say
   * what its rows are (importPartition: jobs to deliver; adoptPartition: jobs moved there),
   * since nothing in a row tells a job enqueued there before the table was attached, which no
   * consumer has seen, from one moved there, which consumers have.
   */
  async #reviewAttached(
    client: PooledConnection,
    plan: Plan,
    report: { attached: { name: string; rows: number }[] },
  ): Promise<void> {
    const { quotedSchema, logger } = this.#options;
    for (const [index, partition] of plan.partitions.entries()) {
      if (partition.managed) continue;
      const table = qualified(quotedSchema, partition.name);
      const { rows } = await queryRow(client, partitionRowsTotal(table));
      if (Number(rows) === 0) {
        await client.query(partitionMark(table, managedMark));
        plan.partitions[index] = { ...partition, managed: true };
        continue;
      }
      report.attached.push({ name: partition.name, rows: Number(rows) });
      logger.warn?.(
        "a table attached to immediate holds rows no consumer is known to have seen: import or adopt it " +
          "(poutbox partition import|adopt)",
        { partition: partition.name, rows: Number(rows) },
      );
    }
  }

  /**
   * Rows land in the default partition only while no partition covers their created_at
   * (maintenance late, or a transaction whose now() is older than the oldest partition).
   * Once every consumer has passed all of them it is emptied with TRUNCATE, which locks the
   * default partition alone. Returns whether rows are still there.
   */
  async #clearDefault(
    client: PooledConnection,
    plan: Plan,
    report: { defaultRows: number; defaultRowsRemoved: number; skipped: SkippedPartition[] },
  ): Promise<boolean> {
    const partition = plan.defaultPartition;
    if (!partition) return false;
    const table = qualified(this.#options.quotedSchema, partition.name);
    const held = await this.#defaultRows(client, table);
    report.defaultRows = held.rows;
    if (held.rows === 0) return false;
    const range = { name: partition.name, from: new Date(held.from), to: new Date(held.to) };
    // Found in plan.partitions, which #reviewAttached updates: a default partition someone
    // attached with rows in it is not emptied.
    if (!plan.partitions.find((each) => each.isDefault)?.managed) {
      report.skipped.push({ ...range, reason: "attached" });
      return true;
    }
    const reason = await this.#dropBlocker(client, table, held.to + 1, plan);
    if (reason) {
      report.skipped.push({ ...range, ...reason });
      return true;
    }
    const removed = await this.#locked(client, [table], async () => {
      // Rows may have arrived since: count and judge again what is truncated.
      const final = await this.#defaultRows(client, table);
      if (await this.#dropBlocker(client, table, final.to + 1, plan)) return 0;
      await client.query(partitionTruncate(table));
      return final.rows;
    });
    if (removed === "locked") {
      report.skipped.push({ ...range, reason: "locked" });
      return true;
    }
    report.defaultRowsRemoved = removed;
    return removed === 0;
  }

  async #defaultRows(client: PooledConnection, table: string): Promise<{ rows: number; from: number; to: number }> {
    const row = await queryRow(client, partitionRowsCount(table));
    return {
      rows: Number(row.rows),
      from: row.from_ms === null ? Number.NaN : Number(row.from_ms),
      to: row.to_ms === null ? Number.NaN : Number(row.to_ms),
    };
  }

  async #holdsRows(
    client: PooledConnection,
    partition: PartitionMs,
    range: { from: number; to: number },
  ): Promise<boolean> {
    const table = qualified(this.#options.quotedSchema, partition.name);
    const [row] = await queryRows(client, partitionRowsExist(table), [range.from, range.to]);
    return row?.held !== false;
  }

  async #create(
    client: PooledConnection,
    plan: Plan,
    defaultHoldsRows: boolean,
    report: { created: PartitionRange[]; skipped: SkippedPartition[] },
  ): Promise<void> {
    const { quotedSchema, partitionInterval, lookAhead } = this.#options;
    const existing = plan.partitions.filter((each) => !each.isDefault);
    for (const range of missingRanges(plan.now, partitionInterval, lookAhead, existing)) {
      const name = partitionName(range.from);
      const described = { name, from: new Date(range.from), to: new Date(range.to) };
      const table = qualified(quotedSchema, name);
      // A partition cannot be attached over rows the default partition holds in its range.
      if (defaultHoldsRows && plan.defaultPartition && (await this.#holdsRows(client, plan.defaultPartition, range))) {
        report.skipped.push({ ...described, reason: "default-rows" });
        continue;
      }
      let outcome = await this.#attach(client, table, described, range.from >= plan.now + futureMargin);
      if (outcome === "too-late") outcome = await this.#attach(client, table, described, false);
      if (outcome === "created") report.created.push(described);
      else if (outcome !== "too-late") report.skipped.push({ ...described, reason: outcome });
    }
  }

  /**
   * Creates a partition. An INSERT picks its partition before it waits for that partition's
   * lock, so one that chose the default partition and then waited behind the ATTACH (which
   * locks the default partition to check its rows) would fail the default partition's new
   * constraint once the ATTACH commits, if its row falls in the new range. Rows fall in a
   * range only from its start on, so:
   * - a range that starts later than the ATTACH commits is attached under a SHARE UPDATE
   *   EXCLUSIVE lock on the table, which inserts do not conflict with (CREATE TABLE ...
   *   PARTITION OF would lock them all out); checked against the clock before committing;
   * - a range that has begun (the table was never maintained, or maintenance was down) is
   *   attached under an ACCESS EXCLUSIVE lock on the table: inserts wait for it before they
   *   pick a partition, for at most lockTimeout.
   */
  async #attach(
    client: PooledConnection,
    table: string,
    range: PartitionRange,
    future: boolean,
  ): Promise<"created" | "locked" | "default-rows" | "too-late"> {
    const { quotedSchema } = this.#options;
    return this.#locked(client, future ? [] : [`ONLY ${quotedSchema}.immediate`], async () => {
      await client.query(partitionCreate(quotedSchema, table));
      await client.query(partitionAttach(quotedSchema, table, range.from, range.to));
      await client.query(partitionMark(table, managedMark));
      if (future) {
        const [clock] = await queryRows(client, clockBefore(futureMargin / 2), [range.from.toISOString()]);
        if (clock?.early !== true) throw new TooLate();
      }
      return "created" as const;
    }).catch((error: { code?: string }) => {
      if (error instanceof TooLate) return "too-late" as const;
      // A row reached the default partition in this range since it was checked.
      if (error.code === sqlStates.checkViolation) return "default-rows" as const;
      throw error;
    });
  }

  /**
   * Drops every ended partition that all consumers have passed, in one transaction so that
   * producers wait for the table lock at most once per run. The test is made twice: first
   * without locks, to skip what is plainly not done, then under ACCESS EXCLUSIVE locks on the
   * table, the partitions and the default partition. Holding those, no transaction can have
   * uncommitted rows in a partition (it would hold a lock on it), and none can add rows
   * until the drop commits; a transaction whose now() falls in a dropped range afterwards
   * writes to the default partition. So the second test sees the final contents.
   */
  async #drop(
    client: PooledConnection,
    plan: Plan,
    report: { dropped: PartitionRange[]; skipped: SkippedPartition[] },
  ): Promise<void> {
    const { quotedSchema } = this.#options;
    const ended = plan.partitions.filter((each) => !each.isDefault && each.to <= plan.now);
    // A table someone attached with rows in it stays until it is imported or adopted.
    for (const partition of ended.filter((each) => !each.managed)) {
      report.skipped.push({
        name: partition.name,
        from: new Date(partition.from),
        to: new Date(partition.to),
        reason: "attached",
      });
    }
    const candidates: { partition: PartitionMs; table: string; range: PartitionRange }[] = [];
    for (const partition of ended.filter((each) => each.managed)) {
      const range = { name: partition.name, from: new Date(partition.from), to: new Date(partition.to) };
      const table = qualified(quotedSchema, partition.name);
      const reason = await this.#dropBlocker(client, table, partition.to, plan);
      if (reason) report.skipped.push({ ...range, ...reason });
      else candidates.push({ partition, table, range });
    }
    if (candidates.length === 0) return;
    const defaultTable = plan.defaultPartition && qualified(quotedSchema, plan.defaultPartition.name);
    const tables = [`ONLY ${quotedSchema}.immediate`, ...candidates.map((each) => each.table)];
    if (defaultTable) tables.push(defaultTable);
    const outcome = await this.#locked(client, tables, async () => {
      const droppable: typeof candidates = [];
      const behind: SkippedPartition[] = [];
      for (const candidate of candidates) {
        const reason = await this.#dropBlocker(client, candidate.table, candidate.partition.to, plan);
        if (reason) behind.push({ ...candidate.range, ...reason });
        else droppable.push(candidate);
      }
      if (droppable.length > 0) await client.query(partitionsDrop(droppable.map((each) => each.table)));
      return { droppable, behind };
    });
    if (outcome === "locked") {
      for (const candidate of candidates) report.skipped.push({ ...candidate.range, reason: "locked" });
      return;
    }
    report.dropped.push(...outcome.droppable.map((each) => each.range));
    report.skipped.push(...outcome.behind);
  }

  /**
   * Why rows of `table`, whose created_at are all below `end`, may not go yet (retention,
   * or a consumer that has not passed them all; see consumersBehind); undefined when they may.
   */
  async #dropBlocker(
    client: PooledConnection,
    table: string,
    end: number,
    plan: Plan,
  ): Promise<{ reason: SkipReason; consumers?: string[] } | undefined> {
    if (end > plan.now - this.#options.retention) return { reason: "retention" };
    const row = await queryRow(client, consumersBehind(this.#options.quotedSchema, table), [plan.systemIdentifier]);
    if (row.registered === 0) return { reason: "no-consumers" };
    if (row.behind.length > 0) return { reason: "not-consumed", consumers: row.behind };
    return undefined;
  }

  /**
   * Runs `work` in a transaction after taking ACCESS EXCLUSIVE locks on `tables`, with
   * lock_timeout set so that neither this run nor the producers queued behind its lock wait
   * long. Returns "locked" when a lock was not granted in time. Tables are locked in the
   * order producers lock them (the parent table, then a partition), so a producer and this
   * cannot deadlock.
   */
  async #locked<T>(client: PooledConnection, tables: string[], work: () => Promise<T>): Promise<T | "locked"> {
    await client.query(beginReadCommitted);
    try {
      await client.query(`SET LOCAL lock_timeout = ${this.#options.lockTimeout}`);
      // One table at a time, in the order given: lock_timeout applies to each wait.
      for (const table of tables) await client.query(tablesLock([table]));
      const result = await work();
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      if ((error as { code?: string }).code === sqlStates.lockNotAvailable) return "locked";
      throw error;
    }
  }
}
