// A job whose outcome (a retry, a dead letter) cannot be written must not hold the other jobs
// back, nor be lost: its outcome is held in the consumer's row and written alone later.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { OutcomeWriteFailure } from "../src/consumer/held-outcomes.js";
import { Consumer, type ConsumerMode, type Job, listDeadLetters } from "../src/index.js";
import { needs } from "./support/needs.js";
import { recorder } from "./support/recorder.js";
import { dropSlots } from "./support/replication.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const db = useTestDatabase();
const modes: ConsumerMode[] = ["polling", "replication"];

async function refuseInserts(schema: string, table: "dead_letter" | "failed"): Promise<() => Promise<void>> {
  await db.pool.query(`
    CREATE FUNCTION ${schema}.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'inserts into % are refused for this test', TG_TABLE_NAME; END $$;
    CREATE TRIGGER refuse BEFORE INSERT ON ${schema}.${table} FOR EACH ROW EXECUTE FUNCTION ${schema}.refuse()`);
  return async () => {
    await db.pool.query(`DROP TRIGGER refuse ON ${schema}.${table}`);
  };
}

async function heldOutcomes(schema: string): Promise<{ id: string; write_error: string }[]> {
  const { rows } = await db.pool.query(`SELECT held_outcomes FROM ${schema}.consumers WHERE name = 'writes'`);
  return rows[0]?.held_outcomes ?? [];
}

for (const mode of modes) {
  describe(`outcome writes that fail (${mode})`, mode === "replication" ? needs("logical-replication") : {}, () => {
    it("commits the other jobs at once, holds the refused dead letter, and writes it once the table accepts it", async () => {
      const { schema, client } = await db.freshSchema("writes");
      const allow = await refuseInserts(schema, "dead_letter");
      const record = recorder(async (jobs) =>
        jobs.filter((job) => job.payload === "poison").map((job) => ({ job, error: new Error("always fails") })),
      );
      const failures: OutcomeWriteFailure[] = [];
      const consumer = new Consumer(db.pool, record.handler, {
        schema,
        mode,
        name: "writes",
        maxAttempts: 1,
        batchSize: 10,
        pollInterval: 5,
        reconnectDelay: 20,
        maintenance: false,
      });
      consumer.on("outcomeWriteFailed", (failure) => failures.push(failure));
      const errors: Error[] = [];
      consumer.on("error", (error) => errors.push(error));
      await consumer.start();
      try {
        await waitFor(() => consumer.isLeader, { what: "leadership" });
        const others: bigint[] = [];
        const [poison] = await client.enqueueMany(["poison", ...Array.from({ length: 5 }, (_, i) => `before ${i}`)]);
        for (let i = 0; i < 20; i++) others.push(await client.enqueue(`after ${i}`));
        await waitFor(() => others.every((id) => record.counts().has(id)), {
          what: "every other job, right after the refused write",
          timeout: 20_000,
        });
        const counts = record.counts();
        assert.equal(counts.get(poison as bigint), 1, "the poison job is not delivered again");
        assert.ok(
          [...counts.values()].every((n) => n === 1),
          "no job delivered twice",
        );
        await waitFor(() => failures.length > 0, { what: "the outcomeWriteFailed event" });
        assert.equal(failures[0]?.jobId, poison);
        assert.equal(failures[0]?.outcome, "dead-letter");
        assert.match(failures[0]?.error ?? "", /inserts into dead_letter are refused/);
        const held = await heldOutcomes(schema);
        assert.deepEqual(
          held.map((each) => each.id),
          [String(poison)],
        );
        assert.deepEqual(await listDeadLetters(db.pool, { schema }), []);
        assert.deepEqual(errors, [], "nothing failed as a whole");

        await allow();
        const dead = await waitFor(
          async () => {
            const letters = await listDeadLetters(db.pool, { schema });
            return letters.length > 0 ? letters : undefined;
          },
          { what: "the held dead letter written", timeout: 30_000 },
        );
        assert.equal(dead[0]?.id, poison);
        assert.match(dead[0]?.lastError ?? "", /always fails/);
        await waitFor(async () => (await heldOutcomes(schema)).length === 0, { what: "nothing held" });
        assert.equal(record.counts().get(poison as bigint), 1);
      } finally {
        await consumer.stop();
        if (mode === "replication") await dropSlots(db.pool, schema, "writes");
      }
    });

    it("holds a refused retry and delivers the job again once it is written", async () => {
      const { schema, client } = await db.freshSchema("writes");
      const allow = await refuseInserts(schema, "failed");
      const record = recorder(async (jobs) =>
        jobs.filter((job) => job.payload === "flaky" && job.attempt === 1).map((job) => ({ job, error: "once" })),
      );
      const consumer = new Consumer(db.pool, record.handler, {
        schema,
        mode,
        name: "writes",
        pollInterval: 5,
        promoteInterval: 20,
        backoff: { base: 20, jitter: 0 },
        maintenance: false,
      });
      await consumer.start();
      try {
        const [flaky, fine] = await client.enqueueMany(["flaky", "fine"]);
        await waitFor(() => record.counts().has(fine as bigint), { what: "the fine job" });
        await waitFor(async () => (await heldOutcomes(schema)).length === 1, { what: "the retry held" });
        await allow();
        const second = await waitFor(
          () => record.deliveries.find((job: Job) => job.id === flaky && job.attempt === 2),
          { what: "the flaky job's second attempt", timeout: 30_000 },
        );
        assert.equal(second.payload, "flaky");
        assert.equal(record.counts().get(fine as bigint), 1);
      } finally {
        await consumer.stop();
        if (mode === "replication") await dropSlots(db.pool, schema, "writes");
      }
    });

    it("stores an error text with NUL and lone surrogates, which PostgreSQL text cannot hold, and goes on", async () => {
      const { schema, client } = await db.freshSchema("writes");
      const record = recorder(async (jobs) =>
        jobs
          .filter((job) => job.payload === "odd")
          .map((job) => ({ job, error: "NUL:\u0000 high:\ud800 low:\udc00 pair:😀" })),
      );
      const consumer = new Consumer(db.pool, record.handler, {
        schema,
        mode,
        name: "writes",
        maxAttempts: 1,
        pollInterval: 5,
        maintenance: false,
      });
      await consumer.start();
      try {
        const [odd, after] = await client.enqueueMany(["odd", "after"]);
        const [dead] = await waitFor(
          async () => {
            const letters = await listDeadLetters(db.pool, { schema });
            return letters.length > 0 ? letters : undefined;
          },
          { what: "the dead letter with odd text" },
        );
        assert.equal(dead?.id, odd);
        assert.equal(dead?.lastError, "NUL:\uFFFD high:\uFFFD low:\uFFFD pair:😀");
        assert.equal(record.counts().get(after as bigint), 1);
        assert.equal(record.counts().get(odd as bigint), 1);
        assert.deepEqual(await heldOutcomes(schema), []);
      } finally {
        await consumer.stop();
        if (mode === "replication") await dropSlots(db.pool, schema, "writes");
      }
    });
  });
}
