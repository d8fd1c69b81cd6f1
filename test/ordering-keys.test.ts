// Ordering keys, in both modes: a consumer with `ordering: "key"` delivers the jobs of one key
// one at a time, in commit order; a failing job holds back only the later jobs of its own key,
// through its retries and its dead letter; other keys are not held back. Includes the two
// ways pg-boss's FIFO policy failed its users: one blocked key starving all the others, and
// jobs of one key reordered (there by priority; here by retries, scheduled jobs and batches).
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import {
  Consumer,
  type ConsumerMode,
  type ConsumerOptions,
  type Handler,
  InvalidOptionError,
  type Job,
  type JobFailure,
  listBlockedKeys,
  listDeadLetters,
  type PoutboxError,
  perJob,
  purgeDeadLetters,
  requeueDeadLetters,
  retryKeyHead,
  skipKeyHead,
  status,
} from "../src/index.js";
import { needs } from "./support/needs.js";
import { quickConsumer } from "./support/quick-consumer.js";
import { dropSlots } from "./support/replication.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const db = useTestDatabase();
const modes: ConsumerMode[] = ["polling", "replication"];
/** A batch handler, or one made by perJob (a job at a time, several keys at once). */
type HandlerForm = "batch" | "perJob";
/** What the handlers saw that must never happen; checked once every test has run. */
const overlaps: string[] = [];
after(() => assert.deepEqual(overlaps, []));

function orderedConsumer(schema: string, mode: ConsumerMode, handler: Handler, options: ConsumerOptions = {}) {
  return quickConsumer(db.pool, handler, { schema, mode, ordering: "key", ...options });
}

/**
 * A handler that records every handler call and fails the jobs `fails` says to (by payload
 * label, counting that label's deliveries from 1), and checks that no call holds two jobs of
 * one key; as a perJob handler (`form`), that no two jobs of one key run at once.
 */
function keyedRecorder(fails: (label: string, delivery: number) => boolean = () => false, form: HandlerForm = "batch") {
  const calls: Job<{ label: string }>[][] = [];
  const seen = new Map<string, number>();
  const done: string[] = [];
  const handler: Handler<{ label: string }> = async (jobs): Promise<JobFailure[]> => {
    calls.push([...jobs]);
    const keys = jobs.map((job) => job.key).filter((key) => key !== null);
    if (new Set(keys).size !== keys.length) overlaps.push(`a handler call held two jobs of one key: ${keys.join(",")}`);
    const failures: JobFailure[] = [];
    for (const job of jobs) {
      const delivery = (seen.get(job.payload.label) ?? 0) + 1;
      seen.set(job.payload.label, delivery);
      if (fails(job.payload.label, delivery)) failures.push({ job, error: new Error(`${job.payload.label} fails`) });
      else done.push(job.payload.label);
    }
    return failures;
  };
  /** Successful deliveries of one key's jobs, in order, by label. */
  const doneOf = (prefix: string) => done.filter((label) => label.startsWith(prefix));
  const running = new Set<string>();
  const single = perJob(
    async (job: Job<{ label: string }>, context) => {
      const key = job.key;
      // Recorded, not thrown: a throw would only fail the job.
      if (key !== null && running.has(key)) overlaps.push(`two jobs of key ${key} ran at once`);
      if (key !== null) running.add(key);
      try {
        // Long enough for the jobs of other keys to overlap.
        await new Promise((resolve) => setTimeout(resolve, 2));
        const [failure] = (await handler([job], context)) as JobFailure[];
        if (failure) throw failure.error;
      } finally {
        if (key !== null) running.delete(key);
      }
    },
    { concurrency: 8 },
  );
  return { handler: (form === "batch" ? handler : single) as Handler, calls, done, doneOf, seen };
}

