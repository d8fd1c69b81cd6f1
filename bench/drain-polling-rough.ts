// A rough drain figure until the full benchmark exists: N pre-filled jobs, no-op handler,
// polling consumer, jobs/s. `npx tsx bench/drain-polling-rough.ts [N] [batchSize]`.
import pg from "pg";
import { startEmbeddedCluster } from "../dev/embedded-cluster.js";
import { Consumer, migrate } from "../src/index.js";

const n = Number(process.argv[2] ?? 100_000);
const batchSize = Number(process.argv[3] ?? 1000);
const cluster = process.env.DATABASE_URL ? undefined : await startEmbeddedCluster();
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL ?? cluster?.url });
try {
  const schema = `drain_${Date.now()}`;
  await migrate(pool, { schema });
  await pool.query(
    `INSERT INTO ${schema}.immediate (payload) SELECT json_build_object('i', i) FROM generate_series(1, $1) i`,
    [n],
  );
  await pool.query(`ANALYZE ${schema}.immediate`);
  let seen = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const consumer = new Consumer(
    pool,
    async (jobs) => {
      seen += jobs.length;
      if (seen >= n) done();
    },
    { schema, batchSize },
  );
  const started = performance.now();
  await consumer.start();
  await finished;
  const seconds = (performance.now() - started) / 1000;
  await consumer.stop();
  console.log(
    JSON.stringify({
      scenario: "drain_polling_rough",
      n,
      batchSize,
      seconds: +seconds.toFixed(3),
      jobs_per_s: Math.round(n / seconds),
    }),
  );
} finally {
  await pool.end();
  await cluster?.stop();
}
