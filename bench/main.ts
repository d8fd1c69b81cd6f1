// `npm run bench`: every figure of issue 7 in one run, each against a baseline measured in
// the same run on the same server. See docs/benchmarks.md.
import pg from "pg";
import { startEmbeddedCluster } from "../test/support/embedded-cluster.js";
import type { BenchContext, Scenario } from "./context.js";
import { parseBenchOptions, type ScenarioName } from "./options.js";
import { installPeers, loadPeer } from "./peers/load-peers.js";
import { type Peer, peerNames } from "./peers/peer.js";
import { Progress } from "./progress.js";
import { type Row, toJsonLines, toTable, withPeerRatios } from "./report.js";
import { batchMemory } from "./scenarios/batch-memory.js";
import { drainOrdered } from "./scenarios/drain-ordered.js";
import { drainPolling } from "./scenarios/drain-polling.js";
import { drainReplication } from "./scenarios/drain-replication.js";
import { drainSubscribed } from "./scenarios/drain-subscribed.js";
import { enqueueBulk, enqueueSingle } from "./scenarios/enqueue.js";
import { growthPolling } from "./scenarios/growth.js";
import { latencyPolling, latencyReplication } from "./scenarios/latency.js";
import { relay } from "./scenarios/relay.js";
import { retryPath } from "./scenarios/retry.js";
import { telemetry } from "./scenarios/telemetry.js";

const scenarios: Record<ScenarioName, Scenario> = {
  enqueue_single: enqueueSingle,
  enqueue_bulk: enqueueBulk,
  drain_polling: drainPolling,
  drain_subscribed: drainSubscribed,
  drain_ordered: drainOrdered,
  drain_replication: drainReplication,
  latency_polling: latencyPolling,
  latency_replication: latencyReplication,
  growth_polling: growthPolling,
  retry_path: retryPath,
  batch_memory: batchMemory,
  relay,
  telemetry,
};

// Peers are measured in these scenarios only.
const withPeers = new Set<ScenarioName>(["enqueue_single", "enqueue_bulk", "drain_polling"]);

const options = parseBenchOptions(process.argv.slice(2));
const log = (line: string) => process.stderr.write(`${line}\n`);
const measurePeers = options.peers && options.scenarios.some((name) => withPeers.has(name));
if (measurePeers) installPeers(log);

// Empty counts as unset.
const givenUrl = process.env.DATABASE_URL || undefined;
const cluster = givenUrl ? undefined : await startEmbeddedCluster();
const url = givenUrl ?? (cluster?.url as string);
const pool = new pg.Pool({ connectionString: url, max: 12 });
// A child's walsender or a stopped peer may drop a connection of ours; the query fails anyway.
pool.on("error", () => {});
const peers: Peer[] = [];
let progress: Progress | undefined;
let failed = false;
const rows: Row[] = [];
try {
  const { rows: server } = await pool.query("SELECT current_setting('server_version') AS version");
  log(
    `poutbox bench: n = ${options.n}, PostgreSQL ${server[0].version}${cluster ? " (embedded)" : ""}, node ${process.version}`,
  );
  if (measurePeers) for (const name of peerNames) peers.push(await loadPeer(name, url));
  const steps = options.scenarios.reduce(
    (sum, name) => sum + scenarios[name].steps({ options, peers: withPeers.has(name) ? peers : [] }),
    0,
  );
  progress = new Progress(steps);
  for (const name of options.scenarios) {
    const context: BenchContext = { url, pool, options, progress, peers: withPeers.has(name) ? peers : [] };
    rows.push(...(await scenarios[name].run(context)));
  }
} catch (error) {
  failed = true;
  progress?.stop();
  console.error(error);
} finally {
  if (!failed) progress?.stop();
  for (const peer of peers) await peer.close().catch((error: Error) => log(`closing ${peer.name}: ${error.message}`));
  await pool.end();
  await cluster?.stop();
}
const report = withPeerRatios(rows);
if (options.json) {
  if (report.length > 0) console.log(toJsonLines(report));
  log(toTable(report));
} else {
  console.log(toTable(report));
}
process.exit(failed ? 1 : 0);
