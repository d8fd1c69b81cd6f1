import { runChild } from "../child-process.js";
import type { Scenario } from "../context.js";
import { dropSchema, fillInTransactions, freshSchema } from "../database.js";
import { drainRow, rate } from "../report.js";
import { fastestOf } from "../stats.js";
import type { Drained } from "../tasks/task.js";

const keys = 1000;
const ioMs = 1;
const concurrency = 64;
const batchSizes = [1000, 5000] as const;
/** A drain of handlers doing 1 ms of I/O per job takes about a second per 40,000 jobs: fewer suffice. */
const most = 50_000;

/**
 * drain_ordered: jobs over 1,000 ordering keys (drawn by a hash of their number), committed in
 * transactions of 1,000, and a polling consumer whose handler spends 1 ms of asynchronous I/O
 * per job, 64 jobs at a time (forEachJob). With `ordering: "key"` against the same consumer
 * without ordering (the baseline), at batches of 1,000 and 5,000: target 0.8. A handler call
 * holds one job per key, so a batch's keys that repeat take further calls, each ending in a
 * partly idle wave of the 64: the larger the batch against the number of keys, the fewer.
 * And at batch 5,000 with one key blocked (each of its jobs fails, for ever, its later jobs
 * waiting behind its head), against the ordered drain without: the other keys should not
 * notice (target 0.9: two runs of one drain differ by up to 5% here). And the same two drains
 * with a handler made by perJob (a job at a time, 64 at once), ordered against unordered: a
 * key's next job starts as soon as its previous one succeeded, with no call to wait for (target
 * 0.8). Each measurement runs twice, alternating; the fastest counts.
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
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".immediate WHERE key = 'k7'`);
    const blockedShare = rows[0].n as number;
    const child = { cpuProfileDir: options.cpuProfileDir };
    const drain = (
      name: string,
      batchSize: number,
      extra: { ordering?: "key"; blockedKey?: string; perJob?: boolean },
      count = n,
    ) =>
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
    const [small, large] = batchSizes;
    const best = await fastestOf({
      unorderedSmall: (round) => drain(`unordered_small_${round}`, small, {}),
      orderedSmall: (round) => drain(`ordered_small_${round}`, small, { ordering: "key" }),
      unordered: (round) => drain(`unordered_${round}`, large, {}),
      ordered: (round) => drain(`ordered_${round}`, large, { ordering: "key" }),
      blocked: (round) => drain(`blocked_${round}`, large, { ordering: "key", blockedKey: "k7" }, n - blockedShare),
      unorderedEachSmall: (round) => drain(`unordered_each_small_${round}`, small, { perJob: true }),
      orderedEachSmall: (round) => drain(`ordered_each_small_${round}`, small, { ordering: "key", perJob: true }),
      unorderedEach: (round) => drain(`unordered_each_${round}`, large, { perJob: true }),
      orderedEach: (round) => drain(`ordered_each_${round}`, large, { ordering: "key", perJob: true }),
    });
    await dropSchema(pool, schema);
    const variant = `ordering: key, ${keys} keys, 1 ms I/O per job x ${concurrency}`;
    const eachVariant = `ordering: key, ${keys} keys, perJob handler, 1 ms I/O per job x ${concurrency}`;
    return [
      drainRow(
        "drain_ordered",
        { batchSize: small, n, variant, baseline: rate(n, best.unorderedSmall.seconds) },
        best.orderedSmall,
        0.8,
      ),
      drainRow(
        "drain_ordered",
        { batchSize: large, n, variant, baseline: rate(n, best.unordered.seconds) },
        best.ordered,
        0.8,
      ),
      drainRow(
        "drain_ordered",
        {
          batchSize: large,
          n: n - blockedShare,
          variant: `1 key blocked (${blockedShare} jobs behind it), the other keys' jobs`,
          // Jobs per second of the ordered drain with no key blocked.
          baseline: rate(n, best.ordered.seconds),
        },
        best.blocked,
        0.9,
      ),
      drainRow(
        "drain_ordered",
        { batchSize: small, n, variant: eachVariant, baseline: rate(n, best.unorderedEachSmall.seconds) },
        best.orderedEachSmall,
        0.8,
      ),
      drainRow(
        "drain_ordered",
        { batchSize: large, n, variant: eachVariant, baseline: rate(n, best.unorderedEach.seconds) },
        best.orderedEach,
        0.8,
      ),
    ];
  },
};
