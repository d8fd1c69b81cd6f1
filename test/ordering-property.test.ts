// Per-key order as a property, in both modes: fast-check draws producers, keys, how often each
// job fails before it succeeds, and restarts and takeovers of the consumer between them. Every
// run checks that no job is lost, that a job is only ever delivered once every earlier job of
// its key has succeeded, and that no handler call holds two jobs of one key; each run both
// with a batch handler and with a perJob handler (jobs of other keys running side by side,
// never two of one key at once).
//
// A failing run prints its seed and path; POUTBOX_PROPERTY_SEED=<seed> replays it, and
// POUTBOX_PROPERTY_RUNS sets how many runs each mode gets (default 6).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { Client, Consumer, type ConsumerMode, type Handler, type Job, type JobFailure, perJob } from "../src/index.js";
import { needs } from "./support/needs.js";
import { dropSlots } from "./support/replication.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const db = useTestDatabase();
const modes: ConsumerMode[] = ["polling", "replication"];
type HandlerForm = "batch" | "perJob";
const forms: HandlerForm[] = ["batch", "perJob"];
const runs = Number(process.env.POUTBOX_PROPERTY_RUNS || 6);
const seed = process.env.POUTBOX_PROPERTY_SEED ? Number(process.env.POUTBOX_PROPERTY_SEED) : Date.now() % 2 ** 31;

interface Produced {
  readonly key: string | null;
  /** How many of its deliveries fail before one succeeds. */
  readonly failures: number;
}

type Step =
  | { readonly kind: "enqueue"; readonly producer: number; readonly jobs: readonly Produced[] }
  | { readonly kind: "restart" }
  | { readonly kind: "takeover" };

const produced = fc.record({
  key: fc.option(fc.constantFrom("k0", "k1", "k2", "k3", "k4"), { freq: 6 }),
  failures: fc.oneof(
    { weight: 3, arbitrary: fc.constant(0) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 2 }) },
  ),
});

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("enqueue" as const),
      producer: fc.integer({ min: 0, max: 2 }),
      jobs: fc.array(produced, { minLength: 1, maxLength: 6 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "restart" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "takeover" as const }) },
);

const plans = fc.array(step, { minLength: 3, maxLength: 12 });

/** A job's plan, carried in its payload so the handler knows it whenever it comes. */
interface Label {
  /** The key, or null for a job without one. */
  readonly key: string | null;
  /** Its place among its key's jobs (or among the jobs without a key), from 0. */
  readonly seq: number;
  readonly failures: number;
}

/** What the handler saw over one run, and the checks it makes as it goes. */
class Observer {
  readonly succeeded = new Set<string>();
  readonly #delivered = new Map<string, number>();
  readonly violations: string[] = [];
  /** Every delivery of each key, for the message of a violation: label, job id, attempt, call. */
  readonly #history = new Map<string, string[]>();
  #calls = 0;
  #inHandler = false;

  readonly #running = new Set<string>();

