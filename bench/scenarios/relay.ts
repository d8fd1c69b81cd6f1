import { runChild } from "../child-process.js";
import type { Scenario } from "../context.js";
import { dropSchema, fillInTransactions, freshSchema } from "../database.js";
import { type BrokerName, brokerNames, brokerReachable } from "../relays/brokers.js";
import { drainRow, type Row, rate } from "../report.js";
import { fastestOf } from "../stats.js";
import type { Drained } from "../tasks/task.js";

const batchSize = 1000;
/**
 * Brokers take a few thousand to a few tens of thousands of confirmed messages a second: fewer
 * jobs suffice. Redis takes the most, so it gets more, or its drain would last half a second and
 * measure mostly the start.
 */
const most: Record<BrokerName, number> = { nats: 20_000, rabbitmq: 20_000, redis: 100_000, mqtt: 20_000 };

/**
 * relay: a relay drains n jobs into each broker (NATS JetStream, RabbitMQ with persistent
 * messages on a durable queue and publisher confirms, Redis Streams through the dedup script,
 * MQTT at QoS 1 on MQTT 5),
 * against a raw publisher sending messages of the same shape to the same broker with the same
 * settings, 1,000 outstanding at a time: target 0.7. A broker that takes no connection here
 * is left out, with a row that says so.
 */
export const relay: Scenario = {
  steps: () => brokerNames.length,
  async run(context) {
    const { pool, progress, url, options } = context;
    // Each relay times its first n jobs of one fill, as many as the most any broker takes.
    const schema = await freshSchema(pool, "relay");
    await fillInTransactions(pool, schema, Math.min(options.n, Math.max(...Object.values(most))), 1000, 1);
    const rows: Row[] = [];
    const child = { cpuProfileDir: options.cpuProfileDir };
    for (const broker of brokerNames) {
      const n = Math.min(options.n, most[broker]);
      progress.step(`relay: ${n} jobs into ${broker}, against a raw publisher`);
      if (!(await brokerReachable(broker))) {
        rows.push({
          scenario: "relay",
          subject: "poutbox",
          variant: `${broker}: not reachable, skipped`,
          n: 0,
          seconds: 0,
          jobs_per_s: 0,
          baseline_jobs_per_s: null,
          ratio: null,
        });
        continue;
      }
      const destination = `poutbox_bench_${broker}_${process.pid}`;
      const best = await fastestOf({
        relay: (round) =>
          runChild<Drained>(
            { kind: "relay-drain", broker, destination, url, schema, name: `relay_${broker}_${round}`, batchSize, n },
            child,
          ),
        raw: () => runChild<Drained>({ kind: "raw-publish", broker, destination, batchSize, n }, child),
      });
      rows.push(
        drainRow("relay", { variant: broker, batchSize, n, baseline: rate(n, best.raw.seconds) }, best.relay, 0.7),
      );
    }
    await dropSchema(pool, schema);
    return rows;
  },
};
