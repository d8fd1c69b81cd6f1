import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type pg from "pg";
import { type ConsumerMode, migrate, removeConsumer } from "../../src/index.js";
import { type ChildOptions, ConsumerProcess, readIds } from "../support/consumer-child.js";
import type { EmbeddedCluster } from "../support/embedded-cluster.js";
import { waitFor } from "../support/wait-for.js";
import { type Figures, judge, Ledger } from "./ledger.js";
import { type ProduceOptions, produce } from "./producer.js";
import { FaultProxy } from "./proxy.js";
import type { ChildLike } from "./relay-process.js";

/** What every scenario shares: the suite's own server and one database on it. */
export interface Suite {
  readonly cluster: EmbeddedCluster;
  /** The suite's database. */
  readonly url: string;
  readonly pool: pg.Pool;
  /** Runs `action` (a server restart), then waits until the suite's pool can query again. */
  reconnectAfter(action: () => Promise<void>): Promise<void>;
}

export interface Scenario {
  readonly name: string;
  /** The modes it applies to. */
  readonly modes: readonly ConsumerMode[];
  /**
   * Runs the scenario; returns the duplicate bound its faults allow, what it noticed, and
   * whether a check of its own failed.
   */
  run(run: Run): Promise<{ bound: number; notes?: string; failed?: boolean; check?: () => Check | Promise<Check> }>;
}

/** A scenario's own verdict, made after the drain once every process stopped. */
export interface Check {
  readonly failed: boolean;
  readonly notes: string;
}

type ConsumerSettings = Partial<Omit<ChildOptions, "url" | "schema" | "sink">> & { url?: string };

/**
 * One scenario in one mode: a fresh schema with an orders table, the ledger of everything
 * produced, the consumer processes and their sinks, and the verdict at the end.
 */
export class Run {
  readonly suite: Suite;
  readonly scenario: string;
  readonly mode: ConsumerMode;
  readonly schema: string;
  readonly ledger = new Ledger();
  readonly consumers: ConsumerProcess[] = [];
  readonly proxies: FaultProxy[] = [];
  /** Other processes of the scenario's (relays), stopped and killed with the consumers. */
  readonly processes: ChildLike[] = [];
  readonly #cleanups: (() => Promise<unknown>)[] = [];
  #received: (() => Promise<bigint[]>) | undefined;
  readonly #dir = mkdtempSync(join(tmpdir(), "poutbox-faults-"));

  /** A folder of this run's own, removed at cleanup. */
  get directory(): string {
    return this.#dir;
  }
  #faultAt: number | undefined;
  #names = new Set<string>();

  constructor(suite: Suite, scenario: string, mode: ConsumerMode) {
    this.suite = suite;
    this.scenario = scenario;
    this.mode = mode;
    this.schema = `f_${scenario.replaceAll("-", "_")}_${mode}`.slice(0, 60);
  }

  get pool(): pg.Pool {
    return this.suite.pool;
  }

  async setup(): Promise<void> {
    await this.pool.query(`DROP SCHEMA IF EXISTS "${this.schema}" CASCADE`);
    await migrate(this.pool, { schema: this.schema });
    await this.pool.query(`CREATE TABLE "${this.schema}".orders (id bigserial PRIMARY KEY, job_id bigint NOT NULL)`);
  }

