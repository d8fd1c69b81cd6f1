// `npm run test:faults`: the fault-injection suite. Every scenario runs real consumer
// processes against the suite's own embedded PostgreSQL, injects its fault, drains, and
// judges from the enqueue log and the consumers' records: lost and unexpected must be 0,
// duplicates within the documented bound.
//
//   npm run test:faults -- [--pg 14|15|16|17|18] [--json] [--only NAME[,NAME]] [--mode polling|replication]
//                          [--skip-relays]
//
// --skip-relays leaves out the relay-* scenarios: their faults hit a broker or the relay, not
// the server, so running them on one server version is enough (CI runs them on 17 alone).
//
// Prints a table (or, with --json, one JSON object per scenario and mode); exits 1 when any
// scenario failed.
import { parseArgs } from "node:util";
import pg from "pg";
import { parseEmbeddedVersion, startEmbeddedCluster } from "../support/embedded-cluster.js";
import { installTestDeps } from "../support/test-deps.js";
import { waitFor } from "../support/wait-for.js";
import { removeBrokers } from "./brokers.js";
import type { Figures } from "./ledger.js";
import { Run, type Scenario, type Suite } from "./run.js";
import { scenarios } from "./scenarios/index.js";
import { relayFaults } from "./scenarios/relays.js";

const { values } = parseArgs({
  options: {
    pg: { type: "string" },
    json: { type: "boolean", default: false },
    only: { type: "string" },
    mode: { type: "string" },
    "skip-relays": { type: "boolean", default: false },
  },
});
const version = (() => {
  try {
    return parseEmbeddedVersion(values.pg, "--pg");
  } catch (error) {
    console.error((error as Error).message);
    process.exit(2);
  }
})();
const only = values.only?.split(",");
const unknown = only?.filter((name) => !scenarios.some((each) => each.name === name)) ?? [];
if (unknown.length > 0) {
  console.error(`unknown scenario(s): ${unknown.join(", ")}; known: ${scenarios.map((each) => each.name).join(", ")}`);
  process.exit(2);
}

const log = (text: string) => process.stderr.write(`${text}\n`);
// The embedded versions other than 17 are test libraries (test/package.json), installed here once.
if (version !== 17) installTestDeps(log);
const cluster = await startEmbeddedCluster({
  version,
  settings: { max_replication_slots: "20", max_wal_senders: "30" },
});
const admin = new pg.Client({ connectionString: cluster.url });
await admin.connect();
await admin.query("CREATE DATABASE faults");
await admin.end();
const url = cluster.url.replace(/\/postgres$/, "/faults");
const pool = new pg.Pool({ connectionString: url, max: 6 });
pool.on("error", () => {});
const suite: Suite = {
  cluster,
  url,
  pool,
  async reconnectAfter(action) {
    await action();
    await waitFor(
      () =>
        pool.query("SELECT 1").then(
          () => true,
          () => false,
        ),
      { timeout: 30_000, interval: 50, what: "the server to accept queries again" },
    );
  },
};

log(`poutbox fault suite on embedded PostgreSQL ${version}, node ${process.version}`);
const results: Figures[] = [];
const started = Date.now();
const chosen = scenarios.filter(
  (each) => (!only || only.includes(each.name)) && !(values["skip-relays"] && relayFaults.includes(each)),
);
for (const scenario of chosen) {
  for (const mode of scenario.modes.filter((each) => !values.mode || each === values.mode)) {
    const figures = await runOne(scenario, mode);
    results.push(figures);
    if (values.json) console.log(JSON.stringify(figures));
    log(`${figures.passed ? "ok  " : "FAIL"} ${scenario.name} (${mode}) ${describe(figures)}`);
  }
}
await pool.end();
await cluster.stop();
await removeBrokers();

if (!values.json) printTable(results);
const failed = results.filter((each) => !each.passed);
log(`${results.length - failed.length} of ${results.length} passed in ${Math.round((Date.now() - started) / 1000)} s`);
process.exit(failed.length > 0 ? 1 : 0);

async function runOne(scenario: Scenario, mode: "polling" | "replication"): Promise<Figures> {
  const run = new Run(suite, scenario.name, mode);
  try {
    await run.setup();
    const outcome = await scenario.run(run);
    return await run.finish(outcome.bound, outcome.notes ?? "", outcome.failed, outcome.check);
  } catch (error) {
    await run.stopAll().catch(() => {});
    const describeChildren = [...run.consumers, ...run.processes].map((each) => each.describe()).join(" || ");
    await run.cleanup().catch(() => {});
    return {
      scenario: scenario.name,
      mode,
      committed: run.ledger.committed().size,
      lost: -1,
      duplicates: -1,
      duplicate_bound: 0,
      unexpected: -1,
      recovery_ms: null,
      dead_lettered: 0,
      notes: `scenario error: ${(error as Error).message} ${describeChildren.slice(0, 1500)}`,
      passed: false,
    };
  }
}

function describe(figures: Figures): string {
  return `committed ${figures.committed}, lost ${figures.lost}, duplicates ${figures.duplicates}/${figures.duplicate_bound}, unexpected ${figures.unexpected}, recovery ${figures.recovery_ms ?? "-"} ms; ${figures.notes}`;
}

function printTable(rows: Figures[]): void {
  const header = ["scenario", "mode", "committed", "lost", "dup", "bound", "unexpected", "recovery ms", "ok"];
  const lines = rows.map((row) => [
    row.scenario,
    row.mode,
    String(row.committed),
    String(row.lost),
    String(row.duplicates),
    String(row.duplicate_bound),
    String(row.unexpected),
    row.recovery_ms === null ? "-" : String(row.recovery_ms),
    row.passed ? "yes" : "NO",
  ]);
  const widths = header.map((title, i) => Math.max(title.length, ...lines.map((line) => (line[i] ?? "").length)));
  const format = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  ");
  console.log(format(header));
  console.log(widths.map((width) => "-".repeat(width)).join("  "));
  for (const line of lines) console.log(format(line));
}
