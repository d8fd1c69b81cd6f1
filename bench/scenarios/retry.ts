import { Client } from "../../src/index.js";
import { runChild } from "../child-process.js";
import type { Scenario } from "../context.js";
import { dropSchema, fillInTransactions, freshSchema, sleep } from "../database.js";
import { drainRow, rate } from "../report.js";
import { settledRounds } from "../stats.js";
import type { Drained } from "../tasks/task.js";
import { inBatches } from "./enqueue.js";

const batchSize = 1000;
// The promoter's shortest interval: what the path can carry, not how long it idles.
const promoteInterval = 10;

/** Jobs in retry_path: a quarter of n, at least 1,000. */
export function retryCount(n: number): number {
  return Math.max(1000, Math.round(n / 4));
}

/**
 * retry_path: jobs/s through the slow paths, both ending in the same handler.
 * - failed: every job's first delivery fails (backoff 0); it goes to `failed`, the promoter
 *   moves it back into `immediate`, and the consumer delivers it again. Timed until every job
 *   came back.
 * - scheduled: jobs enqueued with a runAt already due wait in `scheduled` until the promoter
 *   moves them. Timed from the consumer's start until all were delivered.
 * Baseline: the same jobs drained straight from `immediate` by a consumer that fails none.
 * The failed path and the baseline run in alternating rounds until their ratios settle
 * (settledRounds).
 */
export const retryPath: Scenario = {
  steps: () => 2,
  async run(context) {
    const { pool, progress, url, options } = context;
    const n = retryCount(options.n);
    const child = { cpuProfileDir: options.cpuProfileDir };
    progress.step(`retry_path: ${n} jobs failed once, and the same jobs drained straight`);
    const schema = await freshSchema(pool, "retry");
    await fillInTransactions(pool, schema, n, 1000);
    const drain = (name: string, failFirstAttempt: boolean) =>
      runChild<Drained>(
        { kind: "consumer-drain", url, schema, name, mode: "polling", batchSize, n, failFirstAttempt, promoteInterval },
        child,
      );
    // Each round's consumers have names of their own: each gets every job, and fails its own.
    const { best, ratios } = await settledRounds(
      {
        straight: (round) => drain(`straight_${round}`, false),
        retried: (round) => drain(`retried_${round}`, true),
      },
      (round) => round.straight.seconds / round.retried.seconds,
    );
    progress.step(`retry_path: ${n} scheduled jobs`);
    const scheduledSchema = await freshSchema(pool, "scheduled");
    const client = new Client(pool, { schema: scheduledSchema });
    const runAt = new Date(Date.now() + 1000);
    await inBatches(n, (batch) => client.enqueueMany(batch, { runAt }).then(() => {}));
    await sleep(Math.max(0, runAt.getTime() - Date.now()));
    const scheduled = await runChild<Drained>(
      {
        kind: "consumer-drain",
        url,
        schema: scheduledSchema,
        name: "scheduled",
        mode: "polling",
        batchSize,
        n,
        promoteInterval,
      },
      child,
    );
    const baseline = rate(n, best.straight.seconds);
    await dropSchema(pool, schema);
    await dropSchema(pool, scheduledSchema);
    return [
      drainRow(
        "retry_path",
        { variant: "failed, promoted, delivered again", batchSize, n, baseline, roundRatios: ratios },
        best.retried,
        0.6,
      ),
      // Promoted once, the scheduled jobs cannot be drained again: one run, against the fastest straight drain.
      drainRow("retry_path", { variant: "scheduled, promoted, delivered", batchSize, n, baseline }, scheduled, 0.8),
    ];
  },
};