  /** Starts a consumer process (name "default" unless given) writing to a sink of its own. */
  consumer(label: string, settings: ConsumerSettings = {}): ConsumerProcess {
    const name = settings.name ?? "default";
    this.#names.add(name);
    const child = new ConsumerProcess(label, {
      url: settings.url ?? this.suite.url,
      mode: this.mode,
      schema: this.schema,
      sink: join(this.#dir, `${label}.ids`),
      batchSize: 20,
      applicationName: `fault-${label}`,
      ...settings,
      name,
    });
    this.consumers.push(child);
    return child;
  }

  /** A proxy in front of the suite's server, or of `port` on this machine. */
  async proxy(port = this.suite.cluster.port): Promise<FaultProxy> {
    const proxy = await FaultProxy.start(port);
    this.proxies.push(proxy);
    return proxy;
  }

  produce(options: ProduceOptions, url = this.suite.url): Promise<void> {
    return produce(url, this.schema, this.ledger, options);
  }

  /** Every handling recorded by every consumer process of this run. */
  handled(): bigint[] {
    return this.consumers.flatMap((each) => readIds(each.sink));
  }

  /**
   * Judges by what `source` received (a broker's messages, for a relay) instead of the
   * consumers' records; `cleanup` runs at the end of the run.
   */
  receiveFrom(source: () => Promise<bigint[]>, cleanup: () => Promise<unknown>): void {
    this.#received = source;
    this.#cleanups.push(cleanup);
  }

  /** What the judge counts: the consumers' handlings, or what `receiveFrom` named. */
  received(): Promise<bigint[]> {
    return this.#received ? this.#received() : Promise.resolve(this.handled());
  }

  /** Keeps `name` (a relay's consumer) for removal at the end. */
  consumerName(name: string): void {
    this.#names.add(name);
  }

  async deadLettered(): Promise<Set<bigint>> {
    const { rows } = await this.pool.query(`SELECT id::text FROM "${this.schema}".dead_letter`);
    return new Set(rows.map((row) => BigInt(row.id)));
  }

  /** Marks the moment of the fault, for the recovery time. */
  fault(): void {
    this.#faultAt = Date.now();
  }

  /** Waits until every committed job was handled or dead-lettered. */
  async drain(timeout = 60_000): Promise<void> {
    await this.ledger.resolve(this.pool, this.schema);
    const committed = this.ledger.committed();
    await waitFor(
      async () => {
        const seen = new Set(await this.received());
        const dead = await this.deadLettered();
        return [...committed].every((id) => seen.has(id) || dead.has(id));
      },
      { timeout, interval: 50, what: `${this.scenario} (${this.mode}) to deliver every committed job` },
    );
  }

  /** Milliseconds from the fault to the first batch any consumer started after it. */
  recovery(): number | null {
    if (this.#faultAt === undefined) return null;
    const faultAt = this.#faultAt;
    const after = this.consumers
      .flatMap((each) => each.lines)
      .filter((line) => line.at >= faultAt && line.text.startsWith("BATCH "))
      .map((line) => line.at);
    return after.length > 0 ? Math.min(...after) - faultAt : null;
  }

  /** Drains, stops every process, judges, and cleans up (slots included). */
  async finish(bound: number, notes: string, failed = false, check?: () => Check | Promise<Check>): Promise<Figures> {
    let drainError: Error | undefined;
    try {
      await this.drain();
      // Duplicates that are still on their way (a batch in a process being killed) arrive now or never.
      await new Promise((resolve) => setTimeout(resolve, 200));
    } catch (error) {
      drainError = error as Error;
      // Said before the processes stop: where the missing jobs are and what the processes said.
      drainError.message += `; ${await this.whereabouts()}`;
    }
    await this.stopAll();
    const checked = await check?.();
    if (checked) {
      notes = [notes, checked.notes].filter(Boolean).join("; ");
      failed ||= checked.failed;
    }
    const dead = await this.deadLettered();
    const verdict = judge(this.ledger, await this.received(), dead);
    const figures: Figures = {
      scenario: this.scenario,
      mode: this.mode,
      ...verdict,
      duplicate_bound: bound,
      recovery_ms: this.recovery(),
      dead_lettered: dead.size,
      notes: drainError ? `${notes}; ${drainError.message}` : notes,
      passed: verdict.lost === 0 && verdict.unexpected === 0 && verdict.duplicates <= bound && !drainError && !failed,
    };
    await this.cleanup();
    return figures;
  }

  /** For a drain that timed out: the first missing jobs' rows in `failed`, and each process's output. */
  async whereabouts(): Promise<string> {
    const seen = new Set(await this.received());
    const dead = await this.deadLettered();
    const missing = [...this.ledger.committed()].filter((id) => !seen.has(id) && !dead.has(id));
    const { rows } = await this.pool
      .query(
        `SELECT id, consumer, key, key_state, attempt, next_retry_at - now() AS due_in, last_error
           FROM "${this.schema}".failed WHERE id = ANY($1::bigint[]) ORDER BY id LIMIT 5`,
        [missing.slice(0, 100).map(String)],
      )
      .catch((error: Error) => ({ rows: [{ error: error.message }] }));
    const processes = [...this.consumers, ...this.processes].map((each) => each.describe());
    return [
      `missing ${missing.length} (first ${missing.slice(0, 5).join(", ")})`,
      `their failed rows ${JSON.stringify(rows)}`,
      ...processes,
    ].join("; ");
  }

  async stopAll(): Promise<void> {
    await Promise.all(
      [...this.consumers, ...this.processes].map(async (each) => {
        each.signal("SIGCONT");
        each.signal("SIGTERM");
        const stopped = await Promise.race([
          each.closed.then(() => true),
          new Promise((resolve) => setTimeout(() => resolve(false), 15_000)),
        ]);
        if (!stopped) await each.destroy();
      }),
    );
  }

  async cleanup(): Promise<void> {
    await Promise.all([...this.consumers, ...this.processes].map((each) => each.destroy()));
    await Promise.all(this.proxies.map((each) => each.close()));
    for (const cleanup of this.#cleanups) await cleanup().catch(() => {});
    for (const name of this.#names) {
      // The walsender of a killed process lingers a moment; removal refuses while it is active.
      await waitFor(
        () =>
          removeConsumer(this.pool, { schema: this.schema, consumer: name }).then(
            () => true,
            () => false,
          ),
        { timeout: 15_000, interval: 100, what: `consumer ${name} to be removable` },
      ).catch(() => {});
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