for (const [mode, form] of modes.flatMap((mode) =>
  (["batch", "perJob"] as const).map((form) => [mode, form] as const),
)) {
  const name = (prefix: string) => `${prefix}_${mode}${form === "batch" ? "" : "_each"}`;
  describe(
    `ordering keys (${mode}, ${form} handler)`,
    mode === "replication" ? needs("logical-replication") : {},
    () => {
      it("holds a failing job's later jobs of its key behind it through its retries, and no other key", async () => {
        const { schema, client } = await db.freshSchema(name("order_retry"));
        // a1 fails twice; everything else succeeds at once.
        const recorder = keyedRecorder((label, delivery) => label === "a1" && delivery <= 2, form);
        const consumer = orderedConsumer(schema, mode, recorder.handler);
        await consumer.start();
        try {
          for (const label of ["a1", "b1", "a2", "b2"]) await client.enqueue({ label }, { key: label[0] });
          // Several jobs of one key in one transaction, and a job without a key.
          await client.enqueueMany([{ label: "a3" }, { label: "a4" }], { key: "a" });
          await client.enqueue({ label: "free" });
          await waitFor(() => recorder.done.length === 7, { what: "every job done" });
          assert.deepEqual(recorder.doneOf("a"), ["a1", "a2", "a3", "a4"]);
          assert.deepEqual(recorder.doneOf("b"), ["b1", "b2"]);
          assert.equal(recorder.seen.get("a1"), 3);
          // Key b went on while a1 waited for its retries.
          assert.ok(recorder.done.indexOf("b2") < recorder.done.indexOf("a1"), recorder.done.join(","));
          // a2..a4 were never delivered before a1 succeeded.
          for (const label of ["a2", "a3", "a4"]) assert.equal(recorder.seen.get(label), 1, label);
          // The last head's leaving is written by the commit after its handler returned.
          await waitFor(
            async () => (await db.pool.query(`SELECT count(*)::int AS n FROM "${schema}".failed`)).rows[0].n === 0,
            { what: "the key's queue to be gone once it drained" },
          );
        } finally {
          await consumer.stop();
          if (mode === "replication") await dropSlots(db.pool, schema, "default");
        }
      });

      it("keeps a key blocked behind its dead letter until it is requeued, then delivers the rest in order", async () => {
        const { schema, client } = await db.freshSchema(name("order_dead"));
        let healed = false;
        const recorder = keyedRecorder((label) => label === "k1" && !healed, form);
        const consumer = orderedConsumer(schema, mode, recorder.handler, { maxAttempts: 2 });
        await consumer.start();
        try {
          for (const label of ["k1", "k2", "k3", "other"]) {
            await client.enqueue({ label }, { key: label === "other" ? "o" : "k" });
          }
          await waitFor(async () => (await listDeadLetters(db.pool, { schema })).length === 1, { what: "k1 dead" });
          await waitFor(() => recorder.done.includes("other"), { what: "the other key" });
          await client.enqueue({ label: "k4" }, { key: "k" });
          await new Promise((resolve) => setTimeout(resolve, 300));
          assert.deepEqual(recorder.doneOf("k"), [], "nothing of key k while its head is dead");
          healed = true;
          assert.equal(await requeueDeadLetters(db.pool, { schema, all: true }), 1);
          await waitFor(() => recorder.doneOf("k").length === 4, { what: "key k drained" });
          assert.deepEqual(recorder.doneOf("k"), ["k1", "k2", "k3", "k4"]);
        } finally {
          await consumer.stop();
          if (mode === "replication") await dropSlots(db.pool, schema, "default");
        }
      });

      it("moves a key on when its dead letter is purged, or at once with deadLetterBlocksKey: false", async () => {
        const { schema, client } = await db.freshSchema(name("order_skip"));
        const recorder = keyedRecorder((label) => label === "p1" || label === "q1", form);
        const blocking = orderedConsumer(schema, mode, recorder.handler, { name: "blocking", maxAttempts: 1 });
        const flowing = keyedRecorder((label) => label === "p1" || label === "q1", form);
        const moving = orderedConsumer(schema, mode, flowing.handler, {
          name: "moving",
          maxAttempts: 1,
          deadLetterBlocksKey: false,
        });
        await blocking.start();
        await moving.start();
        try {
          for (const label of ["p1", "p2", "q1", "q2"]) await client.enqueue({ label }, { key: label[0] });
          await waitFor(() => flowing.done.length === 2, { what: "the moving consumer past both dead letters" });
          assert.deepEqual(flowing.done, ["p2", "q2"]);
          await waitFor(async () => (await listDeadLetters(db.pool, { schema, consumer: "blocking" })).length === 2);
          await new Promise((resolve) => setTimeout(resolve, 200));
          assert.deepEqual(recorder.done, []);
          const [p1] = await listDeadLetters(db.pool, { schema, consumer: "blocking", limit: 1 });
          assert.ok(p1);
          assert.equal(await purgeDeadLetters(db.pool, { schema, consumer: "blocking", ids: [p1.id] }), 1);
          await waitFor(() => recorder.done.length === 1, { what: "the purged key's next job" });
          assert.equal(recorder.done.length, 1);
        } finally {
          await blocking.stop();
          await moving.stop();
          if (mode === "replication") await dropSlots(db.pool, schema, "blocking", "moving");
        }
      });

      it("does not let one blocked key starve the others, however many jobs wait behind it", async () => {
        const { schema, client } = await db.freshSchema(name("order_starve"));
        const recorder = keyedRecorder((label) => label.startsWith("hot"), form);
        const consumer = orderedConsumer(schema, mode, recorder.handler, { batchSize: 50, maxAttempts: 1_000 });
        await consumer.start();
        try {
          await client.enqueueMany(
            Array.from({ length: 300 }, (_, i) => ({ label: `hot${i}` })),
            { key: "hot" },
          );
          const cold = Array.from({ length: 200 }, (_, i) => ({ label: `cold${i}` }));
          for (let i = 0; i < cold.length; i += 20) {
            await Promise.all(cold.slice(i, i + 20).map((payload, j) => client.enqueue(payload, { key: `c${i + j}` })));
          }
          await waitFor(() => recorder.done.length === 200, { what: "every cold key done" });
          // The hot key's head is still the only one of its jobs ever delivered.
          const hotDelivered = [...recorder.seen.keys()].filter((label) => label.startsWith("hot"));
          assert.deepEqual(hotDelivered, ["hot0"]);
          const { rows } = await db.pool.query(
            `SELECT key_state, count(*)::int AS n FROM "${schema}".failed GROUP BY key_state ORDER BY key_state`,
          );
          assert.equal(rows.find((row) => row.key_state === "waiting")?.n, 299);
        } finally {
          await consumer.stop();
          if (mode === "replication") await dropSlots(db.pool, schema, "default");
        }
      });

      it("drains a key's backlog once its head succeeds, without waiting a promoter round per job", async () => {
        const { schema, client } = await db.freshSchema(name("order_backlog"));
        // w0 fails, retried in an hour: it and the 40 jobs behind it are left in the key's queue.
        const first = keyedRecorder((label) => label === "w0", form);
        const failing = orderedConsumer(schema, mode, first.handler, { backoff: { base: 3_600_000, jitter: 0 } });
        await failing.start();
        try {
          await client.enqueueMany(
            Array.from({ length: 41 }, (_, i) => ({ label: `w${i}` })),
            { key: "w" },
          );
          await waitFor(
            async () =>
              (await db.pool.query(`SELECT count(*)::int AS n FROM "${schema}".failed WHERE key_state IS NOT NULL`))
                .rows[0].n === 41,
            { what: "the head and its backlog in the key's queue" },
          );
        } finally {
          await failing.stop();
        }
        assert.ok(await retryKeyHead(db.pool, { schema, consumer: "default", key: "w" }), "the head, due now");
        // The promoter runs once at the start and then not for an hour: only the head's leaving
        // can bring each next job.
        const second = keyedRecorder(undefined, form);
        const draining = orderedConsumer(schema, mode, second.handler, { promoteInterval: 3_600_000 });
        await draining.start();
        try {
          await waitFor(() => second.done.length === 41, { what: "the whole backlog" });
          assert.deepEqual(
            second.done,
            Array.from({ length: 41 }, (_, i) => `w${i}`),
          );
        } finally {
          await draining.stop();
          if (mode === "replication") await dropSlots(db.pool, schema, "default");
        }
      });

      it("orders a key's scheduled job by when it became due, and never puts a retry behind later jobs", async () => {
        const { schema, client } = await db.freshSchema(name("order_sched"));
        const recorder = keyedRecorder((label, delivery) => label === "s1" && delivery === 1, form);
        const consumer = orderedConsumer(schema, mode, recorder.handler);
        await consumer.start();
        try {
          await client.enqueue({ label: "s1" }, { key: "s" });
          await client.enqueue({ label: "s-later" }, { key: "s", runAt: new Date(Date.now() + 400) });
          await client.enqueue({ label: "s2" }, { key: "s" });
          await waitFor(() => recorder.doneOf("s").length === 3, { what: "key s drained" });
          assert.deepEqual(recorder.doneOf("s"), ["s1", "s2", "s-later"]);
        } finally {
          await consumer.stop();
          if (mode === "replication") await dropSlots(db.pool, schema, "default");
        }
      });
    },
  );
}

