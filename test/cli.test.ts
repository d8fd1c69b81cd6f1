// The built `poutbox` command (dist/cli/main.js, built by `npm test` first), run as a child
// process against this file's database, the way an operator runs it.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer, type Server } from "node:net";
import { describe, it } from "node:test";
import { stripVTControlCharacters } from "node:util";
import { Client, Consumer, listDeadLetters, status, statusToJson } from "../src/index.js";
import { freePort } from "../src/testing/local-server.js";
import { type ChildOutput, outputOf } from "./support/child-output.js";
import { withHostileRole } from "./support/hostile-role.js";
import { needs } from "./support/needs.js";
import { recorder } from "./support/recorder.js";
import { dropSlots, replicationConsumer } from "./support/replication.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const db = useTestDatabase();

interface RunOptions {
  /** Environment on top of the test's, DATABASE_URL being this file's database unless given. */
  readonly env?: Record<string, string | undefined>;
  /** Written to stdin, which is then closed (closed at once when absent). */
  readonly input?: string;
}

async function poutbox(args: readonly string[], options: RunOptions = {}): Promise<ChildOutput> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    DATABASE_URL: db.url,
    NO_COLOR: "1",
    ...options.env,
  };
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
  const child = spawn(process.execPath, ["dist/cli/main.js", ...args], { env, stdio: ["pipe", "pipe", "pipe"] });
  const output = outputOf(child);
  child.stdin.end(options.input ?? "");
  return output;
}

