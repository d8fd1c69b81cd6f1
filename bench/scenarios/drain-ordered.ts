import { runChild } from "../child-process.js";
import type { Scenario } from "../context.js";
import { dropSchema, fillInTransactions, freshSchema } from "../database.js";
import { drainRow, rate } from "../report.js";
import { fastestOf } from "../stats.js";
import type { Drained } from "../tasks/task.js";

const keys = 1000;
const ioMs = 1;
const concurrency = 64;
const batchSize = 1000;
/** A drain of handlers doing 1 ms of I/O per job takes seconds per 10,000 jobs: fewer suffice. */
const most = 20_000;

/**
 * drain_ordered: jobs over 1,000 ordering keys in turn, committed in transactions of 1,000, and
 * a polling consumer whose handler spends 1 ms of asynchronous I/O per job, 64 jobs at a time
 * (forEachJob). With `ordering: "key"` against the same consumer without ordering (the
 * baseline): target 0.8. And with one key blocked (each of its jobs fails, for ever, its later
 * jobs waiting behind its head), against the ordered drain without: the other keys should not
 * notice (target 0.95, the noise between two runs of the same drain). Each measurement runs
 * twice, alternating; the fastest counts.
 */
export const drainOrdered: Scenario = {
  steps: () => 2,
  async run(context) {
    const { pool, progress, url, options } = context;
    const n = Math.min(options.n, most);
    progress.step(`drain_ordered: filling ${n} jobs over ${keys} keys`);
    const schema = await freshSchema(pool, "drain_ordered");
    await fillInTransactions(pool, schema, n, 1000, 0, keys);
    await pool.query(`VACUUM ANALYZE "${schema}".immediate`);
    // Jobs 1..n get key k<i mod 1000>: k7 has those with i mod 1000 = 7.
    const blockedShare = Math.floor((n - 7) / keys) + 1;
    const child = { cpuProfileDir: options.cpuProfileDir };
    const drain = (name: string, extra: { ordering?: "key"; blockedKey?: string }, count = n) =>
      runChild<Drained>(
        {
          kind: "consumer-drain",
          url,
          schema,
          name,
          mode: "polling",
          batchSize,
          n: count,
          ioMs,
          concurrency,
          ...extra,
        },
        child,
      );
    progress.step(`drain_ordered: ${n} jobs, ordered by key and not, and with a key blocked`);
    const best = await fastestOf({
      unordered: (round) => drain(`unordered_${round}`, {}),
      ordered: (round) => drain(`ordered_${round}`, { ordering: "key" }),
      blocked: (round) => drain(`blocked_${round}`, { ordering: "key", blockedKey: "k7" }, n - blockedShare),
    });
    await dropSchema(pool, schema);
    const unorderedRate = rate(n, best.unordered.seconds);
    const orderedRate = rate(n, best.ordered.seconds);
    const common = { batchSize, n };
    return [
      drainRow(
        "drain_ordered",
        {
          ...common,
          variant: `ordering: key, ${keys} keys, 1 ms I/O per job x ${concurrency}`,
          baseline: unorderedRate,
        },
        best.ordered,
        0.8,
      ),
      drainRow(
        "drain_ordered",
        {
          ...common,
          n: n - blockedShare,
          variant: `1 key blocked (${blockedShare} jobs behind it), the other keys' jobs`,
          // Jobs per second of the ordered drain with no key blocked.
          baseline: orderedRate,
        },
        best.blocked,
        0.95,
      ),
    ];
  },
};