describe("blocked keys: status, list, retry and skip", () => {
  it("shows blocked keys, delivers a head again or skips it, and refuses a head in delivery", async () => {
    const { schema, client } = await db.freshSchema("order_unblock");
    let release: () => void = () => {};
    const parked = new Promise<void>((resolve) => {
      release = resolve;
    });
    let heal = false;
    const recorder = keyedRecorder(
      (label, delivery) => (!heal && (label === "r1" || label === "s1")) || (label === "h1" && delivery === 1),
    );
    const handler: Handler = async (jobs, context) => {
      // The third key's head hangs in its second delivery, so it stays `delivering`.
      const hanging = jobs.find((job) => (job.payload as { label: string }).label === "h1" && job.attempt === 2);
      if (hanging) await parked;
      return recorder.handler(jobs, context);
    };
    const consumer = orderedConsumer(schema, "polling", handler, {
      name: "ops",
      // The first retry comes after 50 ms; the next one after 50 s.
      backoff: { base: 50, factor: 1000, jitter: 0 },
      maxAttempts: 3,
    });
    await consumer.start();
    try {
      for (const label of ["r1", "r2", "r3", "s1", "s2", "h1", "h2"]) {
        await client.enqueue({ label }, { key: label[0] });
      }
      const byKey = async () =>
        new Map((await listBlockedKeys(db.pool, { schema, consumer: "ops" })).map((blocked) => [blocked.key, blocked]));
      // h1 fails its first delivery (its second hangs): a key in delivery. h2, committed after
      // h1, can be set to wait by a later batch than h1's failure: read once it waits too.
      let keys = await waitFor(async () => {
        const found = await byKey();
        const heads = [...found.values()];
        return heads.length === 3 && heads.every((key) => key.head.attempts >= 1) && found.get("h")?.waiting === 1
          ? found
          : undefined;
      });
      assert.equal(keys.get("r")?.waiting, 2);
      assert.equal(keys.get("s")?.waiting, 1);
      const [ops] = (await status(db.pool, { schema })).consumers;
      assert.equal(ops?.blockedKeys, 3);
      assert.equal(ops?.waitingBehindKeys, 4);
      await waitFor(async () => (await byKey()).get("h")?.head.state === "delivering", { what: "h1 in delivery" });
      await assert.rejects(
        skipKeyHead(db.pool, { schema, consumer: "ops", key: "h" }),
        (error: PoutboxError) => error.code === "KEY_HEAD_DELIVERING",
      );
      // The consumer handles one batch at a time: let the hanging one finish.
      release();
      await waitFor(() => recorder.doneOf("h").length === 2, { what: "key h drained" });
      // r1 is not due for 50 s: retry it now, healed.
      await waitFor(async () => (await byKey()).get("r")?.head.attempts === 2, { what: "r1 failed twice" });
      keys = await byKey();
      assert.ok((keys.get("r")?.head.nextRetryAt?.getTime() ?? 0) > Date.now() + 30_000);
      heal = true;
      const retried = await retryKeyHead(db.pool, { schema, consumer: "ops", key: "r" });
      assert.equal(retried?.previousState, "retry");
      await waitFor(() => recorder.doneOf("r").length === 3, { what: "key r drained" });
      assert.deepEqual(recorder.doneOf("r"), ["r1", "r2", "r3"]);
      // s1 is given up: it goes to dead letter with the reason, and s2 goes on.
      const skipped = await skipKeyHead(db.pool, { schema, consumer: "ops", key: "s", reason: "bad address" });
      assert.equal(skipped?.previousState, "retry");
      await waitFor(() => recorder.doneOf("s").length === 1, { what: "s2" });
      assert.deepEqual(recorder.doneOf("s"), ["s2"]);
      const [dead] = await listDeadLetters(db.pool, { schema, consumer: "ops" });
      assert.equal(dead?.key, "s");
      assert.match(dead?.lastError ?? "", /^skipped by an operator: bad address/);
      assert.equal(await retryKeyHead(db.pool, { schema, consumer: "ops", key: "nothing" }), null);
      await assert.rejects(skipKeyHead(db.pool, { schema, consumer: "", key: "s" }), InvalidOptionError);
      await waitFor(async () => (await listBlockedKeys(db.pool, { schema })).length === 0);
    } finally {
      release();
      await consumer.stop();
    }
  });
});

