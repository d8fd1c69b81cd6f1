// A job's own retry policy (enqueue's `maxAttempts` and `backoff`), in both modes: it goes
// over the consumer's and its topic's, travels with the job through scheduled, failed and dead
// letter, and is refused at enqueue when it is not one the consumer could use.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type ConsumerMode, InvalidOptionError, type JobFailure, listDeadLetters } from "../src/index.js";
import { needs } from "./support/needs.js";
import { quickConsumer } from "./support/quick-consumer.js";
import { recorder } from "./support/recorder.js";
import { dropSlots } from "./support/replication.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const db = useTestDatabase();
const modes: ConsumerMode[] = ["polling", "replication"];

for (const mode of modes) {
  describe(`a job's own retry policy (${mode})`, mode === "replication" ? needs("logical-replication") : {}, () => {
    it("dead-letters, retries and waits by the job's policy over the consumer's and its topic's", async () => {
      const { schema, client } = await db.freshSchema(`job_retry_${mode}`);
      // Every delivery fails.
      const seen = recorder(
        async (jobs): Promise<JobFailure[]> => jobs.map((job) => ({ job, error: new Error("no") })),
      );
      const consumer = quickConsumer(db.pool, seen.handler, {
        schema,
        mode,
        maxAttempts: 3,
        retryByTopic: { slow: { maxAttempts: 4 } },
      });
      await consumer.start();
      try {
        const once = await client.enqueue({ n: 1 }, { maxAttempts: 1 });
        const topicAndOwn = await client.enqueue({ n: 2 }, { topic: "slow", maxAttempts: 2 });
        const topicOnly = await client.enqueue({ n: 3 }, { topic: "slow" });
        const later = await client.enqueue({ n: 4 }, { backoff: { base: 3_600_000 } });
        const scheduled = await client.enqueue({ n: 5 }, { maxAttempts: 1, runAt: new Date(Date.now() - 1000) });
        await waitFor(async () => (await listDeadLetters(db.pool, { schema })).length === 4, {
          what: "four dead letters",
        });
        const attempts = new Map(
          (await listDeadLetters(db.pool, { schema })).map((dead) => [dead.id, dead.attempts] as const),
        );
        assert.equal(attempts.get(once), 1);
        assert.equal(attempts.get(topicAndOwn), 2);
        assert.equal(attempts.get(topicOnly), 4);
        assert.equal(attempts.get(scheduled), 1);
        // Its own backoff: the first retry an hour away, not the consumer's 20 ms.
        const { rows } = await db.pool.query(
          `SELECT next_retry_at > now() + interval '30 minutes' AS far, retry::text FROM "${schema}".failed WHERE id = $1`,
          [String(later)],
        );
        assert.equal(rows[0]?.far, true);
        assert.deepEqual(JSON.parse(rows[0]?.retry), { backoff: { base: 3_600_000 } });
        const delivered = seen.deliveries.find((job) => job.id === once);
        assert.deepEqual(delivered?.retry, { maxAttempts: 1 });
        assert.equal(seen.deliveries.find((job) => job.id === topicOnly)?.retry, null);
        // Requeued, a dead letter keeps its policy.
        const { rows: dead } = await db.pool.query(`SELECT retry::text FROM "${schema}".dead_letter WHERE id = $1`, [
          String(scheduled),
        ]);
        assert.deepEqual(JSON.parse(dead[0]?.retry), { maxAttempts: 1 });
      } finally {
        await consumer.stop();
        if (mode === "replication") await dropSlots(db.pool, schema, "default");
      }
    });
  });
}

describe("a job's own retry policy at enqueue", () => {
  it("refuses values the consumer could not use, naming the option, and writes nothing", async () => {
    const { schema, client } = await db.freshSchema("job_retry_refused");
    const cases: [object, string][] = [
      [{ maxAttempts: 0 }, "maxAttempts"],
      [{ maxAttempts: 1.5 }, "maxAttempts"],
      [{ backoff: "fast" }, "backoff"],
      [{ backoff: { factor: 0 } }, "backoff.factor"],
      [{ backoff: { jitter: 2 } }, "backoff.jitter"],
      [{ backoff: { base: -1 } }, "backoff.base"],
    ];
    for (const [options, option] of cases) {
      await assert.rejects(
        client.enqueue({}, options),
        (error: unknown) => error instanceof InvalidOptionError && error.option === option,
        JSON.stringify(options),
      );
    }
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM "${schema}".immediate`);
    assert.equal(rows[0].n, 0);
  });

  it("takes the policy from SQL too, and refuses one that is not an object with a whole maxAttempts", async () => {
    const { schema } = await db.freshSchema("job_retry_sql");
    const { rows } = await db.pool.query(
      `SELECT "${schema}".enqueue('{}', retry => '{"maxAttempts": 7, "backoff": {"base": 5}}') AS id`,
    );
    const stored = await db.pool.query(`SELECT retry::text FROM "${schema}".immediate WHERE id = $1`, [rows[0].id]);
    assert.deepEqual(JSON.parse(stored.rows[0].retry), { maxAttempts: 7, backoff: { base: 5 } });
    for (const retry of [
      '"7"',
      '{"maxAttempts": 0}',
      '{"maxAttempts": 2.5}',
      '{"maxAttempts": "3"}',
      '{"backoff": 1}',
    ]) {
      await assert.rejects(
        db.pool.query(`SELECT "${schema}".enqueue('{}', retry => $1)`, [retry]),
        (error: Error & { code?: string }) =>
          error.code === "22023" && /retry must be a JSON object/.test(error.message),
        retry,
      );
    }
  });
});
