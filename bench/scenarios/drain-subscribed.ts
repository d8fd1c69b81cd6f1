import { runChild } from "../child-process.js";
import type { Scenario } from "../context.js";
import { dropSchema, fillInTransactions, freshSchema } from "../database.js";
import { drainRow, rate } from "../report.js";
import { fastestOf } from "../stats.js";
import type { Drained } from "../tasks/task.js";

const topics = 10;
const batchSize = 1000;

/**
 * drain_subscribed: n jobs over 10 topics in turn, committed in transactions of 1,000, and a
 * polling consumer subscribed to one of them drains its tenth; against keyset pagination over
 * the same rows (those of the topic, read by the same index and filtered). Reference: a full
 * drain of as many jobs (n / 10, no topics) against keyset pagination over them, so that both
 * carry the same fixed costs (a cold process, connections, the first page). The subscribed
 * ratio should be no worse: a subscription costs what reading past the other topics costs a
 * plain reader, nothing more. Batch 1,000; each measurement runs twice, alternating.
 */
export const drainSubscribed: Scenario = {
  steps: () => 2,
  async run(context) {
    const { pool, progress, url, options } = context;
    const { n } = options;
    // Jobs 1..n get topic t<i mod 10>: t3 has the ones with i mod 10 = 3 (n >= 1,000 here).
    const share = Math.floor((n - 3) / topics) + 1;
    progress.step(`drain_subscribed: filling ${n} jobs over ${topics} topics, and ${share} without`);
    const mixed = await freshSchema(pool, "drain_subscribed");
    await fillInTransactions(pool, mixed, n, 1000, topics);
    const plain = await freshSchema(pool, "drain_share");
    await fillInTransactions(pool, plain, share, 1000);
    for (const schema of [mixed, plain]) await pool.query(`VACUUM ANALYZE "${schema}".immediate`);
    const child = { cpuProfileDir: options.cpuProfileDir };
    progress.step(`drain_subscribed: ${share} jobs of one topic in ${n}, and ${share} alone`);
    const drain = (schema: string, name: string, subscribe?: string[]) =>
      runChild<Drained>(
        { kind: "consumer-drain", url, schema, name, mode: "polling", batchSize, n: share, subscribe },
        child,
      );
    const best = await fastestOf({
      one: (round) => drain(mixed, `one_${round}`, ["t3"]),
      oneKeyset: () =>
        runChild<Drained>({ kind: "keyset-drain", url, schema: mixed, batchSize, n: share, topic: "t3" }, child),
      all: (round) => drain(plain, `all_${round}`),
      allKeyset: () => runChild<Drained>({ kind: "keyset-drain", url, schema: plain, batchSize, n: share }, child),
    });
    await dropSchema(pool, mixed);
    await dropSchema(pool, plain);
    const all = drainRow(
      "drain_subscribed",
      { variant: `all ${share} jobs, no topics`, batchSize, n: share, baseline: rate(share, best.allKeyset.seconds) },
      best.all,
    );
    const one = drainRow(
      "drain_subscribed",
      {
        variant: `1 of ${topics} topics subscribed, in ${n}`,
        batchSize,
        n: share,
        baseline: rate(share, best.oneKeyset.seconds),
      },
      best.one,
    );
    const reference = all.ratio ?? 0;
    return [
      all,
      { ...one, target: `>= ${reference.toFixed(2)} (the full drain's)`, met: (one.ratio ?? 0) >= reference },
    ];
  },
};