describe("ordering turned off", () => {
  it("retries the jobs of the key queues an ordered run left, each on its own", async () => {
    const { schema, client } = await db.freshSchema("order_off");
    const ordered = keyedRecorder((label) => label === "z1");
    const first = orderedConsumer(schema, "polling", ordered.handler, { backoff: { base: 3_600_000 } });
    await first.start();
    try {
      for (const label of ["z1", "z2", "z3"]) await client.enqueue({ label }, { key: "z" });
      await waitFor(async () => (await listBlockedKeys(db.pool, { schema }))[0]?.waiting === 2, {
        what: "z2 and z3 waiting behind z1",
      });
    } finally {
      await first.stop();
    }
    const done: string[] = [];
    const plain: Handler = async (jobs) => {
      for (const job of jobs) done.push((job.payload as { label: string }).label);
    };
    const second = orderedConsumer(schema, "polling", plain, { ordering: "none" });
    await second.start();
    try {
      await waitFor(() => done.length === 2, { what: "the waiting jobs, delivered on their own" });
      assert.deepEqual(done.sort(), ["z2", "z3"]);
      assert.deepEqual(await listBlockedKeys(db.pool, { schema }), []);
      const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM "${schema}".failed WHERE key_state IS NULL`);
      assert.equal(rows[0].n, 1, "z1 waits for its retry as a plain one");
    } finally {
      await second.stop();
    }
  });
});

describe("ordering keys: options", () => {
  it("refuses an unknown ordering and a non-boolean deadLetterBlocksKey", () => {
    const handler: Handler = async () => {};
    assert.throws(() => new Consumer(db.pool, handler, { ordering: "fifo" as "key" }), /ordering/);
    assert.throws(
      () => new Consumer(db.pool, handler, { deadLetterBlocksKey: "yes" as unknown as boolean }),
      /deadLetterBlocksKey/,
    );
  });
});
