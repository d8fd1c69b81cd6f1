// The demo (`npm start`) run as a child process for a fixed count, in both modes: checked by
// its own --json summary and, independently, by reading the file it wrote and the orders table.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, describe, it } from "node:test";
import { consumerSlot } from "../src/slots/slot-admin.js";
import { type ChildOutput, outputOf } from "./support/child-output.js";
import { needs } from "./support/needs.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const db = useTestDatabase();
const demo = resolve("demo/main.ts");
const folder = mkdtempSync(join(tmpdir(), "poutbox-demo-test-"));
after(() => rmSync(folder, { recursive: true, force: true }));

/** Starts the demo in `folder`, as `npm start -- ...args` would. */
function startDemo(args: readonly string[], databaseUrl: string | undefined) {
  const env: Record<string, string | undefined> = { ...process.env, DATABASE_URL: databaseUrl, NO_COLOR: "1" };
  if (databaseUrl === undefined) delete env.DATABASE_URL;
  return spawn(process.execPath, ["--import", import.meta.resolve("tsx"), demo, ...args], {
    cwd: folder,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** Runs the demo to its end; `started` gets the process as soon as it is spawned. */
async function runDemo(
  args: readonly string[],
  databaseUrl: string | undefined,
  started?: (child: ReturnType<typeof startDemo>) => void,
): Promise<ChildOutput> {
  const child = startDemo(args, databaseUrl);
  const output = outputOf(child);
  started?.(child);
  return output;
}

interface Line {
  job: string;
  run: string;
  order: string;
  attempt: number;
  topic: string;
}

/** The summary on the last line of stdout, checked against the file the demo wrote. */
function checkRun(run: ChildOutput, mode: string, file: string, jobs: number | undefined) {
  assert.equal(run.code, 0, `exit status; stderr:\n${run.stderr}`);
  const lastLine = run.stdout.trimEnd().split("\n").at(-1) ?? "";
  const summary = JSON.parse(lastLine);
  for (const field of ["mode", "committed", "rolledBack", "delivered", "duplicates", "lost", "unexpected", "seconds"]) {
    assert.ok(field in summary, `summary has ${field}`);
  }
  assert.equal(summary.mode, mode);
  if (jobs !== undefined) {
    assert.equal(summary.committed + summary.rolledBack, jobs);
    assert.ok(summary.rolledBack > 0, "some orders were rolled back on purpose");
  }
  assert.equal(summary.delivered, summary.committed);
  assert.equal(summary.lost, 0);
  assert.equal(summary.unexpected, 0);
  assert.equal(summary.drained, true);
  assert.ok(summary.seconds > 0);

  const lines = readFileSync(join(folder, file), "utf8")
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line) as Line);
  const jobIds = new Set(lines.map((line) => line.job));
  assert.equal(jobIds.size, summary.delivered, "distinct jobs in the file");
  assert.equal(lines.length - jobIds.size, summary.duplicates);
  assert.equal(new Set(lines.map((line) => line.run)).size, 1, "one run");
  assert.ok(lines.every((line) => line.topic === "order.created"));
  return { summary, orders: new Set(lines.map((line) => line.order)) };
}

describe("the demo", () => {
  it("delivers every committed order's job and none rolled back, by polling, on its own embedded PostgreSQL", async () => {
    const run = await runDemo(["--jobs", "150", "--json", "--fail-rate", "0.05"], undefined);
    const { summary } = checkRun(run, "polling", "jobs.txt", 150);
    assert.equal(summary.database, "embedded");
  });

  it("does the same by logical replication on DATABASE_URL, leaving no slot behind", {
    ...needs("logical-replication"),
  }, async () => {
    const run = await runDemo(["--mode", "replication", "--jobs", "150", "--json"], db.url);
    const { summary, orders } = checkRun(run, "replication", "jobs_logical_repl.txt", 150);
    assert.equal(summary.database, "DATABASE_URL");
    // The orders that exist are exactly the orders delivered.
    const { rows } = await db.pool.query("SELECT id::text AS id FROM poutbox_demo_shop.orders");
    assert.deepEqual(new Set(rows.map((row) => row.id)), orders);
    const slots = await db.pool.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", [
      await consumerSlot(db.pool, "poutbox_demo", "demo-replication"),
    ]);
    assert.equal(slots.rows.length, 0);
  });

  it("on Ctrl-C stops producing, delivers what committed, checks it and ends cleanly", async () => {
    const file = "interrupted.txt";
    let waiting: Promise<void> | undefined;
    const run = await runDemo(["--jobs", "0", "--rate", "200", "--json", "--out", file], db.url, (child) => {
      // Interrupted once some jobs have gone through, whatever the machine's speed.
      waiting = waitFor(
        () => existsSync(join(folder, file)) && readFileSync(join(folder, file), "utf8").split("\n").length > 20,
        {
          what: "the first deliveries",
        },
      ).then(
        () => {
          child.kill("SIGINT");
        },
        (error: Error) => {
          // Not left running (--jobs 0 runs until interrupted) with the test failed.
          child.kill("SIGKILL");
          throw error;
        },
      );
    });
    await waiting;
    const { summary } = checkRun(run, "polling", file, undefined);
    assert.equal(summary.interrupted, true);
    assert.match(run.stderr, /stopping the producers/);
  });

  it("refuses bad arguments (status 2) and reports an unreachable database on one line (status 1)", async () => {
    const bad = await runDemo(["--mode", "carrier-pigeon"], db.url);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^demo: .*carrier-pigeon.*polling, replication/);
    const unreachable = await runDemo(["--jobs", "5"], "postgres://nobody@127.0.0.1:1/none");
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr.trimEnd().split("\n").at(-1) ?? "", /^demo: .*ECONNREFUSED/);
    assert.doesNotMatch(unreachable.stderr, /\n\s+at /);
  });
});
