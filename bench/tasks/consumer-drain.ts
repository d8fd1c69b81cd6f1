import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { Consumer, forEachJob, type Handler, type Job, type JobFailure, perJob } from "../../src/index.js";
import type { ConsumerDrainTask, Drained } from "./task.js";
import { peakRssMb } from "./task.js";

/**
 * Starts a consumer and times it from start() until its handler has seen `n` jobs (with
 * `failFirstAttempt`, until `n` jobs came back for their second delivery). Maintenance is off:
 * it is not what a drain measures.
 */
export async function drainWithConsumer(task: ConsumerDrainTask): Promise<Drained> {
  const pool = new pg.Pool({ connectionString: task.url, max: 4 });
  let seen = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const handled = () => ++seen >= task.n && done();
  const handler: Handler =
    task.ioMs !== undefined && task.perJob
      ? perJob((job) => workWithIo(task, job, handled), { concurrency: task.concurrency ?? 10 })
      : async (jobs) => {
          if (task.ioMs !== undefined) return handleWithIo(task, jobs, handled);
          if (!task.failFirstAttempt) {
            seen += jobs.length;
            if (seen >= task.n) done();
            return;
          }
          const failures: JobFailure[] = [];
          for (const job of jobs) {
            if (job.attempt === 1) failures.push({ job, error: "first delivery fails" });
            else seen++;
          }
          if (seen >= task.n) done();
          return failures;
        };
  const consumer = new Consumer(pool, handler, {
    schema: task.schema,
    name: task.name,
    mode: task.mode,
    batchSize: task.batchSize,
    maintenance: false,
    ...(task.failFirstAttempt ? { backoff: { base: 0, jitter: 0 } } : {}),
    ...(task.promoteInterval === undefined ? {} : { promoteInterval: task.promoteInterval }),
    ...(task.subscribe === undefined ? {} : { subscribe: task.subscribe }),
    ...(task.ordering === undefined ? {} : { ordering: task.ordering }),
    ...(task.maxBatchBytes === undefined ? {} : { maxBatchBytes: task.maxBatchBytes }),
    ...(task.blockedKey === undefined ? {} : { maxAttempts: 1_000_000 }),
  });
  const started = performance.now();
  await consumer.start();
  await finished;
  const seconds = (performance.now() - started) / 1000;
  await consumer.stop();
  await pool.end();
  return { seconds, peakRssMb: peakRssMb() };
}

/**
 * A handler doing `ioMs` of asynchronous work per job, `concurrency` jobs at a time, as a
 * handler calling a mail or HTTP API through forEachJob would; the jobs of `blockedKey` fail.
 */
function handleWithIo(task: ConsumerDrainTask, jobs: readonly Job[], handled: () => void): Promise<JobFailure[]> {
  return forEachJob(jobs, (job) => workWithIo(task, job, handled), { concurrency: task.concurrency ?? 10 });
}

async function workWithIo(task: ConsumerDrainTask, job: Job, handled: () => void): Promise<void> {
  await sleep(task.ioMs);
  if (job.key !== null && job.key === task.blockedKey) throw new Error("this key is blocked");
  handled();
}
