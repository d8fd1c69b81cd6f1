// Tests the built package (dist/, built by `npm test` first) the way a user gets it: through
// its name and exports map, from another process, with its type declarations.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { useTestDatabase } from "./support/test-database.js";

const run = promisify(execFile);
const db = useTestDatabase();

describe("the built package", () => {
  it("resolves through its exports map and exports the public API", async () => {
    const api = await import("poutbox");
    assert.deepEqual(Object.keys(api).sort(), [
      "Client",
      "Consumer",
      "InvalidOptionError",
      "InvalidPayloadError",
      "Maintenance",
      "PayloadValidationError",
      "PoutboxError",
      "ProgressMismatchError",
      "ReplicationProtocolError",
      "ReplicationSetupError",
      "SchemaMissingError",
      "SchemaVersionError",
      "SlotLostError",
      "TransactionStateError",
      "adoptPartition",
      "asLogger",
      "consoleLogger",
      "countDeadLetters",
      "defineTopics",
      "errorCodes",
      "forEachJob",
      "importPartition",
      "listBlockedKeys",
      "listDeadLetters",
      "listPartitions",
      "migrate",
      "moveConsumer",
      "moveTargets",
      "perJob",
      "purgeDeadLetters",
      "removeConsumer",
      "replicationSlotStatus",
      "requeueDeadLetters",
      "retryKeyHead",
      "silentLogger",
      "skipKeyHead",
      "status",
      "statusToJson",
    ]);
  });

  it("resolves each adapter's subpath to that adapter alone", async () => {
    const adapters: Record<string, string> = {
      pg: "fromPg",
      "postgres-js": "fromPostgresJs",
      kysely: "fromKysely",
      drizzle: "fromDrizzle",
      prisma: "fromPrisma",
      knex: "fromKnex",
      typeorm: "fromTypeOrm",
      "mikro-orm": "fromMikroOrm",
    };
    for (const [subpath, name] of Object.entries(adapters)) {
      const module = await import(`poutbox/${subpath}`);
      assert.deepEqual(Object.keys(module), [name], subpath);
      assert.equal(typeof module[name], "function");
    }
  });

  it("resolves each relay's subpath to the relay and its message contract", async () => {
    for (const [subpath, ...names] of [
      ["nats", "natsRelay"],
      ["rabbitmq", "rabbitmqRelay"],
      ["redis", "redisStreamsRelay"],
      ["mqtt", "mqttMessageIdProperty", "mqttRelay"],
    ]) {
      const module = await import(`poutbox/${subpath}`);
      assert.deepEqual(Object.keys(module).sort(), ["UnsendableJobError", ...names, "relayHeaders"], subpath);
    }
  });

  it("resolves the metrics subpaths: poutbox/opentelemetry and poutbox/prometheus", async () => {
    const otel = await import("poutbox/opentelemetry");
    assert.deepEqual(Object.keys(otel).sort(), ["observeOutbox", "outboxMetricDescriptors", "outboxMetrics"]);
    const prometheus = await import("poutbox/prometheus");
    assert.deepEqual(Object.keys(prometheus).sort(), [
      "outboxMetricDescriptors",
      "outboxMetrics",
      "prometheusHandler",
      "prometheusLabel",
      "prometheusMetrics",
      "prometheusName",
    ]);
  });

  // Each fixture is a user's project compiled against dist/: `consumer` the core API,
  // `topics` the typed topic maps (its expect-error lines are the compile errors a wrong
  // payload must give), `adapters` every driver's real objects through the subpath exports.
  for (const fixture of ["consumer", "topics", "adapters"]) {
    it(`type-checks a user's code against its declarations: ${fixture}`, async () => {
      await run(process.execPath, ["node_modules/typescript/bin/tsc", "-p", `test/fixtures/${fixture}`]).catch(
        (error: { stdout?: string }) => assert.fail(error.stdout ?? String(error)),
      );
    });
  }

  it("migrates from two processes at once: both succeed, each migration applied once", async () => {
    const script = `import("poutbox").then(({ migrate }) => migrate(process.argv[1], { schema: "two_processes" })).then((r) => console.log(JSON.stringify(r)))`;
    const outputs = await Promise.all(
      [1, 2].map(() => run(process.execPath, ["--input-type=module", "-e", script, db.url])),
    );
    const results = outputs.map(({ stdout }) => JSON.parse(stdout));
    const applied = results.flatMap((result) => result.applied).sort();
    const { rows } = await db.pool.query("SELECT version FROM two_processes.schema_migrations ORDER BY version");
    assert.deepEqual(
      applied,
      rows.map((row) => row.version),
    );
    assert.ok(results.every((result) => result.version === rows.length));
  });
});
