// How a walsender client is made from a pool, checked on the client before it connects (the
// startup message pg would send). test/pool-config.test.ts connects each way for real.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pg from "pg";
import { clientLikePool, replicationClient, withPinnedSettings } from "./replication-client.js";

const pinned =
  "-c DateStyle=ISO -c TimeZone=UTC -c IntervalStyle=postgres -c extra_float_digits=3 -c bytea_output=hex -c client_encoding=UTF8";

interface Startup {
  connectionParameters: { ssl?: { key?: string } };
  password: unknown;
  getStartupConf(): Record<string, string>;
}

function startup(client: pg.Client): Startup {
  return client as unknown as Startup;
}

describe("replicationClient", () => {
  it("keeps the password pg-pool hides from enumeration, as a string or a function", () => {
    const password = () => "from-a-function";
    for (const given of ["s3cret", password]) {
      const pool = new pg.Pool({ host: "127.0.0.1", user: "app", password: given });
      assert.equal(Object.keys(pool.options).includes("password"), false, "pg-pool hides it");
      assert.equal(startup(replicationClient(pool)).password, given);
      assert.equal(startup(clientLikePool(pool)).password, given);
    }
  });

  it("keeps the ssl object, with the key pg-pool hides", () => {
    const pool = new pg.Pool({ host: "127.0.0.1", ssl: { key: "KEY", cert: "CERT", rejectUnauthorized: false } });
    const { ssl } = startup(replicationClient(pool)).connectionParameters;
    assert.equal(ssl?.key, "KEY");
  });

  it("asks for a database walsender and appends the pinned settings to the pool's own options", () => {
    // Without PGOPTIONS, which pg takes for a pool given no options (whatever the shell set).
    const plain = withPgOptions(undefined, () =>
      startup(replicationClient(new pg.Pool({ host: "127.0.0.1", user: "app", database: "d" }))),
    );
    assert.deepEqual(plain.getStartupConf(), { user: "app", database: "d", replication: "database", options: pinned });
    const own = startup(replicationClient(new pg.Pool({ host: "127.0.0.1", options: "-c search_path=a\\ b" })));
    assert.equal(own.getStartupConf().options, `-c search_path=a\\ b ${pinned}`);
  });

  it("appends to the options of a connection string, which pg lets override the config's", () => {
    const url = "postgres://app@127.0.0.1/d?options=-c%20application_name%3Dfrom-url&replication=true";
    const conf = startup(replicationClient(new pg.Pool({ connectionString: url, options: "-c x=y" }))).getStartupConf();
    assert.equal(conf.options, `-c application_name=from-url ${pinned}`);
    assert.equal(conf.replication, "database");
  });

  it("appends to PGOPTIONS when the pool has no options", () => {
    const conf = withPgOptions("-c work_mem=8MB", () =>
      startup(replicationClient(new pg.Pool({ host: "127.0.0.1" }))).getStartupConf(),
    );
    assert.equal(conf.options, `-c work_mem=8MB ${pinned}`);
  });

  it("uses the pool's Client class when it is pg's Client or a subclass, pg's Client otherwise", () => {
    class OwnClient extends pg.Client {}
    assert.ok(replicationClient(new pg.Pool({ Client: OwnClient })) instanceof OwnClient);
    assert.equal(replicationClient(new pg.Pool()).constructor, pg.Client);
    // Not pg's (pg-native's Client, say): the replication code needs pg's internals.
    class Unrelated {}
    const foreign = new pg.Pool({ Client: Unrelated as unknown as typeof pg.Client });
    assert.equal(replicationClient(foreign).constructor, pg.Client);
  });

  it("leaves the pool's options as they were", () => {
    const pool = new pg.Pool({ host: "127.0.0.1", password: "s3cret", options: "-c a=b" });
    replicationClient(pool);
    assert.equal(pool.options.options, "-c a=b");
    assert.equal((pool.options as { replication?: unknown }).replication, undefined);
    assert.equal(Object.keys(pool.options).includes("password"), false);
  });
});

describe("withPinnedSettings", () => {
  it("is the pinned settings alone for no options or blank ones", () => {
    assert.equal(withPinnedSettings(undefined), pinned);
    assert.equal(withPinnedSettings("  "), pinned);
  });
});

/** Runs `work` with PGOPTIONS set to `value` (unset when undefined), then restores it. */
function withPgOptions<T>(value: string | undefined, work: () => T): T {
  const saved = process.env.PGOPTIONS;
  if (value === undefined) delete process.env.PGOPTIONS;
  else process.env.PGOPTIONS = value;
  try {
    return work();
  } finally {
    if (saved === undefined) delete process.env.PGOPTIONS;
    else process.env.PGOPTIONS = saved;
  }
}