/** A failure as the brief promises it: the given status, one line on stderr, no stack trace. */
function assertOneLineError(run: ChildOutput, code: number, pattern: RegExp): void {
  assert.equal(run.code, code, `exit status (stderr: ${run.stderr})`);
  const lines = run.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line on stderr, got: ${run.stderr}`);
  assert.match(lines[0] ?? "", /^poutbox: /);
  assert.match(lines[0] ?? "", pattern);
  assert.doesNotMatch(run.stderr, /\n\s+at /, "no stack trace");
}

async function migrated(prefix: string): Promise<string> {
  return (await db.freshSchema(prefix)).schema;
}

/** Dead letters of consumer "mailer": every job enqueued fails its one attempt. */
async function withDeadLetters(schema: string, payloads: readonly unknown[]): Promise<bigint[]> {
  const ids = await new Client(db.pool, { schema }).enqueueMany(payloads);
  const record = recorder(async (jobs) => jobs.map((job) => ({ job, error: new Error(`refused ${job.payload}`) })));
  const consumer = new Consumer(db.pool, record.handler, { schema, name: "mailer", maxAttempts: 1, pollInterval: 5 });
  await consumer.start();
  try {
    await waitFor(async () => (await listDeadLetters(db.pool, { schema })).length === payloads.length, {
      what: "dead letters",
    });
  } finally {
    await consumer.stop();
  }
  return ids;
}

describe("poutbox command line", () => {
  it("prints help for the command and for each subcommand, exit status 0", async () => {
    const top = await poutbox(["--help"]);
    assert.equal(top.code, 0);
    for (const name of ["migrate", "status", "dead-letter", "consumer", "maintenance"])
      assert.match(top.stdout, new RegExp(name));
    const subcommands = [
      ["status"],
      ["dead-letter", "purge"],
      ["consumer", "remove"],
      ["maintenance", "run"],
      ["scheduled", "cancel"],
    ];
    const helps = await Promise.all(subcommands.map((args) => poutbox([...args, "--help"])));
    for (const [n, help] of helps.entries()) {
      assert.equal(help.code, 0, subcommands[n]?.join(" "));
      assert.match(help.stdout, /--database-url/);
      assert.match(help.stdout, /--schema/);
    }
    const version = await poutbox(["--version"]);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^\d+\.\d+\.\d+/);
  });

  it("refuses bad arguments with status 2 and one line, before touching the database", async () => {
    const unreachable = { DATABASE_URL: "postgres://nobody@127.0.0.1:1/none" };
    const cases: [string[], RegExp][] = [
      [["status", "--bogus"], /unknown option '--bogus'/],
      [["statuz"], /unknown command 'statuz'.*status/],
      [["status", "--schema", "no-dashes"], /not a plain identifier/],
      [["status", "--connect-timeout", "soon"], /positive integer/],
      [["dead-letter", "purge"], /--id, --older-than, --consumer, or --all/],
      [["dead-letter", "requeue", "--all", "--id", "3"], /cannot be combined/],
      [["dead-letter", "purge", "--older-than", "7"], /duration such as/],
      [["dead-letter", "purge", "--id", "12,x"], /job ids/],
      [["dead-letter", "list", "--limit", "0"], /positive integer/],
      [["consumer", "remove"], /missing required argument 'name'/],
      [["maintenance", "run", "--partition-interval", "10s"], /partitionInterval/],
      [["scheduled", "cancel"], /missing required argument 'ids'/],
      [["scheduled", "cancel", "12,x"], /job ids/],
    ];
    const runs = await Promise.all(cases.map(([args]) => poutbox(args, { env: unreachable })));
    for (const [n, run] of runs.entries()) assertOneLineError(run, 2, cases[n]?.[1] ?? /./);
    assertOneLineError(
      await poutbox(["status"], { env: { DATABASE_URL: undefined } }),
      2,
      /--database-url or set DATABASE_URL/,
    );
  });

  it("says the database cannot be reached, naming it without its password: a closed port, a server that never answers", async () => {
    const closed = await freePort();
    const refused = await poutbox(["status", "--database-url", `postgres://ada:s3cret@127.0.0.1:${closed}/shop`]);
    assertOneLineError(
      refused,
      1,
      new RegExp(`cannot connect to the database at 127\\.0\\.0\\.1:${closed}/shop: .*ECONNREFUSED`),
    );
    assert.doesNotMatch(refused.stderr, /s3cret/);

    const silent = await silentServer();
    try {
      const port = (silent.address() as { port: number }).port;
      const run = await poutbox(["migrate", "--connect-timeout", "1"], {
        env: { DATABASE_URL: `postgres://ada@127.0.0.1:${port}/shop` },
      });
      assertOneLineError(run, 1, /cannot connect to the database at .*: no answer before the connection timeout/);
    } finally {
      silent.close();
    }
  });

  it("says a schema is missing, for every subcommand that needs one", async () => {
    const commands = [
      ["status"],
      ["dead-letter", "list"],
      ["dead-letter", "purge", "--all", "--yes"],
      ["consumer", "remove", "mailer", "--yes"],
      ["maintenance", "run"],
      ["scheduled", "cancel", "1", "--yes"],
    ];
    const runs = await Promise.all(commands.map((args) => poutbox([...args, "--schema", "never_migrated"])));
    for (const run of runs) {
      assertOneLineError(run, 1, /schema "never_migrated" is missing.*poutbox migrate.*SCHEMA_MISSING/);
    }
  });

  it("migrates, then finds the schema up to date; --json gives the result", async () => {
    const first = await poutbox(["migrate", "--schema", "cli_migrate"]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^schema "cli_migrate": applied migrations 1, 2, 3.*; now at migration \d+\n$/);
    const again = await poutbox(["migrate", "--schema", "cli_migrate", "--json"]);
    assert.equal(again.code, 0);
    const result = JSON.parse(again.stdout);
    assert.deepEqual(Object.keys(result).sort(), ["applied", "schema", "version"]);
    assert.deepEqual(result.applied, []);
    assert.equal(result.schema, "cli_migrate");
    const text = await poutbox(["migrate", "--schema", "cli_migrate"]);
    assert.match(text.stdout, /is up to date/);
  });

  it("shows status as tables, and as JSON with every section", async () => {
    const schema = await migrated("cli_status");
    await withDeadLetters(schema, ["x"]);
    const text = await poutbox(["status", "--schema", schema]);
    assert.equal(text.code, 0, text.stderr);
    for (const heading of ["Tables", "Consumers", "Partitions of immediate", "dead_letter", "mailer", "none running"]) {
      assert.ok(text.stdout.includes(heading), `${heading} in:\n${text.stdout}`);
    }
    assert.ok(!text.stdout.includes("\u001b["), "no colour codes when NO_COLOR is set");

    // Output into a pipe is plain text, on CI machines too (which set CI, and often TERM);
    // FORCE_COLOR asks for colours anyway, and NO_COLOR or --no-color wins over it.
    const colourCases: [Record<string, string | undefined>, string[], boolean][] = [
      [{ NO_COLOR: undefined, FORCE_COLOR: undefined, CI: "true", TERM: "xterm-256color" }, [], false],
      [{ NO_COLOR: undefined, FORCE_COLOR: "1" }, [], true],
      [{ NO_COLOR: undefined, FORCE_COLOR: "0", CI: "1" }, [], false],
      [{ NO_COLOR: "1", FORCE_COLOR: "1" }, [], false],
      [{ NO_COLOR: undefined, FORCE_COLOR: "1" }, ["--no-color"], false],
    ];
    for (const [env, extra, coloured] of colourCases) {
      const shown = await poutbox([...extra, "status", "--schema", schema], { env });
      assert.equal(shown.code, 0, shown.stderr);
      assert.equal(shown.stdout.includes("\u001b["), coloured, `colour codes with ${JSON.stringify({ env, extra })}`);
      assert.match(
        stripVTControlCharacters(shown.stdout),
        new RegExp(`^Poutbox schema "${schema}", migration \\d+, at `),
      );
    }

    const json = await poutbox(["status", "--schema", schema, "--json"]);
    assert.equal(json.code, 0, json.stderr);
    const found = JSON.parse(json.stdout);
    assert.deepEqual(Object.keys(found).sort(), ["at", "consumers", "partitions", "schema", "tables", "version"]);
    assert.equal(found.tables.deadLetter.rows, 1);
    assert.deepEqual(found.tables.scheduled, { rows: 0, due: 0 });
    const [mailer] = found.consumers;
    assert.deepEqual(Object.keys(mailer).sort(), [
      "ackLagBytes",
      "ackedLsn",
      "blockedKeys",
      "deadLetters",
      "heartbeatAt",
      "heldOutcomes",
      "lagMs",
      "lastLeaderId",
      "lastMove",
      "leader",
      "mode",
      "name",
      "oldestPendingAt",
      "pendingJobs",
      "retrying",
      "slot",
      "snapshot",
      "waitingBehindKeys",
      "window",
    ]);
    assert.equal(mailer.name, "mailer");
    assert.equal(mailer.leader, null);
    assert.equal(mailer.pendingJobs, 0);
    assert.equal(mailer.lagMs, 0);
    assert.equal(mailer.deadLetters, 1);
    assert.equal(mailer.heldOutcomes, 0);
    assert.equal(mailer.lastMove, null);
    const partition = found.partitions.find((each: { isDefault: boolean }) => !each.isDefault);
    assert.deepEqual(Object.keys(partition).sort(), [
      "bytes",
      "estimatedRows",
      "from",
      "isDefault",
      "managed",
      "name",
      "to",
    ]);
    assert.match(partition.from, /^\d{4}-\d\d-\d\dT/);
    assert.equal(typeof partition.bytes, "number");
  });

  it(
    "prints status --json as statusToJson(status()): the same keys and value types at every level",
    needs("logical-replication"),
    async () => {
      const schema = await migrated("cli_shape");
      await withDeadLetters(schema, ["x"]);
      const stream = replicationConsumer(db.pool, schema, recorder().handler, { name: "stream" });
      await stream.start();
      try {
        await new Client(db.pool, { schema }).enqueueMany([1, 2]);
        // Settled: the stream has nothing pending (else oldestPendingAt is a time in one read and
        // null in the next), its slot in use and a position acknowledged. The stopped mailer keeps
        // the two jobs pending.
        const settled = await waitFor(
          async () => {
            const found = await status(db.pool, { schema });
            const streaming = found.consumers.find((each) => each.name === "stream");
            return streaming?.pendingJobs === 0 && streaming.slot?.active && streaming.ackedLsn !== null
              ? found
              : undefined;
          },
          { what: "the stream caught up" },
        );
        const run = await poutbox(["status", "--schema", schema, "--json"]);
        assert.equal(run.code, 0, run.stderr);
        const printed = JSON.parse(run.stdout);
        const api = statusToJson(await status(db.pool, { schema }));
        assert.deepEqual(JSON.parse(JSON.stringify(api)), api, "plain JSON values only");
        assert.deepEqual(shape(printed), shape(api));
        assert.deepEqual(printed.tables, api.tables);
        assert.deepEqual(
          printed.partitions.map((each: { name: string }) => each.name),
          api.partitions.map((each) => each.name),
        );

        // Every level is there to compare: a consumer with and one without a leader and a slot.
        const [mailer, streamed] = api.consumers;
        assert.equal(mailer?.leader, null);
        assert.equal(mailer.slot, null);
        assert.equal(mailer.pendingJobs, 2);
        assert.equal(typeof mailer.oldestPendingAt, "string");
        assert.equal(typeof mailer.lagMs, "number");
        assert.ok(streamed?.leader && streamed.slot, "the stream has a leader and a slot");
        assert.equal(typeof streamed.leader.epoch, "number");
        assert.match(streamed.ackedLsn ?? "", /^[0-9A-F]+\/[0-9A-F]+$/);
        assert.equal(typeof streamed.slot.retainedBytes, "number");
        assert.equal(streamed.slot.name, settled.consumers[1]?.slot?.name);
        assert.match(streamed.slot.confirmedFlush ?? "", /^[0-9A-F]+\/[0-9A-F]+$/);
        assert.deepEqual(
          api.partitions.filter((each) => each.isDefault).map((each) => [each.from, each.to]),
          [[null, null]],
        );
      } finally {
        await stream.stop();
        await dropSlots(db.pool, schema, "stream");
      }
    },
  );

  it("prints the same for a role with its own DateStyle, TimeZone and extra_float_digits", async () => {
    const schema = await migrated("cli_settings");
    // Twelve: a count that extra_float_digits = -15 would print as "1e+01".
    await withDeadLetters(
      schema,
      Array.from({ length: 12 }, (_, n) => n),
    );
    const status = ["status", "--schema", schema, "--json"];
    const list = ["dead-letter", "list", "--schema", schema, "--older-than", "1ms", "--json"];
    const plainStatus = JSON.parse((await poutbox(status)).stdout);
    const plainList = JSON.parse((await poutbox(list)).stdout);
    assert.equal(plainList.matched, 12);
    await withHostileRole(db, schema, async (url) => {
      const runs = await Promise.all([status, list].map((args) => poutbox(args, { env: { DATABASE_URL: url } })));
      for (const run of runs) assert.equal(run.code, 0, run.stderr);
      const [found, listed] = runs.map((run) => JSON.parse(run.stdout));
      assert.deepEqual({ ...found, at: undefined }, { ...plainStatus, at: undefined });
      assert.deepEqual(listed, plainList);
    });
  });

  it("lists blocked ordering keys, and delivers a head again or skips it", async () => {
    const schema = await migrated("cli_keys");
    const client = new Client(db.pool, { schema });
    for (const [label, key] of [
      ["a1", "a"],
      ["a2", "a"],
      ["b1", "b"],
      ["b2", "b"],
    ]) {
      await client.enqueue({ label }, { key });
    }
    const healed = new Set<string>();
    const record = recorder(async (jobs) =>
      jobs
        .filter((job) => !healed.has((job.payload as { label: string }).label))
        .filter((job) => ["a1", "b1"].includes((job.payload as { label: string }).label))
        .map((job) => ({ job, error: new Error(`refused ${job.key}`) })),
    );
    const consumer = new Consumer(db.pool, record.handler, {
      schema,
      name: "ordered",
      ordering: "key",
      maxAttempts: 1,
      pollInterval: 5,
      promoteInterval: 20,
      maintenance: false,
    });
    await consumer.start();
    try {
      const list = ["keys", "list", "--schema", schema, "--json"];
      await waitFor(async () => JSON.parse((await poutbox(list)).stdout).blockedKeys.length === 2, {
        what: "both keys blocked by their dead heads",
      });
      const { blockedKeys } = JSON.parse((await poutbox(list)).stdout);
      assert.deepEqual(
        blockedKeys.map((each: { key: string; head: { state: string }; waiting: number }) => [
          each.key,
          each.head.state,
          each.waiting,
        ]),
        [
          ["a", "dead", 1],
          ["b", "dead", 1],
        ],
      );
      const table = await poutbox(["keys", "list", "--schema", schema, "--consumer", "ordered"]);
      assert.match(table.stdout, /ordered\s+│\s+a\s+│/);
      const declined = await poutbox(["keys", "skip", "a", "--schema", schema, "--consumer", "ordered"], {
        input: "n\n",
      });
      assert.equal(declined.code, 1);
      healed.add("b1");
      const skipped = await poutbox([
        "keys",
        "skip",
        "a",
        "--schema",
        schema,
        "--consumer",
        "ordered",
        "--reason",
        "bad data",
        "--yes",
        "--json",
      ]);
      assert.equal(skipped.code, 0, skipped.stderr);
      assert.equal(JSON.parse(skipped.stdout).previousState, "dead");
      const retried = await poutbox(["keys", "retry", "b", "--schema", schema, "--consumer", "ordered", "--yes"]);
      assert.equal(retried.code, 0, retried.stderr);
      assert.match(retried.stdout, /will be delivered again now/);
      await waitFor(() => record.deliveries.some((job) => (job.payload as { label: string }).label === "b2"));
      await waitFor(async () => JSON.parse((await poutbox(list)).stdout).blockedKeys.length === 0);
      const labels = record.deliveries.map((job) => (job.payload as { label: string }).label);
      assert.deepEqual(
        labels.filter((label) => label.startsWith("b")),
        ["b1", "b1", "b2"],
      );
      assert.ok(labels.includes("a2"));
      const none = await poutbox(["keys", "retry", "zzz", "--schema", schema, "--consumer", "ordered", "--yes"]);
      assert.match(none.stdout, /is not blocked/);
      const missing = await poutbox(["keys", "retry", "a", "--schema", schema]);
      assertOneLineError(missing, 2, /--consumer/);
    } finally {
      await consumer.stop();
    }
  });

  it("lists dead letters, as a table and as JSON, narrowed by consumer, id and limit", async () => {
    const schema = await migrated("cli_list");
    const [first, second] = await withDeadLetters(schema, ["one", "two"]);
    const text = await poutbox(["dead-letter", "list", "--schema", schema]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /refused one/);
    assert.match(text.stdout, /"two"/);

    const limited = await poutbox(["dead-letter", "list", "--schema", schema, "--limit", "1"]);
    assert.match(limited.stdout, /1 of 2 shown/);

    const json = await poutbox(["dead-letter", "list", "--schema", schema, "--id", String(first), "--json"]);
    const listed = JSON.parse(json.stdout);
    assert.equal(listed.matched, 1);
    assert.equal(listed.deadLetters[0].id, String(first));
    assert.equal(listed.deadLetters[0].consumer, "mailer");
    assert.equal(listed.deadLetters[0].payload, "one");
    assert.match(listed.deadLetters[0].lastError, /refused one/);
    assert.deepEqual(Object.keys(listed.deadLetters[0]).sort(), [
      "attempts",
      "consumer",
      "createdAt",
      "deadAt",
      "enqueuedAt",
      "failedAt",
      "headers",
      "id",
      "lastError",
      "payload",
      "topic",
    ]);
    // Failed on its first delivery: enqueued when its row was created.
    assert.equal(listed.deadLetters[0].enqueuedAt, listed.deadLetters[0].createdAt);
    assert.match(listed.deadLetters[0].enqueuedAt, /^\d{4}-\d\d-\d\dT.*Z$/);

    const other = await poutbox(["dead-letter", "list", "--schema", schema, "--consumer", "audit", "--json"]);
    assert.deepEqual(JSON.parse(other.stdout), { matched: 0, deadLetters: [] });
    const none = await poutbox(["dead-letter", "list", "--schema", schema, "--older-than", "1h"]);
    assert.match(none.stdout, /^no dead letters dead for more than 1h/);
    assert.ok(second);
  });

  it("asks before requeueing or purging: no answer or 'n' changes nothing, 'y' or --yes goes ahead", async () => {
    const schema = await migrated("cli_requeue");
    const [first, second, third] = await withDeadLetters(schema, [1, 2, 3]);
    const count = async () => (await listDeadLetters(db.pool, { schema })).length;

    const unanswered = await poutbox(["dead-letter", "requeue", "--schema", schema, "--id", String(first)]);
    assertOneLineError(
      { ...unanswered, stderr: unanswered.stderr.replace(/^Requeue .*\n?/, "") },
      1,
      /not confirmed: nothing was changed/,
    );
    assert.match(unanswered.stderr, /^Requeue 1 dead letter with id \d+\? \[y\/N\]/);
    const declined = await poutbox(["dead-letter", "purge", "--schema", schema, "--all"], { input: "n\n" });
    assert.equal(declined.code, 1);
    assert.match(declined.stderr, /Purge 3 dead letters\? They cannot be recovered\. \[y\/N\]/);
    assert.equal(await count(), 3);

    const [dead] = await listDeadLetters(db.pool, { schema, ids: [first as bigint] });
    const confirmed = await poutbox(["dead-letter", "requeue", "--schema", schema, "--id", String(first)], {
      input: "y\n",
    });
    assert.equal(confirmed.code, 0, confirmed.stderr);
    assert.match(confirmed.stdout, /^requeued 1 dead letter\n$/);
    const { rows } = await db.pool.query(
      `SELECT consumer, attempt FROM ${schema}.immediate WHERE id = $1 AND attempt = 0 AND consumer IS NOT NULL`,
      [String(first)],
    );
    assert.deepEqual(rows, [{ consumer: "mailer", attempt: 0 }]);
    // Requeued, it keeps the time it was first enqueued.
    const { rows: times } = await db.pool.query(
      `SELECT floor(extract(epoch FROM enqueued_at) * 1000)::int8::text AS ms FROM ${schema}.immediate WHERE id = $1 AND consumer IS NOT NULL`,
      [String(first)],
    );
    assert.deepEqual(times, [{ ms: String(dead?.enqueuedAt.getTime()) }]);

    const nothing = await poutbox(["dead-letter", "purge", "--schema", schema, "--older-than", "1d", "--yes"]);
    assert.equal(nothing.code, 0);
    assert.match(nothing.stdout, /nothing to purge/);

    const purged = await poutbox([
      "dead-letter",
      "purge",
      "--schema",
      schema,
      "--id",
      `${second},${third}`,
      "--yes",
      "--json",
    ]);
    assert.equal(purged.code, 0, purged.stderr);
    assert.deepEqual(JSON.parse(purged.stdout), { action: "purge", matched: 2, purged: 2 });
    assert.equal(await count(), 0);
  });

  it("cancels scheduled jobs after confirmation, naming those it could not cancel", async () => {
    const schema = await migrated("cli_cancel");
    const client = new Client(db.pool, { schema });
    const [first, second] = await client.enqueueMany(["a", "b"], { runAt: new Date(Date.now() + 3_600_000) });
    const [due] = await client.enqueueMany(["c"]);
    const scheduled = async () =>
      (await db.pool.query(`SELECT id::text AS id FROM ${schema}.scheduled ORDER BY id`)).rows.map((row) => row.id);

    const declined = await poutbox(["scheduled", "cancel", "--schema", schema, String(first)], { input: "n\n" });
    assert.equal(declined.code, 1);
    assert.match(declined.stderr, new RegExp(`^Cancel scheduled job ${first}\\? \\[y/N\\]`));
    assert.deepEqual(await scheduled(), [String(first), String(second)], "declined: nothing cancelled");

    const confirmed = await poutbox(["scheduled", "cancel", "--schema", schema, `${first},${due}`], { input: "y\n" });
    assert.equal(confirmed.code, 0, confirmed.stderr);
    assert.equal(confirmed.stdout, `cancelled 1 scheduled job\nnot scheduled (already due, or no such job): ${due}\n`);
    assert.deepEqual(await scheduled(), [String(second)]);

    const json = await poutbox(["scheduled", "cancel", "--schema", schema, String(second), "--yes", "--json"]);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), { cancelled: [String(second)], notScheduled: [] });
    assert.deepEqual(await scheduled(), []);
  });

  it("removes a consumer that is stopped, after confirmation; refuses one that runs or does not exist", async (t) => {
    const schema = await migrated("cli_remove");
    const record = recorder();
    const consumer = new Consumer(db.pool, record.handler, { schema, name: "audit", pollInterval: 5 });
    await consumer.start();
    try {
      await waitFor(() => consumer.isLeader, { what: "leadership" });
      assertOneLineError(
        await poutbox(["consumer", "remove", "audit", "--schema", schema, "--yes"]),
        1,
        /running.*CONSUMER_ACTIVE/,
      );
    } finally {
      await consumer.stop();
    }
    assertOneLineError(
      await poutbox(["consumer", "remove", "nobody", "--schema", schema, "--yes"]),
      1,
      /no consumer named "nobody"/,
    );

    const declined = await poutbox(["consumer", "remove", "audit", "--schema", schema]);
    assert.equal(declined.code, 1);
    assert.match(declined.stderr, /Remove consumer "audit"/);
    const removed = await poutbox(["consumer", "remove", "audit", "--schema", schema], { input: "yes\n" });
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /^removed consumer "audit": progress deleted/);
    const { rows } = await db.pool.query(`SELECT name FROM ${schema}.consumers`);
    assert.deepEqual(rows, []);

    const again = new Consumer(db.pool, record.handler, { schema, name: "audit", pollInterval: 5 });
    t.after(() => again.stop());
    await again.start();
    await waitFor(() => again.isLeader, { what: "leadership again" });
    await again.stop();
    const json = await poutbox(["consumer", "remove", "audit", "--schema", schema, "--yes", "--json"]);
    assert.deepEqual(JSON.parse(json.stdout), {
      consumer: "audit",
      row: true,
      slot: false,
      publication: false,
      failed: 0,
    });
  });

  it("moves a consumer after confirmation, saying why its progress does not fit; refuses one that runs", async () => {
    const schema = await migrated("cli_move");
    const client = new Client(db.pool, { schema });
    const first = await client.enqueue("first");
    const record = recorder();
    const consumer = new Consumer(db.pool, record.handler, { schema, name: "mover", pollInterval: 5 });
    await consumer.start();
    try {
      await waitFor(() => record.counts().has(first), { what: "the first job" });
      assertOneLineError(
        await poutbox(["consumer", "move", "mover", "--to", "oldest", "--schema", schema, "--yes"]),
        1,
        /running.*CONSUMER_ACTIVE/,
      );
    } finally {
      await consumer.stop();
    }
    assertOneLineError(
      await poutbox(["consumer", "move", "mover", "--to", "yesterday", "--schema", schema]),
      2,
      /--to.*yesterday.*oldest, now/,
    );
    // As after a restore: the stored snapshot is ahead of the server.
    await db.pool.query(
      `UPDATE ${schema}.consumers SET snapshot = (n::text || ':' || n::text || ':')::pg_snapshot
       FROM (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint + 100000 AS n) AS ahead`,
    );
    const declined = await poutbox(["consumer", "move", "mover", "--to", "oldest", "--schema", schema]);
    assert.equal(declined.code, 1);
    assert.match(declined.stderr, /does not belong to this server: its progress snapshot .* reaches transaction id/);
    assert.match(
      declined.stderr,
      /Move consumer "mover" to oldest: it will deliver again every job still in the outbox/,
    );
    const moved = await poutbox(
      ["consumer", "move", "mover", "--to", "oldest", "--reason", "restored", "--schema", schema, "--json"],
      { input: "y\n" },
    );
    assert.equal(moved.code, 0, moved.stderr);
    const move = JSON.parse(moved.stdout);
    assert.equal(move.consumer, "mover");
    assert.equal(move.target, "oldest");
    assert.equal(move.reason, "restored");
    assert.equal(move.snapshot, "1:1:");
    const text = await poutbox(["status", "--schema", schema]);
    assert.match(text.stdout, /mover: moved to oldest by \S+ at .* \(restored\)/);
    const json = JSON.parse((await poutbox(["status", "--schema", schema, "--json"])).stdout);
    assert.equal(json.consumers[0].lastMove.target, "oldest");
    assert.match(json.consumers[0].lastMove.at, /^\d{4}-\d\d-\d\dT/);
  });

  it("reports a table attached with rows, then imports or adopts it", async () => {
    const schema = await migrated("cli_attached");
    for (const name of ["jobs_elsewhere", "moved_rows"]) {
      const day = name === "jobs_elsewhere" ? "2001-01-01" : "2001-01-02";
      await db.pool.query(`CREATE TABLE ${schema}.${name} (LIKE ${schema}.immediate INCLUDING DEFAULTS)`);
      await db.pool.query(
        `INSERT INTO ${schema}.${name} (payload, created_at) SELECT '{}', '${day}'::timestamptz FROM generate_series(1, 2)`,
      );
      await db.pool.query(
        `ALTER TABLE ${schema}.immediate ATTACH PARTITION ${schema}.${name}
         FOR VALUES FROM ('${day}') TO ('${day}'::date + 1)`,
      );
    }
    const report = await poutbox(["maintenance", "run", "--schema", schema]);
    assert.equal(report.code, 0, report.stderr);
    assert.match(report.stdout, /attached table jobs_elsewhere holds 2 rows .*poutbox partition import jobs_elsewhere/);
    const status = await poutbox(["status", "--schema", schema]);
    assert.match(status.stdout, /moved_rows \(attached; /);
    const declined = await poutbox(["partition", "import", "jobs_elsewhere", "--schema", schema]);
    assert.equal(declined.code, 1);
    assert.match(declined.stderr, /Deliver every row of jobs_elsewhere as a new job/);
    const imported = await poutbox(["partition", "import", "jobs_elsewhere", "--schema", schema, "--yes", "--json"]);
    assert.deepEqual(JSON.parse(imported.stdout), { partition: "jobs_elsewhere", rows: 2 });
    const adopted = await poutbox(["partition", "adopt", "moved_rows", "--schema", schema]);
    assert.equal(adopted.code, 0, adopted.stderr);
    assert.match(adopted.stdout, /adopted moved_rows: 2 rows kept as they are/);
    assertOneLineError(
      await poutbox(["partition", "adopt", "nowhere", "--schema", schema]),
      2,
      /"nowhere" is not a partition of .*immediate/,
    );
    const again = JSON.parse((await poutbox(["maintenance", "run", "--schema", schema, "--json"])).stdout);
    assert.deepEqual(again.attached, []);
  });

  it("runs partition maintenance once and reports what it did", async () => {
    const schema = await migrated("cli_maintenance");
    const json = await poutbox(["maintenance", "run", "--schema", schema, "--json"]);
    assert.equal(json.code, 0, json.stderr);
    const report = JSON.parse(json.stdout);
    assert.equal(report.ran, true);
    assert.ok(report.created.length >= 1);
    assert.match(report.created[0].name, /^immediate_\d{8}_\d{6}$/);
    assert.deepEqual(report.dropped, []);
    const text = await poutbox(["maintenance", "run", "--schema", schema, "--look-ahead", "2h"]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /nothing to do|created|kept/);

    // Another runner holds the schema's maintenance lock: nothing is done, and it says so.
    const holder = await db.pool.connect();
    try {
      await holder.query("SELECT pg_advisory_lock(hashtextextended($1, 0))", [`poutbox.maintenance.${schema}`]);
      const busy = await poutbox(["maintenance", "run", "--schema", schema]);
      assert.equal(busy.code, 0, busy.stderr);
      assert.match(busy.stdout, /another process is running maintenance on this schema: nothing done/);
    } finally {
      holder.release(true);
    }
  });
});

/** A JSON value with each leaf replaced by its type ("null" for null): what must match between two reads. */
function shape(value: unknown): unknown {
  if (value === null) return "null";
  if (Array.isArray(value)) return value.map(shape);
  if (typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([key, each]) => [key, shape(each)]));
  return typeof value;
}

/** Accepts connections and never answers: a server that hangs. */
async function silentServer(): Promise<Server> {
  const server = createServer((socket) => socket.on("error", () => {}));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return server;
}