  /** A batch handler: one call at a time, never two jobs of a key in a call. */
  readonly handler: Handler = async (jobs): Promise<JobFailure[]> => {
    if (this.#inHandler) this.violations.push("two handler calls at once");
    this.#inHandler = true;
    try {
      const keys = jobs.map((job) => job.key).filter((key) => key !== null);
      if (new Set(keys).size !== keys.length) this.violations.push(`one call held two jobs of a key: ${keys}`);
      const failures: JobFailure[] = [];
      const call = ++this.#calls;
      for (const job of jobs)
        if (!this.#deliver(job, `call ${call}`)) failures.push({ job, error: new Error("planned failure") });
      // A little asynchronous work, so restarts and takeovers can land mid-batch.
      await new Promise((resolve) => setTimeout(resolve, 1));
      return failures;
    } finally {
      this.#inHandler = false;
    }
  };

  /** A perJob handler: up to 3 jobs at once, never two of one key. */
  readonly perJob: Handler = perJob(
    async (job) => {
      const key = job.key;
      if (key !== null && this.#running.has(key)) this.violations.push(`two jobs of key ${key} ran at once`);
      if (key !== null) this.#running.add(key);
      try {
        const succeeds = this.#deliver(job, `job call ${++this.#calls}`);
        await new Promise((resolve) => setTimeout(resolve, 1));
        if (!succeeds) throw new Error("planned failure");
      } finally {
        if (key !== null) this.#running.delete(key);
      }
    },
    { concurrency: 3 },
  );

  /** Checks a delivery against the order of its key; true when the plan says it succeeds. */
  #deliver(job: Job, call: string): boolean {
    const label = job.payload as Label;
    const name = `${label.key}#${label.seq}`;
    const history = this.#history.get(String(label.key)) ?? [];
    history.push(`${name} id ${job.id} attempt ${job.attempt} ${call} tx ${job.transactionId}`);
    this.#history.set(String(label.key), history);
    if (job.key !== label.key) this.violations.push(`job ${name} came with key ${job.key}`);
    if (label.key !== null) {
      for (let earlier = 0; earlier < label.seq; earlier++) {
        if (!this.succeeded.has(`${label.key}#${earlier}`)) {
          this.violations.push(
            `${name} delivered before ${label.key}#${earlier} succeeded; the key's deliveries: ${history.join("; ")}`,
          );
        }
      }
    }
    const delivery = (this.#delivered.get(name) ?? 0) + 1;
    this.#delivered.set(name, delivery);
    if (delivery <= label.failures) return false;
    this.succeeded.add(name);
    return true;
  }
}

async function runPlan(mode: ConsumerMode, form: HandlerForm, plan: readonly Step[], run: number): Promise<void> {
  const { schema } = await db.freshSchema(`order_prop_${mode}_${form}_${run}`);
  const client = new Client(db.pool, { schema });
  const observer = new Observer();
  const consumer = () =>
    new Consumer(db.pool, form === "batch" ? observer.handler : observer.perJob, {
      schema,
      mode,
      ordering: "key",
      batchSize: 4,
      maxAttempts: 10,
      pollInterval: 5,
      promoteInterval: 15,
      takeoverInterval: 30,
      reconnectDelay: 20,
      backoff: { base: 10, factor: 1.5, jitter: 0.5 },
      maintenance: false,
    });
  let leader = consumer();
  await leader.start();
  // Each producer enqueues its jobs in order, one transaction after another, with keys of its
  // own (so each key's commit order is its producer's order); producers overlap.
  const producers: Promise<void>[] = [Promise.resolve(), Promise.resolve(), Promise.resolve()];
  const next = new Map<string | null, number>();
  let expected = 0;
  try {
    for (const current of plan) {
      if (current.kind === "enqueue") {
        const previous = producers[current.producer] as Promise<void>;
        const labels = current.jobs.map((job): Label => {
          const key = job.key === null ? null : `p${current.producer}.${job.key}`;
          const seq = next.get(key) ?? 0;
          next.set(key, seq + 1);
          return { key, seq, failures: job.failures };
        });
        expected += labels.length;
        producers[current.producer] = previous.then(async () => {
          for (const label of labels) await client.enqueue(label, label.key === null ? {} : { key: label.key });
        });
        await new Promise((resolve) => setTimeout(resolve, 3));
      } else if (current.kind === "restart") {
        await leader.stop();
        leader = consumer();
        await leader.start();
      } else {
        const standby = consumer();
        await standby.start();
        await leader.stop();
        leader = standby;
      }
    }
    await Promise.all(producers);
    await waitFor(() => observer.succeeded.size === expected, {
      what: `every job to succeed (${observer.succeeded.size} of ${expected})`,
    }).catch(async (error: Error) => {
      throw new Error(`${error.message}\n${await diagnose(schema, observer)}`);
    });
    assert.deepEqual(observer.violations, []);
    await waitFor(
      async () => {
        const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM "${schema}".failed`);
        return rows[0].n === 0;
      },
      { what: "every key queue gone" },
    );
  } finally {
    await leader.stop();
    if (mode === "replication") await dropSlots(db.pool, schema, "default");
  }
}

/** What the outbox holds, for a run that did not finish. */
async function diagnose(schema: string, observer: Observer): Promise<string> {
  const failed = await db.pool.query(
    `SELECT id, key, key_state, attempt, queued, next_retry_at > now() AS later FROM "${schema}".failed ORDER BY queued`,
  );
  const consumers = await db.pool.query(
    `SELECT name, mode, leader_epoch, leader_id, acked_lsn, snapshot, held_outcomes FROM "${schema}".consumers`,
  );
  const immediate = await db.pool.query(
    `SELECT id, key, consumer, attempt, payload::text FROM "${schema}".immediate ORDER BY transaction_id, id`,
  );
  return JSON.stringify(
    {
      succeeded: [...observer.succeeded],
      violations: observer.violations,
      failed: failed.rows,
      consumers: consumers.rows,
      immediate: immediate.rows,
    },
    null,
    1,
  );
}

for (const mode of modes) {
  describe(`ordering keys, as a property (${mode})`, mode === "replication" ? needs("logical-replication") : {}, () => {
    for (const form of forms) {
      it(`keeps per-key order through failures, retries, restarts and takeovers, ${form} handler (${runs} runs, seed ${seed})`, async () => {
        let run = 0;
        await fc.assert(
          fc.asyncProperty(plans, (plan) => runPlan(mode, form, plan, run++)),
          { numRuns: runs, seed, endOnFailure: true },
        );
      });
    }
  });
}
