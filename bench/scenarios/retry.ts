import { runChild } from "../child-process.js";
import type { Scenario } from "../context.js";
import { dropSchema, fillInTransactions, fillScheduled, freshSchema } from "../database.js";
import { drainRow, rate } from "../report.js";
import { settledRounds } from "../stats.js";
import type { Drained } from "../tasks/task.js";

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
 * - scheduled: jobs already due wait in `scheduled` until the promoter moves them. Timed from
 *   the consumer's start until all were delivered; each round fills a schema of its own.
 * Baseline: the same jobs drained straight from `immediate` by a consumer that fails none.
 * Each path runs in rounds alternating with its baseline until their ratios settle
 * (settledRounds).
 */
export const retryPath: Scenario = {
  steps: () => 2,
  async run(context) {
    const { pool, progress, url, options } = context;
    const n = retryCount(options.n);
    const child = { cpuProfileDir: options.cpuProfileDir };
    progress.step(`retry_path: ${n} jobs failed once, and the same jobs drained straight`);
    // Every run drains a schema of its own: the retries a failing run moves back into
    // immediate would otherwise be read past by every later run, slowing the baseline's.
    const inFreshSchema = async (
      fill: (schema: string) => Promise<void>,
      name: string,
      failFirstAttempt: boolean,
    ): Promise<Drained> => {
      const schema = await freshSchema(pool, "retry");
      await fill(schema);
      const drained = await runChild<Drained>(
        { kind: "consumer-drain", url, schema, name, mode: "polling", batchSize, n, failFirstAttempt, promoteInterval },
        child,
      );
      await dropSchema(pool, schema);
      return drained;
    };
    const immediate = (schema: string) => fillInTransactions(pool, schema, n, 1000);
    const straight = (round: number) => inFreshSchema(immediate, `straight_${round}`, false);
    const failed = await settledRounds(
      { straight, retried: (round) => inFreshSchema(immediate, `retried_${round}`, true) },
      (round) => round.straight.seconds / round.retried.seconds,
    );
    progress.step(`retry_path: ${n} scheduled jobs, and the same number drained straight`);
    // Promoted once, scheduled jobs cannot be drained again: each run fills its own, too.
    const scheduled = await settledRounds(
      {
        straight,
        scheduled: (round) => inFreshSchema((schema) => fillScheduled(pool, schema, n), `scheduled_${round}`, false),
      },
      (round) => round.straight.seconds / round.scheduled.seconds,
    );
    return [
      drainRow(
        "retry_path",
        {
          variant: "failed, promoted, delivered again",
          batchSize,
          n,
          baseline: rate(n, failed.best.straight.seconds),
          roundRatios: failed.ratios,
        },
        failed.best.retried,
        0.6,
      ),
      drainRow(
        "retry_path",
        {
          variant: "scheduled, promoted, delivered",
          batchSize,
          n,
          baseline: rate(n, scheduled.best.straight.seconds),
          roundRatios: scheduled.ratios,
        },
        scheduled.best.scheduled,
        0.8,
      ),
    ];
  },
};
