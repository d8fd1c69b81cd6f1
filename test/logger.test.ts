// pino, winston and console passed as `logger` as they are, with a consumer and a Maintenance
// against a real database: each line has its message and its fields as structured properties.
import assert from "node:assert/strict";
import { Console } from "node:console";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import { pino } from "pino";
import winston from "winston";
import { asLogger, withFields } from "../src/core/logger.js";
import { Consumer, type Logger, Maintenance, migrate } from "../src/index.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

const db = useTestDatabase((created) => migrate(created.pool));

const malformed = "handler returned something other than nothing or an array of failures";

/** A stream keeping what is written to it. */
function capture(): { stream: Writable; text: () => string; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  const text = () => chunks.join("");
  const lines = () =>
    text()
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { stream, text, lines };
}

/**
 * Runs a consumer whose handler returns a string (a programming error the consumer warns of)
 * on one job, until `logged()` holds; returns the consumer's name and schema and the job's id.
 */
async function malformedBatch(
  logger: Logger | undefined,
  logged: () => unknown,
): Promise<{ name: string; schema: string; id: string }> {
  const { schema, client } = await db.freshSchema("logger");
  const name = `logged_${schema}`;
  const id = String(await client.enqueue({ n: 1 }));
  const consumer = new Consumer(db.pool, async () => "done" as never, {
    name,
    schema,
    maintenance: false,
    ...(logger === undefined ? {} : { logger }),
  });
  await consumer.start();
  try {
    await waitFor(logged, { what: "the handler's malformed value logged" });
  } finally {
    await consumer.stop();
  }
  return { name, schema, id };
}

/** Runs a Maintenance on a schema that is not there until `logged()` holds: it logs an error. */
async function failedMaintenance(logger: Logger | undefined, logged: () => unknown): Promise<void> {
  const maintenance = new Maintenance(db.pool, { schema: "not_there", ...(logger === undefined ? {} : { logger }) });
  maintenance.on("error", () => {});
  maintenance.start();
  try {
    await waitFor(logged, { what: "the maintenance failure logged" });
  } finally {
    await maintenance.stop();
  }
}

describe("logger: pino", () => {
  it("gets the fields as properties of its JSON lines (called fields first)", async () => {
    const out = capture();
    const logger = pino({ level: "warn" }, out.stream);
    const found = () => out.lines().find((line) => String(line.msg).startsWith(malformed));
    const { name, schema, id } = await malformedBatch(logger, found);
    const line = found();
    assert.equal(line?.level, 40);
    assert.equal(line?.msg, `${malformed}; treating the batch as done`);
    assert.equal(line?.consumer, name);
    assert.equal(line?.schema, schema);
    assert.equal(line?.returned, "string");
    assert.equal(line?.batchSize, 1);
    assert.deepEqual(line?.jobIds, [id]);
  });

  it("writes an error field through its err serializer: type, message and stack", async () => {
    const out = capture();
    const logger = pino({ level: "warn" }, out.stream).child({ app: "test" });
    const found = () => out.lines().find((line) => String(line.msg).startsWith("maintenance failed"));
    await failedMaintenance(logger, found);
    const line = found();
    assert.equal(line?.level, 50);
    assert.equal(line?.app, "test");
    assert.equal(line?.schema, "not_there");
    const err = line?.err as Record<string, unknown>;
    assert.equal(err.type, "SchemaMissingError");
    assert.match(String(err.message), /not_there/);
    assert.match(String(err.stack), /^SchemaMissingError: .*\n\s+at /);
    assert.equal(err.code, "SCHEMA_MISSING");
  });
});

describe("logger: winston", () => {
  const winstonLogger = (stream: Writable) =>
    winston.createLogger({
      level: "warn",
      format: winston.format.json(),
      transports: [new winston.transports.Stream({ stream })],
    });

  it("gets the fields as properties of its JSON lines", async () => {
    const out = capture();
    const found = () => out.lines().find((line) => String(line.message).startsWith(malformed));
    const { name, schema, id } = await malformedBatch(winstonLogger(out.stream), found);
    const line = found();
    assert.equal(line?.level, "warn");
    assert.equal(line?.message, `${malformed}; treating the batch as done`);
    assert.equal(line?.consumer, name);
    assert.equal(line?.schema, schema);
    assert.equal(line?.returned, "string");
    assert.equal(line?.batchSize, 1);
    assert.deepEqual(line?.jobIds, [id]);
  });

  it("gets an error field as a plain object with its message and stack (its JSON writes an Error as {})", async () => {
    const out = capture();
    const found = () => out.lines().find((line) => String(line.message).startsWith("maintenance failed"));
    await failedMaintenance(winstonLogger(out.stream), found);
    const line = found();
    assert.equal(line?.level, "error");
    const err = line?.err as Record<string, unknown>;
    assert.equal(err.type, "SchemaMissingError");
    assert.match(String(err.message), /not_there/);
    assert.match(String(err.stack), /^SchemaMissingError: .*\n\s+at /);
    assert.equal(err.code, "SCHEMA_MISSING");
  });
});

