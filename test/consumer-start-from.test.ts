// Where a consumer name starts the first time it leads (`startFrom`), in both modes: `oldest`
// gets the outbox's history, `now` only what commits after it; a name with progress resumes
// from it whatever the option says.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Consumer, type ConsumerMode, type ConsumerOptions, InvalidOptionError } from "../src/index.js";
import { needs } from "./support/needs.js";
import { quickConsumer } from "./support/quick-consumer.js";
import { recorder } from "./support/recorder.js";
import { dropSlots } from "./support/replication.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const db = useTestDatabase();
const modes: ConsumerMode[] = ["polling", "replication"];

function consumerOf(
  schema: string,
  mode: ConsumerMode,
  handler: ReturnType<typeof recorder>["handler"],
  options: ConsumerOptions,
) {
  return quickConsumer(db.pool, handler, { schema, mode, ...options });
}

for (const mode of modes) {
  describe(`startFrom (${mode})`, mode === "replication" ? needs("logical-replication") : {}, () => {
    it("`now` skips what committed before the first start, `oldest` (the default) delivers it", async () => {
      const { schema, client } = await db.freshSchema(`start_${mode}`);
      const history = await client.enqueueMany(["old 1", "old 2", "old 3"]);

      const fromNow = recorder();
      const fromOldest = recorder();
      const late = consumerOf(schema, mode, fromNow.handler, { name: "late", startFrom: "now" });
      const early = consumerOf(schema, mode, fromOldest.handler, { name: "early" });
      await late.start();
      await early.start();
      try {
        // A job after start: a consumer that reaches it has read past everything before it,
        // as jobs are delivered in commit order.
        const [fresh] = await client.enqueueMany(["new"]);
        await waitFor(() => fromNow.counts().has(fresh as bigint) && fromOldest.counts().has(fresh as bigint), {
          what: "the job enqueued after both started",
        });
        assert.deepEqual(fromNow.ids(), [fresh], "from now: only the new job");
        assert.deepEqual(fromOldest.ids(), [...history, fresh], "from the oldest: history, then the new job");
      } finally {
        await late.stop();
        await early.stop();
        if (mode === "replication") await dropSlots(db.pool, schema, "late", "early");
      }
    });

    it("a name with progress resumes from it: `now` skips nothing on a restart", async () => {
      const { schema, client } = await db.freshSchema(`resume_${mode}`);
      const record = recorder();
      const first = consumerOf(schema, mode, record.handler, { name: "resumed", startFrom: "now" });
      await first.start();
      const [before] = await client.enqueueMany(["while running"]);
      await waitFor(() => record.counts().has(before as bigint), { what: "the first job" });
      await first.stop();

      const whileDown = await client.enqueueMany(["while down 1", "while down 2"]);
      const again = consumerOf(schema, mode, record.handler, { name: "resumed", startFrom: "now" });
      await again.start();
      try {
        await waitFor(() => whileDown.every((id) => record.counts().has(id)), { what: "the jobs enqueued while down" });
        assert.deepEqual(record.ids(), [before, ...whileDown]);
      } finally {
        await again.stop();
        if (mode === "replication") await dropSlots(db.pool, schema, "resumed");
      }
    });
  });
}

describe("startFrom", () => {
  it("is refused unless `oldest` or `now`", () => {
    assert.throws(
      () => new Consumer(db.pool, async () => {}, { startFrom: "latest" as never }),
      (error: unknown) => error instanceof InvalidOptionError && error.option === "startFrom",
    );
  });
});
