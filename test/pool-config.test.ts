// However a pg Pool was configured, a replication consumer's walsender must connect as the
// pool's own connections do: connection string, discrete options, a password function, an
// ssl object (with a client key pg-pool hides), the PG* environment, .pgpass, the pool's own
// Client class, stream factory and `options`. And a walsender that can never connect (wrong
// or no password, pg_hba.conf, no REPLICATION) must fail start() at once, not retry forever.
//
// On an embedded PostgreSQL of its own (same major version as the suite's server), with
// scram-sha-256 passwords, SSL from a certificate authority made here with openssl, and
// pg_hba.conf rules that let two roles in over SSL only.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { replicationClient } from "../src/database/replication-client.js";
import { Client, migrate, ReplicationSetupError } from "../src/index.js";
import { slotName } from "../src/schema/server-names.js";
import {
  type EmbeddedCluster,
  type EmbeddedVersion,
  embeddedVersions,
  startEmbeddedCluster,
} from "./support/embedded-cluster.js";
import { recorder } from "./support/recorder.js";
import { replicationConsumer } from "./support/replication.js";
import { admin as serverAdmin } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

// A space and a quote: the connection string must encode it, ALTER ROLE quote it.
const password = "it's a s3cret";
const database = "outbox";
const consumerName = "default";
// How long a delivery may take before the test fails; a walsender that cannot connect never
// delivers, so this is also how long a regression takes to show.
const deliveryTimeout = 30_000;

let cluster: EmbeddedCluster | undefined;
let folder: string | undefined;
let superuser: pg.Pool | undefined;
let owner: pg.Pool | undefined;
let certificates: { ca: string; clientCert: string; clientKey: string };
let schemas = 0;

function server(): EmbeddedCluster {
  if (!cluster) throw new Error("the cluster is not running");
  return cluster;
}

/** `postgres` on the cluster: for roles, slots, and what the server sees. */
function admin(): pg.Pool {
  if (!superuser) throw new Error("the cluster is not running");
  return superuser;
}

/** `app`, the owner of the database: migrates and enqueues. */
function app(): pg.Pool {
  if (!owner) throw new Error("the cluster is not running");
  return owner;
}

function inFolder(name: string): string {
  if (!folder) throw new Error("no folder");
  return join(folder, name);
}

function url(user: string, secret = password): string {
  return `postgres://${user}:${encodeURIComponent(secret)}@127.0.0.1:${server().port}/${database}`;
}

/** Discrete options for `user`, without a password. */
function discrete(user: string): pg.PoolConfig {
  return { host: "127.0.0.1", port: server().port, user, database };
}

before(async () => {
  const major = await serverAdmin(async (client) => {
    const { rows } = await client.query("SELECT current_setting('server_version_num')::int / 10000 AS major");
    return Number(rows[0].major);
  });
  const version: EmbeddedVersion = major in embeddedVersions ? (major as EmbeddedVersion) : 17;
  folder = mkdtempSync(join(tmpdir(), "poutbox-certs-"));
  const files = makeCertificates(folder);
  certificates = { ca: files.ca, clientCert: files.clientCert, clientKey: files.clientKey };
  cluster = await startEmbeddedCluster({
    version,
    authMethod: "scram-sha-256",
    settings: { ssl: "on", ssl_ca_file: "root.crt" },
    files: { "server.crt": files.serverCert, "server.key": files.serverKey, "root.crt": files.ca },
    hba: [
      // ssl_app and cert_app only over SSL: a walsender without it is refused.
      "hostssl all ssl_app  127.0.0.1/32 scram-sha-256",
      "hostssl all cert_app 127.0.0.1/32 cert",
      "host    all ssl_app  127.0.0.1/32 reject",
      "host    all cert_app 127.0.0.1/32 reject",
      "host    all all      127.0.0.1/32 scram-sha-256",
    ],
  });
  superuser = new pg.Pool({ connectionString: cluster.url, max: 2 });
  const quoted = pg.escapeLiteral(password);
  // app owns the database (it migrates, creates the publication); the others act through
  // membership in app and have their own way in.
  await superuser.query(`CREATE ROLE app LOGIN REPLICATION PASSWORD ${quoted}`);
  await superuser.query(`CREATE DATABASE ${database} OWNER app`);
  await superuser.query(`CREATE ROLE ssl_app LOGIN REPLICATION PASSWORD ${quoted} IN ROLE app`);
  await superuser.query("CREATE ROLE cert_app LOGIN REPLICATION IN ROLE app");
  await superuser.query(`CREATE ROLE plain_app LOGIN NOREPLICATION PASSWORD ${quoted} IN ROLE app`);
  await superuser.query(`CREATE ROLE rotated_app LOGIN REPLICATION PASSWORD ${quoted} IN ROLE app`);
  // pgoutput prints values with the walsender session's settings: this role's would give
  // text the decoder cannot read, unless the walsender pins its own.
  await superuser.query(`CREATE ROLE dmy_app LOGIN REPLICATION PASSWORD ${quoted} IN ROLE app`);
  await superuser.query("ALTER ROLE dmy_app SET DateStyle = 'SQL, DMY'");
  await superuser.query("ALTER ROLE dmy_app SET TimeZone = 'Pacific/Chatham'");
  owner = new pg.Pool({ connectionString: url("app"), max: 4 });
});

