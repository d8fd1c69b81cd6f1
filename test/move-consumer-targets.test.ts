// Moving a consumer to a time or to a job (moveConsumer, `poutbox consumer move --to`): in both
// modes, the jobs from there on are delivered again and the earlier ones are not.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseMoveTarget } from "../src/cli/common/arguments.js";
import { Consumer, type ConsumerMode, InvalidOptionError, moveConsumer } from "../src/index.js";
import { needs } from "./support/needs.js";
import { recorder } from "./support/recorder.js";
import { dropSlots } from "./support/replication.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const db = useTestDatabase();
const modes: ConsumerMode[] = ["polling", "replication"];

/** Runs a consumer of `schema` until it has delivered `ids`, and returns what it delivered. */
async function deliver(schema: string, mode: ConsumerMode, ids: readonly bigint[]): Promise<bigint[]> {
  const record = recorder();
  const consumer = new Consumer(db.pool, record.handler, {
    schema,
    mode,
    name: "mover",
    pollInterval: 5,
    promoteInterval: 20,
    reconnectDelay: 20,
    maintenance: false,
  });
  await consumer.start();
  try {
    await waitFor(() => ids.every((id) => record.counts().has(id)), { what: `jobs ${ids.join(", ")}` });
  } finally {
    await consumer.stop();
  }
  return record.ids();
}

for (const mode of modes) {
  describe(
    `moveConsumer to a time or a job (${mode})`,
    mode === "replication" ? needs("logical-replication") : {},
    () => {
      it("delivers again what was enqueued from that time, or from that job, and nothing before", async () => {
        const { schema, client } = await db.freshSchema(`move_${mode}`);
        const early = await client.enqueueMany(["early 1", "early 2"]);
        // created_at is the enqueuing transaction's start: a gap keeps the two groups apart.
        await new Promise((resolve) => setTimeout(resolve, 50));
        const since = new Date();
        await new Promise((resolve) => setTimeout(resolve, 50));
        const [late1, late2] = (await client.enqueueMany(["late 1"])).concat(await client.enqueueMany(["late 2"]));
        const all = [...early, late1, late2] as bigint[];
        assert.deepEqual(await deliver(schema, mode, all), all, "the first run delivers everything");
        if (mode === "replication") await dropSlots(db.pool, schema, "mover");

        const toTime = await moveConsumer(db.pool, { schema, consumer: "mover", to: since, reason: "replay" });
        assert.equal(toTime.target, since.toISOString());
        const final = (await client.enqueueMany(["after the move"]))[0] as bigint;
        assert.deepEqual(await deliver(schema, mode, [final]), [late1, late2, final], "from the time on");
        if (mode === "replication") await dropSlots(db.pool, schema, "mover");

        const toJob = await moveConsumer(db.pool, { schema, consumer: "mover", to: late2 as bigint });
        assert.equal(toJob.target, `job ${late2}`);
        assert.deepEqual(await deliver(schema, mode, [final]), [late2, final], "from the job on");
        if (mode === "replication") await dropSlots(db.pool, schema, "mover");

        const { rows } = await db.pool.query(`SELECT target FROM ${schema}.consumer_moves ORDER BY id`);
        assert.deepEqual(
          rows.map((row) => row.target),
          [since.toISOString(), `job ${late2}`],
          "each move recorded with its target",
        );
      });
    },
  );
}

describe("moveConsumer targets", () => {
  it("refuses a job that is not in immediate, an invalid Date and a target of another type", async () => {
    const { schema } = await db.freshSchema("move_bad");
    await assert.rejects(
      moveConsumer(db.pool, { schema, consumer: "mover", to: 424242n }),
      (error: unknown) =>
        error instanceof InvalidOptionError &&
        error.option === "to" &&
        /job 424242 is not in immediate/.test(error.message),
    );
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM ${schema}.consumers`);
    assert.equal(rows[0].n, 0, "nothing changed");
    for (const to of [new Date(Number.NaN), 0n, "later", 12]) {
      await assert.rejects(
        moveConsumer(db.pool, { schema, consumer: "mover", to: to as never }),
        (error: unknown) => error instanceof InvalidOptionError && error.option === "to",
      );
    }
  });

  it("on the command line: oldest, now, a job id or a time in ISO 8601, UTC when it has no zone", () => {
    assert.equal(parseMoveTarget("oldest"), "oldest");
    assert.equal(parseMoveTarget("now"), "now");
    assert.equal(parseMoveTarget("123"), 123n);
    assert.deepEqual(parseMoveTarget("2026-12-05T10:00:00Z"), new Date("2026-12-05T10:00:00Z"));
    assert.deepEqual(parseMoveTarget("2026-12-05T10:00:00+02:00"), new Date("2026-12-05T08:00:00Z"));
    assert.deepEqual(parseMoveTarget("2026-12-05 10:00"), new Date("2026-12-05T10:00:00Z"));
    assert.deepEqual(parseMoveTarget("2026-12-05"), new Date("2026-12-05T00:00:00Z"));
    for (const bad of ["yesterday", "2026-13-45T99:00:00Z", "0", "12:00"]) {
      assert.throws(() => parseMoveTarget(bad), /expected oldest, now, a job id or a time|job ids/, bad);
    }
  });
});