describe("logger: console", () => {
  it("a Console writes each line prefixed, the fields after it, warnings to its stderr", async () => {
    const stdout = capture();
    const stderr = capture();
    const logger = new Console({ stdout: stdout.stream, stderr: stderr.stream });
    const { name, schema, id } = await malformedBatch(logger, () => stderr.text().includes(malformed));
    const line = stderr
      .text()
      .split("\n")
      .find((each) => each.includes(malformed));
    assert.ok(line?.startsWith(`poutbox: ${malformed}; treating the batch as done {`), line);
    const text = stderr.text();
    assert.ok(text.includes(`consumer: '${name}'`), text);
    assert.ok(text.includes(`schema: '${schema}'`), text);
    assert.ok(text.includes("returned: 'string'"), text);
    assert.ok(text.includes(`jobIds: [ '${id}' ]`), text);
  });

  it("the global console is called with the fields as an object, an error as the Error", async () => {
    const calls: unknown[][] = [];
    const saved = { debug: console.debug, info: console.info, warn: console.warn, error: console.error };
    for (const level of ["debug", "info", "warn", "error"] as const) {
      console[level] = (...args: unknown[]) => calls.push([level, ...args]);
    }
    try {
      const found = () => calls.find((call) => String(call[1]).includes(malformed));
      const { name, schema, id } = await malformedBatch(console, found);
      const [, message, fields] = found() ?? [];
      assert.equal(message, `poutbox: ${malformed}; treating the batch as done`);
      assert.deepEqual(fields, { consumer: name, schema, returned: "string", batchSize: 1, jobIds: [id] });
      const failed = () => calls.find((call) => String(call[1]).startsWith("poutbox: maintenance failed"));
      await failedMaintenance(console, failed);
      const [level, , errorFields] = failed() ?? [];
      assert.equal(level, "error");
      assert.ok((errorFields as { err: unknown }).err instanceof Error);
    } finally {
      Object.assign(console, saved);
    }
  });

  it("by default, warnings and errors are written to stderr", async () => {
    const written: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      const text = () => written.join("");
      const { name, id } = await malformedBatch(undefined, () => text().includes(malformed));
      const line = text()
        .split("\n")
        .find((each) => each.includes(malformed));
      assert.ok(line?.startsWith(`poutbox: ${malformed}`), line);
      assert.ok(text().includes(`consumer: '${name}'`), text());
      assert.ok(text().includes(`jobIds: [ '${id}' ]`), text());
      await failedMaintenance(undefined, () => text().includes("poutbox: maintenance failed"));
      assert.match(
        text(),
        /poutbox: maintenance failed: [^\n]*not_there[\s\S]*err: SchemaMissingError: [^\n]*\n\s+at /,
      );
    } finally {
      process.stderr.write = write;
    }
  });
});

describe("asLogger", () => {
  it("returns a logger it does not recognise as it is, and what it returned as it is", () => {
    const plain: Logger = { warn() {} };
    assert.equal(asLogger(plain), plain);
    const fromPino = asLogger(pino({ level: "silent" }));
    assert.equal(asLogger(fromPino), fromPino);
    const fromConsole = asLogger(console);
    assert.equal(asLogger(fromConsole), fromConsole);
  });

  it("calls a bunyan-shaped logger fields first, keeping `this`", () => {
    const calls: unknown[][] = [];
    const bunyanLike = {
      addStream() {},
      addSerializers() {},
      levels() {},
      records: calls,
      warn(this: { records: unknown[][] }, ...args: unknown[]) {
        this.records.push(args);
      },
    };
    asLogger(bunyanLike as Logger).warn?.("held", { jobId: "7" });
    assert.deepEqual(calls, [[{ jobId: "7" }, "held"]]);
  });

  it("keeps pino's level: a level it turns on later is written", () => {
    const out = capture();
    const given = pino({ level: "warn" }, out.stream);
    const logger = asLogger(given);
    logger.info?.("before");
    given.level = "info";
    logger.info?.("after", { n: 1 });
    assert.deepEqual(
      out.lines().map((line) => [line.msg, line.n]),
      [["after", 1]],
    );
  });

  it("withFields adds its fields to each call, a call's own winning, and keeps the levels there are", () => {
    const calls: unknown[][] = [];
    const logger = withFields({ warn: (...args) => calls.push(args) }, { consumer: "a", schema: "s" });
    assert.equal(logger.info, undefined);
    logger.warn?.("one");
    logger.warn?.("two", { schema: "t", n: 2 });
    assert.deepEqual(calls, [
      ["one", { consumer: "a", schema: "s" }],
      ["two", { consumer: "a", schema: "t", n: 2 }],
    ]);
  });
});
