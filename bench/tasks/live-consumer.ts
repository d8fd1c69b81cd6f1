import pg from "pg";
import { Consumer } from "../../src/index.js";
import { consumerSlot } from "../../src/slots/slot-admin.js";
import type { ChildMessage, LiveConsumerTask, ParentMessage, StartTimes } from "./task.js";
import { wallClockMs } from "./task.js";

/**
 * A consumer with default settings (batch size, poll interval, flush delay, maintenance)
 * that notes when each job reached its handler. It says "ready" once it leads (and, for
 * replication, streams from its slot); the benchmark then produces jobs and says how many
 * to expect; the start times go back once all have arrived.
 */
export async function runLiveConsumer(task: LiveConsumerTask): Promise<StartTimes> {
  const pool = new pg.Pool({ connectionString: task.url, max: 4 });
  const times: StartTimes = [];
  let expected = Number.POSITIVE_INFINITY;
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const consumer = new Consumer(
    pool,
    async (jobs) => {
      const now = wallClockMs();
      for (const job of jobs) times.push([String(job.id), now]);
      if (times.length >= expected) done();
    },
    {
      schema: task.schema,
      name: task.name,
      mode: task.mode,
      ...(task.listen ? { listen: true, pollInterval: 1000 } : {}),
    },
  );
  await consumer.start();
  await waitUntilStreaming(pool, task, consumer);
  process.once("message", (message: ParentMessage) => {
    expected = message.count;
    if (times.length >= expected) done();
  });
  process.send?.({ type: "ready" } satisfies ChildMessage);
  await finished;
  await consumer.stop();
  await pool.end();
  return times;
}

async function waitUntilStreaming(pool: pg.Pool, task: LiveConsumerTask, consumer: Consumer): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (consumer.failure) throw consumer.failure;
    if (consumer.isLeader) {
      if (task.mode === "polling") return;
      const { rows } = await pool.query("SELECT active FROM pg_replication_slots WHERE slot_name = $1", [
        await consumerSlot(pool, task.schema, task.name),
      ]);
      if (rows[0]?.active === true) return;
    }
    if (Date.now() > deadline) throw new Error(`${task.mode} consumer did not start within 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