after(async () => {
  try {
    await owner?.end();
    // Nothing of the tests may still be connected: pools ended, walsenders gone.
    let left: unknown[] = [];
    for (const deadline = Date.now() + 5000; superuser && Date.now() < deadline; ) {
      ({ rows: left } = await superuser.query(
        "SELECT usename, backend_type, application_name FROM pg_stat_activity WHERE datname = $1",
        [database],
      ));
      if (left.length === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.deepEqual(left, [], "connections left open");
  } finally {
    await superuser?.end();
    await cluster?.stop();
    if (folder) rmSync(folder, { recursive: true, force: true });
  }
});

describe("a replication consumer connects as its pool does", () => {
  it("with a connection string", { timeout: 90_000 }, async () => {
    const walsender = await deliversThrough(new pg.Pool({ connectionString: url("app") }));
    assert.equal(walsender.usename, "app");
  });

  it("with discrete options (host, port, user, password, database)", { timeout: 90_000 }, async () => {
    const walsender = await deliversThrough(new pg.Pool({ ...discrete("app"), password }));
    assert.equal(walsender.usename, "app");
  });

  it("with a password function, sync or async", { timeout: 90_000 }, async () => {
    let calls = 0;
    await deliversThrough(
      new pg.Pool({
        ...discrete("app"),
        password: () => {
          calls++;
          return password;
        },
      }),
    );
    await deliversThrough(
      new pg.Pool({
        ...discrete("app"),
        password: async () => {
          calls++;
          await new Promise((resolve) => setTimeout(resolve, 5));
          return password;
        },
      }),
    );
    assert.ok(calls > 0);
  });

  it("with an ssl object, where pg_hba.conf lets the role in over SSL only", { timeout: 90_000 }, async () => {
    // The rules do refuse this role without SSL.
    const plain = new pg.Client({ ...discrete("ssl_app"), password });
    await assert.rejects(plain.connect(), { code: "28000" });
    await plain.end().catch(() => undefined);
    const walsender = await deliversThrough(
      new pg.Pool({ ...discrete("ssl_app"), password, ssl: { ca: certificates.ca } }),
    );
    assert.equal(walsender.usename, "ssl_app");
    assert.equal(walsender.ssl, true);
  });

  it("with a client certificate, whose key pg-pool hides", { timeout: 90_000 }, async () => {
    const ssl = { ca: certificates.ca, cert: certificates.clientCert, key: certificates.clientKey };
    const pool = new pg.Pool({ ...discrete("cert_app"), ssl });
    assert.equal(Object.keys(pool.options.ssl as object).includes("key"), false, "pg-pool hid the key");
    const walsender = await deliversThrough(pool);
    assert.equal(walsender.usename, "cert_app");
    assert.equal(walsender.ssl, true);
  });

  it("with the PG* environment and a pool given nothing", { timeout: 90_000 }, async () => {
    await withEnvironment(
      {
        PGHOST: "127.0.0.1",
        PGPORT: String(server().port),
        PGUSER: "app",
        PGPASSWORD: password,
        PGDATABASE: database,
      },
      async () => {
        const walsender = await deliversThrough(new pg.Pool());
        assert.equal(walsender.usename, "app");
      },
    );
  });

  it("with a password from .pgpass (PGPASSFILE)", { timeout: 90_000 }, async () => {
    const file = inFolder("pgpass");
    writeFileSync(file, `127.0.0.1:${server().port}:${database}:app:${password}\n`, { mode: 0o600 });
    await withEnvironment({ PGPASSFILE: file }, async () => {
      const walsender = await deliversThrough(new pg.Pool(discrete("app")));
      assert.equal(walsender.usename, "app");
    });
  });

  it("with the pool's own Client class", { timeout: 90_000 }, async () => {
    const made: pg.Client[] = [];
    class OwnClient extends pg.Client {
      constructor(config?: string | pg.ClientConfig) {
        super(config);
        made.push(this);
      }
    }
    await deliversThrough(new pg.Pool({ connectionString: url("app"), Client: OwnClient }));
    const replication = made.filter(
      (client) =>
        (client as unknown as { connectionParameters: { replication?: string } }).connectionParameters.replication ===
        "database",
    );
    assert.ok(replication.length > 0, `walsender clients of the pool's class: ${replication.length} of ${made.length}`);
  });

  it("with the pool's stream factory", { timeout: 90_000 }, async () => {
    // The pool names a port nothing listens on; the factory's sockets go to the server
    // instead. Only a connection made through the factory can work.
    let made = 0;
    const stream = () => {
      made++;
      const socket = new Socket();
      const connect = socket.connect.bind(socket);
      socket.connect = ((..._ignored: unknown[]) => connect(server().port, "127.0.0.1")) as typeof socket.connect;
      return socket;
    };
    await deliversThrough(new pg.Pool({ ...discrete("app"), port: 1, password, stream }));
    assert.ok(made > 0);
  });

  it("with an options string of the pool's own, the pinned settings after it", { timeout: 90_000 }, async () => {
    const walsender = await deliversThrough(
      new pg.Pool({ connectionString: url("app"), options: "-c application_name=from-pool-options" }),
    );
    assert.equal(walsender.applicationName, "from-pool-options");
  });

  it("with a role whose own DateStyle and TimeZone pgoutput would print unreadably", { timeout: 90_000 }, async () => {
    const pool = new pg.Pool({ connectionString: url("dmy_app") });
    // The walsender session's settings are the pinned ones, not the role's.
    const probe = replicationClient(pool);
    await probe.connect();
    try {
      const setting = async (name: string) => String(Object.values((await probe.query(`SHOW ${name}`)).rows[0])[0]);
      assert.match(await setting("DateStyle"), /^ISO/);
      assert.equal(await setting("TimeZone"), "UTC");
      assert.equal(await setting("extra_float_digits"), "3");
    } finally {
      await probe.end();
    }
    const started = Date.now();
    // The streamed ones: pgoutput printed their created_at.
    const { streamed } = await deliversThroughWithJobs(pool);
    assert.equal(streamed.length, 3);
    for (const job of streamed) {
      const time = job.createdAt.getTime();
      assert.ok(time > started - 60_000 && time < Date.now() + 60_000, `createdAt ${String(job.createdAt)}`);
    }
  });
});

describe("a walsender that can never connect", () => {
  it("fails start() with a ReplicationSetupError on a wrong password", { timeout: 30_000 }, async () => {
    const error = await refusedAtStart(new pg.Pool({ ...discrete("app"), password: "not the password" }));
    assert.match(error.message, /password authentication failed for user "app".*check the password/);
    assert.equal((error.cause as { code?: string }).code, "28P01");
  });

  it("fails start() with a ReplicationSetupError when there is no password at all", { timeout: 30_000 }, async () => {
    await withEnvironment({ PGPASSFILE: inFolder("no-such-pgpass"), PGPASSWORD: undefined }, async () => {
      const error = await refusedAtStart(new pg.Pool(discrete("app")));
      assert.match(error.message, /no usable password/);
    });
  });

  it("fails start() with a ReplicationSetupError for a role without REPLICATION", { timeout: 30_000 }, async () => {
    const error = await refusedAtStart(new pg.Pool({ ...discrete("plain_app"), password }));
    assert.match(error.message, /REPLICATION attribute/);
    assert.equal((error.cause as { code?: string }).code, "42501");
  });

  it("fails start() with a ReplicationSetupError when pg_hba.conf asks for SSL", { timeout: 30_000 }, async () => {
    const error = await refusedAtStart(new pg.Pool({ ...discrete("ssl_app"), password }));
    assert.match(error.message, /pg_hba\.conf/);
    assert.equal((error.cause as { code?: string }).code, "28000");
  });

  it("stops a running consumer, failure set, when its walsender is refused", { timeout: 90_000 }, async () => {
    const schema = await freshSchema();
    // Connections stay open once made, so that the consumer's own queries go on after the
    // password changes: only new connections (its walsender's) are refused.
    const pool = new pg.Pool({ ...discrete("rotated_app"), password, idleTimeoutMillis: 0 });
    const warm = await Promise.all(Array.from({ length: 6 }, () => pool.connect()));
    for (const client of warm) client.release();
    const consumer = replicationConsumer(pool, schema, async () => {});
    const errors: Error[] = [];
    consumer.on("error", (error) => errors.push(error));
    try {
      await consumer.start();
      const walsender = await waitFor(() => streamingWalsender(schema), {
        timeout: deliveryTimeout,
        what: "a streaming walsender",
      });
      // The password changes; the walsender is cut, and every new one will be refused.
      await admin().query("ALTER ROLE rotated_app PASSWORD 'rotated'");
      await admin().query("SELECT pg_terminate_backend($1)", [walsender.pid]);
      await waitFor(() => consumer.failure, { timeout: deliveryTimeout, what: "the consumer to fail" });
      assert.ok(consumer.failure instanceof ReplicationSetupError, String(consumer.failure));
      assert.equal((consumer.failure.cause as { code?: string }).code, "28P01");
      const refusals = errors.filter((error) => error instanceof ReplicationSetupError).length;
      assert.equal(refusals, 1, `tried once, not again: ${errors.map((error) => error.message).join("; ")}`);
    } finally {
      await consumer.stop();
      await pool.end();
      await dropSlot(schema);
    }
  });
});

// --- Helpers -----------------------------------------------------------------------------------

interface Walsender {
  readonly pid: number;
  readonly usename: string;
  readonly applicationName: string;
  readonly ssl: boolean;
}

async function freshSchema(): Promise<string> {
  const schema = `config_${++schemas}`;
  await migrate(app(), { schema });
  return schema;
}

/** The walsender streaming the schema's consumer slot, as the server sees it, once it streams. */
async function streamingWalsender(schema: string): Promise<Walsender | undefined> {
  const { rows } = await admin().query(
    `SELECT r.pid, r.usename, r.application_name, coalesce(l.ssl, false) AS ssl
       FROM pg_replication_slots s
       JOIN pg_stat_replication r ON r.pid = s.active_pid
       LEFT JOIN pg_stat_ssl l ON l.pid = r.pid
      WHERE s.slot_name = $1 AND r.state = 'streaming'`,
    [slotName(database, schema, consumerName)],
  );
  const row = rows[0];
  return row && { pid: row.pid, usename: row.usename, applicationName: row.application_name, ssl: row.ssl };
}

async function deliversThrough(pool: pg.Pool): Promise<Walsender> {
  return (await deliversThroughWithJobs(pool)).walsender;
}

/**
 * Runs a replication consumer on `pool` (and ends the pool): it must deliver jobs enqueued
 * before its start (its catch-up) and, once its walsender streams, jobs enqueued after (the
 * stream), and stop cleanly.
 */
async function deliversThroughWithJobs(pool: pg.Pool) {
  const schema = await freshSchema();
  const client = new Client(app(), { schema });
  const record = recorder();
  const consumer = replicationConsumer(pool, schema, record.handler);
  const errors: string[] = [];
  consumer.on("error", (error) => errors.push(error.message));
  const waiting = <T>(check: () => T | Promise<T>, what: string) =>
    waitFor(check, { timeout: deliveryTimeout, what }).catch((error: Error) => {
      throw new Error(`${error.message}; the consumer's last errors: ${errors.slice(-3).join(" | ") || "none"}`);
    });
  try {
    const early = await client.enqueueMany([{ n: 1 }, { n: 2 }, { n: 3 }]);
    await consumer.start();
    const walsender = await waiting(() => streamingWalsender(schema), "a streaming walsender");
    const late = await client.enqueueMany([{ n: 4 }, { n: 5 }, { n: 6 }]);
    await waiting(() => record.deliveries.length >= 6, "six jobs");
    assert.deepEqual(record.ids(), [...early, ...late]);
    await consumer.stop();
    assert.equal(consumer.failure, undefined);
    assert.deepEqual(errors, []);
    const streamed = record.deliveries.filter((job) => late.includes(job.id));
    return { walsender, streamed };
  } finally {
    await consumer.stop();
    await pool.end();
    await dropSlot(schema);
  }
}

/** Starts a replication consumer on `pool` (and ends the pool): start() must reject at once. */
async function refusedAtStart(pool: pg.Pool): Promise<ReplicationSetupError> {
  const schema = await freshSchema();
  const consumer = replicationConsumer(pool, schema, async () => {});
  try {
    const started = Date.now();
    const error = await consumer.start().then(
      () => undefined,
      (reason: unknown) => reason,
    );
    const ms = Date.now() - started;
    assert.ok(error instanceof ReplicationSetupError, `start() rejected with a ReplicationSetupError, not ${error}`);
    assert.equal(error.code, "REPLICATION_SETUP");
    assert.ok(error.cause instanceof Error, "the original error is the cause");
    assert.ok(ms < 5000, `start() took ${ms} ms to reject`);
    const { rows } = await admin().query("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", [
      slotName(database, schema, consumerName),
    ]);
    assert.equal(rows.length, 0, "no slot was created");
    return error;
  } finally {
    await consumer.stop();
    await pool.end();
  }
}

/** Drops the schema's consumer slot once released; best effort (the cluster goes anyway). */
async function dropSlot(schema: string): Promise<void> {
  await admin()
    .query(
      `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
        WHERE slot_name = $1 AND NOT active`,
      [slotName(database, schema, consumerName)],
    )
    .catch(() => undefined);
}

/** Runs `work` with environment variables set (or removed, for undefined), then restores them. */
async function withEnvironment(variables: Record<string, string | undefined>, work: () => Promise<void>) {
  const saved = Object.fromEntries(Object.keys(variables).map((name) => [name, process.env[name]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
  apply(variables);
  try {
    await work();
  } finally {
    apply(saved);
  }
}

/**
 * A certificate authority, a server certificate it signed for 127.0.0.1, and a client
 * certificate for the role cert_app, made with the openssl command in `dir`.
 */
function makeCertificates(dir: string) {
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(
    "req",
    "-x509",
    ...newKey,
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "2",
    "-subj",
    "/CN=poutbox test CA",
  );
  writeFileSync(join(dir, "server.ext"), "subjectAltName = IP:127.0.0.1, DNS:localhost\n");
  const signed = (name: string, subject: string, extensions: string[] = []) => {
    openssl("req", ...newKey, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject);
    openssl(
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "2",
      "-out",
      `${name}.crt`,
      ...extensions,
    );
  };
  signed("server", "/CN=127.0.0.1", ["-extfile", "server.ext"]);
  signed("client", "/CN=cert_app");
  const read = (name: string) => readFileSync(join(dir, name), "utf8");
  return {
    ca: read("ca.crt"),
    serverCert: read("server.crt"),
    serverKey: read("server.key"),
    clientCert: read("client.crt"),
    clientKey: read("client.key"),
  };
}
