// Session settings a role or database may carry, and pg type parsers an application may set,
// must not change what Poutbox writes, what handlers get, or what its own reads return.
// Every case below runs as a role of its own that carries hostile settings, in a process
// whose pg parsers are overridden; expected values are read on a plain connection (the
// postgres role, default settings) by settings-proof SQL: every value as text, times as
// `extract(epoch ...)::text`.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type pg from "pg";
import {
  Client,
  Consumer,
  type JobFailure,
  listDeadLetters,
  listPartitions,
  Maintenance,
  type MaintenanceReport,
} from "../src/index.js";
import { partitionName } from "../src/maintenance/partition-plan.js";
import {
  createHostileRole,
  dropHostileRoles,
  type HostileRole,
  nonCLocale,
  overrideGlobalParsers,
  type Setting,
  sessionSettings,
} from "./support/hostile-settings.js";
import { needs } from "./support/needs.js";
import { recorder } from "./support/recorder.js";
import { dropSlots } from "./support/replication.js";
import { useTestDatabase } from "./support/test-database.js";
import { waitFor } from "./support/wait-for.js";

/** Each role mixes settings so that every one of them meets both consumer modes. */
const roleSettings: Record<string, Setting[]> = {
  sql_dmy: [
    ["DateStyle", "'SQL, DMY'"],
    ["TimeZone", "'Pacific/Chatham'"], // +13:45 / +12:45
    ["IntervalStyle", "'sql_standard'"],
    ["extra_float_digits", "-15"],
    ["bytea_output", "'escape'"],
    ["search_path", "''"],
    ["default_transaction_isolation", "'serializable'"],
    ["standard_conforming_strings", "off"],
  ],
  german: [
    ["DateStyle", "'German, DMY'"],
    ["TimeZone", "'America/St_Johns'"], // -03:30 / -02:30
    ["IntervalStyle", "'iso_8601'"],
    ["extra_float_digits", "-15"],
    // A schema before pg_catalog, holding tables named like the library's (created in setup).
    ["search_path", "settings_decoy, pg_catalog, public"],
    ["timezone_abbreviations", "'Australia'"],
    ["quote_all_identifiers", "on"],
    // pg sends client_encoding=UTF8 at startup, which overrides this.
    ["client_encoding", "'LATIN1'"],
  ],
  postgres_mdy: [
    ["DateStyle", "'Postgres, MDY'"],
    ["TimeZone", "'Asia/Kathmandu'"], // +05:45
    ["IntervalStyle", "'postgres_verbose'"],
    ["extra_float_digits", "3"],
    ["bytea_output", "'escape'"],
    ["default_transaction_isolation", "'repeatable read'"],
    ["array_nulls", "off"],
    ["transform_null_equals", "on"],
  ],
  sql_mdy: [
    ["DateStyle", "'SQL, MDY'"],
    ["TimeZone", "'Pacific/Kiritimati'"], // +14
    ["IntervalStyle", "'sql_standard'"],
    ["extra_float_digits", "-15"],
    ["default_transaction_isolation", "'serializable'"],
    ["standard_conforming_strings", "off"],
    ["search_path", "pg_catalog"],
  ],
};

const roles: HostileRole[] = [];
const pools = new Map<string, pg.Pool>();
let restoreParsers: (() => void) | undefined;
let localeNote = "";

const db = useTestDatabase(async (created) => {
  // Tables a library that forgot to qualify a name would write to or read from.
  await created.pool.query(`
    CREATE SCHEMA settings_decoy;
    CREATE TABLE settings_decoy.immediate (decoy int);
    CREATE TABLE settings_decoy.scheduled (decoy int);
    CREATE TABLE settings_decoy.failed (decoy int);
    CREATE TABLE settings_decoy.dead_letter (decoy int);
    CREATE TABLE settings_decoy.consumers (decoy int);
    CREATE SEQUENCE settings_decoy.job_id_seq START 900000000;`);
  const locale = await nonCLocale(created.pool);
  localeNote = locale ? `lc_monetary, lc_numeric and lc_time: ${locale}` : "no locale but C on the server";
  if (locale) {
    for (const name of ["lc_monetary", "lc_numeric", "lc_time"]) roleSettings.german?.push([name, `'${locale}'`]);
  }
  for (const [label, settings] of Object.entries(roleSettings)) {
    const role = await createHostileRole(created.url, label, settings);
    roles.push(role);
    pools.set(role.name, created.newPool({ connectionString: role.url, max: 12 }));
  }
  restoreParsers = overrideGlobalParsers();
});

// After useTestDatabase's own hook (hooks run in the order registered): the database, with
// the partitions the roles made, is gone by then; dropHostileRoles copes either way.
after(async () => {
  restoreParsers?.();
  await dropHostileRoles(
    db.url,
    roles.map((role) => role.name),
  );
});

const poolOf = (role: HostileRole) => pools.get(role.name) as pg.Pool;
const subscribing = new Set(["sql_dmy", "german"]);
const hour = 3_600_000;

// Text, quotes, backslashes, placeholders and characters outside Latin-1: what a payload
// carries must come back as it went in, whatever the session's client_encoding or
// standard_conforming_strings.
const tricky = "Grüße aus Köln, 東京, Ωμέγα, 🎉, עברית, back\\slash \"quote\" 'single' $1 ? %s";
const topic = "order.créé";
const headers = { trace: "t-ü-1", "x-Ünïcode": "värde ✓ 東" };
const payload = (tag: string) => ({
  tag,
  tricky,
  float: 0.30000000000000004,
  tiny: 1e-7,
  big: 9007199254740991,
  when: "2026-12-04T23:59:59.999Z",
  nested: [{ ü: "ß" }, null, true, -0.5],
});
// Late on 4 December in UTC: 5 December in Chatham and Kiritimati, an instant whose
// day-month order and calendar date differ with DateStyle and TimeZone.
const farRunAt = new Date(Date.UTC(2031, 11, 4, 23, 59, 58, 123));

/** Milliseconds since 1970, cut towards the past, of `extract(epoch ...)::text`. */
function epochTextMs(text: string | null): number | null {
  if (text === null) return null;
  const match = /^(\d+)(?:\.(\d+))?$/.exec(text);
  if (!match) throw new Error(`not an epoch: ${text}`);
  return Number(match[1]) * 1000 + Number(`${match[2] ?? ""}000`.slice(0, 3));
}

interface StoredRow {
  table: string;
  id: string;
  attempt: number;
  consumer: string | null;
  topic: string | null;
  payload: string;
  headers: string | null;
  created: string;
  enqueued: string | null;
  runAt: string | null;
  xid: string | null;
}

/** Every job row of `schema`, read on the plain connection as text. */
async function storedRows(schema: string): Promise<StoredRow[]> {
  const common = "id::text AS id, topic, payload::text AS payload, headers::text AS headers";
  const { rows } = await db.pool.query<StoredRow>(
    `SELECT 'immediate' AS table, ${common}, attempt, consumer,
            extract(epoch FROM created_at)::text AS created,
            extract(epoch FROM coalesce(enqueued_at, created_at))::text AS enqueued,
            NULL AS "runAt", transaction_id::text AS xid
       FROM ${schema}.immediate
     UNION ALL
     SELECT 'scheduled', ${common}, 0, NULL, extract(epoch FROM created_at)::text, NULL,
            extract(epoch FROM run_at)::text, NULL
       FROM ${schema}.scheduled
     ORDER BY 1, 2, 4`,
  );
  return rows;
}

async function sqlEnqueue(pool: pg.Pool, schema: string, body: unknown, runAt?: Date): Promise<bigint> {
  const { rows } = await pool.query(
    `SELECT ${schema}.enqueue($1::json, topic => $2, headers => $3::json, run_at => $4::timestamptz)::text AS id`,
    [JSON.stringify(body), topic, JSON.stringify(headers), runAt?.toISOString() ?? null],
  );
  return BigInt(rows[0].id);
}

interface Expected {
  readonly body: unknown;
  readonly topic: string | null;
  readonly headers: object;
  readonly runAt?: Date;
}

/** Ids of one round of enqueues, by what should become of them. */
interface Round {
  /** Delivered at once. */
  readonly immediate: bigint[];
  /** Scheduled with a run_at already past: promoted, then delivered. */
  readonly due: bigint[];
  /** Scheduled for farRunAt: never delivered here. */
  readonly far: bigint[];
}

/**
 * One round of every kind of enqueue, as the role: Client.enqueue with topic and headers,
 * enqueueMany in the role's transaction (immediate and scheduled), Client.enqueue with a past
 * and a far runAt, the SQL function without and with run_at. Records what each should carry.
 */
async function enqueueRound(
  pool: pg.Pool,
  schema: string,
  round: string,
  expected: Map<bigint, Expected>,
): Promise<Round> {
  const client = new Client(pool, { schema });
  const add = (id: bigint, tag: string, runAt?: Date, tagged = true) => {
    expected.set(id, {
      body: payload(`${round} ${tag}`),
      topic: tagged ? topic : null,
      headers: tagged ? headers : {},
      runAt,
    });
    return id;
  };
  const one = add(await client.enqueue(payload(`${round} one`), { topic, headers }), "one");
  const tx = await pool.connect();
  let many: bigint[];
  let farMany: bigint[];
  try {
    await tx.query("BEGIN");
    many = await client.enqueueMany([payload(`${round} many 1`), payload(`${round} many 2`)], { tx, topic, headers });
    farMany = await client.enqueueMany([payload(`${round} far many 1`), payload(`${round} far many 2`)], {
      tx,
      runAt: farRunAt,
    });
    await tx.query("COMMIT");
  } catch (error) {
    await tx.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    tx.release();
  }
  for (const [i, id] of many.entries()) add(id, `many ${i + 1}`);
  for (const [i, id] of farMany.entries()) add(id, `far many ${i + 1}`, farRunAt, false);
  const dueAt = new Date(Date.now() - 1500);
  const due = add(await client.enqueue(payload(`${round} due`), { topic, headers, runAt: dueAt }), "due", dueAt);
  const far = add(await client.enqueue(payload(`${round} far`), { runAt: farRunAt }), "far", farRunAt, false);
  const sqlOne = add(await sqlEnqueue(pool, schema, payload(`${round} sql`)), "sql");
  const sqlDueAt = new Date(Date.now() - 1234);
  const sqlDue = add(await sqlEnqueue(pool, schema, payload(`${round} sql due`), sqlDueAt), "sql due", sqlDueAt);
  const sqlFar = add(await sqlEnqueue(pool, schema, payload(`${round} sql far`), farRunAt), "sql far", farRunAt);
  return { immediate: [one, ...many, sqlOne], due: [due, sqlDue], far: [...farMany, far, sqlFar] };
}

/**
 * Checks the stored rows of `ids` against what was enqueued: immediate ones (their first row)
 * and far ones always, due ones while they still wait. Returns each id's first-enqueue time.
 */
async function checkStored(
  schema: string,
  ids: readonly bigint[],
  expected: ReadonlyMap<bigint, Expected>,
  window: { from: number; to: number },
): Promise<Map<bigint, number>> {
  const rows = (await storedRows(schema)).filter((row) => ids.includes(BigInt(row.id)) && row.attempt === 0);
  const firstEnqueue = new Map<bigint, number>();
  for (const row of rows) {
    const id = BigInt(row.id);
    const job = expected.get(id);
    assert.ok(job, `row ${row.id} was enqueued here`);
    if (row.table === "immediate" && job.runAt) continue; // promoted already: checked on delivery
    assert.equal(row.table, job.runAt ? "scheduled" : "immediate", `job ${row.id}'s table`);
    assert.deepEqual(JSON.parse(row.payload), job.body, `job ${row.id}'s stored payload`);
    assert.equal(row.topic, job.topic, `job ${row.id}'s stored topic`);
    assert.deepEqual(
      row.headers === null ? {} : JSON.parse(row.headers),
      job.headers,
      `job ${row.id}'s stored headers`,
    );
    assert.equal(epochTextMs(row.runAt), job.runAt?.getTime() ?? null, `job ${row.id}'s stored run_at (${row.runAt})`);
    const created = epochTextMs(row.created) as number;
    assert.ok(
      created >= window.from - 60_000 && created <= window.to + 60_000,
      `job ${row.id} created at ${row.created}`,
    );
    firstEnqueue.set(id, created);
  }
  return firstEnqueue;
}

/** A Date's milliseconds, or what the value is when it is no valid Date (for messages). */
function ms(value: unknown): number | string {
  return value instanceof Date && !Number.isNaN(value.getTime()) ? value.getTime() : String(value);
}

/**
 * As `role`, enqueues one round of every kind of job and checks what was stored, starts a
 * `mode` consumer, and once that round is delivered, enqueues a second round with a job that
 * fails once and one that fails for good (so in replication mode the first round comes by the
 * catch-up poll and the second by the stream). Then checks every delivery against its row,
 * the dead letter and the partitions the consumer's maintenance made.
 */
async function deliverAs(role: HostileRole, mode: "polling" | "replication"): Promise<void> {
  const pool = poolOf(role);
  const { schema } = await db.freshSchema(`${role.label}_${mode}`);
  const expected = new Map<bigint, Expected>();
  let from = Date.now();
  const early = await enqueueRound(pool, schema, "early", expected);
  const firstEnqueue = await checkStored(schema, [...expected.keys()], expected, { from, to: Date.now() });
  assert.equal(firstEnqueue.size, expected.size, "every early row was found");

  // By payload: a job may be delivered before its enqueue has returned its id.
  const tagOf = (job: { payload: unknown }) => (job.payload as { tag?: string } | null)?.tag;
  const record = recorder(
    async (jobs): Promise<JobFailure[]> =>
      jobs
        .filter((job) => tagOf(job) === "late doomed" || (tagOf(job) === "late flaky" && job.attempt === 1))
        .map((job) => ({ job, error: new Error(`fails on attempt ${job.attempt}`) })),
  );
  let failing: { flaky: bigint; doomed: bigint } | undefined;
  const consumer = new Consumer(pool, record.handler, {
    schema,
    mode,
    name: "settings",
    maxAttempts: 2,
    promoteInterval: 20,
    backoff: { base: 20, jitter: 0 },
    reconnectDelay: 20,
    // No partition may go while the rows are checked, whatever hour the test runs at.
    maintenance: { retention: 24 * hour },
    // Half the roles subscribe, by a pattern that reaches into the topic's non-ASCII part:
    // every job here that is due has that topic, so the expectations stay the same.
    ...(subscribing.has(role.label) ? { subscribe: ["order.cr*", "unrelated"] } : {}),
  });
  const errors: Error[] = [];
  const reports: MaintenanceReport[] = [];
  consumer.on("error", (error) => errors.push(error));
  consumer.on("maintenance", (report) => reports.push(report));
  const delivered = (keys: readonly string[]) => {
    const seen = new Set(record.deliveries.map((job) => `${job.id}#${job.attempt}`));
    return keys.every((key) => seen.has(key));
  };
  const summary = () =>
    `delivered: ${record.deliveries.map((job) => `${job.id}#${job.attempt} created ${ms(job.createdAt)}`).join(", ")}; ` +
    `errors: ${errors.map((error) => error.message).join("; ")}`;
  const firstKeys = [...early.immediate, ...early.due].map((id) => `${id}#1`);
  let wanted = firstKeys;
  await consumer.start();
  try {
    await waitFor(() => delivered(firstKeys), { what: `${role.label} ${mode}: the early round` }).catch(
      (error: Error) => {
        throw new Error(`${error.message}\n${summary()}`, { cause: error });
      },
    );
    from = Date.now();
    const late = await enqueueRound(pool, schema, "late", expected);
    const client = new Client(pool, { schema });
    failing = {
      flaky: await client.enqueue(payload("late flaky"), { topic, headers }),
      doomed: await client.enqueue(payload("late doomed"), { topic, headers }),
    };
    expected.set(failing.flaky, { body: payload("late flaky"), topic, headers });
    expected.set(failing.doomed, { body: payload("late doomed"), topic, headers });
    const lateIds = [...late.immediate, ...late.due, ...late.far, failing.flaky, failing.doomed];
    for (const [id, at] of await checkStored(schema, lateIds, expected, { from, to: Date.now() })) {
      firstEnqueue.set(id, at);
    }
    wanted = [
      ...firstKeys,
      ...[...late.immediate, ...late.due].map((id) => `${id}#1`),
      ...[failing.flaky, failing.doomed].flatMap((id) => [`${id}#1`, `${id}#2`]),
    ];
    await waitFor(
      async () => {
        if (!delivered(wanted) || !reports.some((report) => report.ran)) return false;
        const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM ${schema}.dead_letter`);
        return rows[0].n === 1;
      },
      { what: `${role.label} ${mode}: the late round, a dead letter and a maintenance run` },
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${summary()}`, { cause: error });
    });
  } finally {
    await consumer.stop();
    if (mode === "replication") await dropSlots(db.pool, schema, "settings");
  }

  // Not even a serialization failure where the role makes transactions SERIALIZABLE: the
  // library's own run at READ COMMITTED (test/session-defaults.test.ts).
  assert.deepEqual(
    errors.map((error) => error.message),
    [],
    "the consumer met no error",
  );
  assert.deepEqual(
    record.deliveries.map((job) => `${job.id}#${job.attempt}`).sort(),
    [...wanted].sort(),
    "each due job delivered once, the failing ones once per attempt, none of the far ones",
  );

  // Every delivery against its row; every difference is listed, so one run shows them all.
  const rows = await storedRows(schema);
  const differences: string[] = [];
  const compare = (what: string, actual: unknown, wanted: unknown) => {
    try {
      assert.deepEqual(actual, wanted);
    } catch {
      differences.push(
        `${what}: got ${typeof actual === "string" ? actual : JSON.stringify(actual)}, want ${JSON.stringify(wanted)}`,
      );
    }
  };
  for (const job of record.deliveries) {
    const what = `job ${job.id}#${job.attempt}`;
    const row = rows.find(
      (each) => each.table === "immediate" && BigInt(each.id) === job.id && each.attempt === job.attempt - 1,
    );
    assert.ok(row, `${what}: its immediate row`);
    compare(`${what} id type`, typeof job.id, "bigint");
    compare(`${what} payload`, job.payload, expected.get(job.id)?.body);
    compare(`${what} payload as stored`, job.payload, JSON.parse(row.payload));
    compare(`${what} topic`, job.topic, row.topic);
    compare(`${what} headers`, job.headers, expected.get(job.id)?.headers);
    compare(`${what} transactionId`, String(job.transactionId), row.xid);
    compare(`${what} createdAt`, ms(job.createdAt), epochTextMs(row.created));
    compare(`${what} enqueuedAt`, ms(job.enqueuedAt), epochTextMs(row.enqueued));
    // The first enqueue, whatever happened since: promotion, retry.
    const firstAt = firstEnqueue.get(job.id);
    if (firstAt !== undefined) compare(`${what} enqueuedAt is the first enqueue`, ms(job.enqueuedAt), firstAt);
  }
  assert.deepEqual(differences, [], `${role.label} ${mode}: deliveries that differ from their rows`);
  for (const id of early.due) {
    const job = record.deliveries.find((each) => each.id === id);
    assert.ok(job && firstEnqueue.has(id), "an early due job's enqueue time was read before it was promoted");
    assert.ok(job.createdAt.getTime() >= (expected.get(id)?.runAt?.getTime() as number), "promoted after its run_at");
    assert.ok(job.createdAt.getTime() > job.enqueuedAt.getTime(), "a promoted job's row is newer than its enqueue");
  }
  const [first, retry] = record.deliveries.filter((job) => job.id === failing?.flaky);
  assert.ok(first && retry);
  assert.equal(ms(retry.enqueuedAt), ms(first.enqueuedAt), "a retry keeps enqueuedAt");
  assert.ok(retry.createdAt.getTime() > first.createdAt.getTime(), "a retry's row is written after the first");
  // The far jobs wait, with the run_at they were given.
  for (const id of expected.keys()) {
    if (expected.get(id)?.runAt !== farRunAt) continue;
    const row = rows.find((each) => BigInt(each.id) === id);
    assert.equal(row?.table, "scheduled");
    assert.equal(epochTextMs(row?.runAt ?? null), farRunAt.getTime());
  }

  await checkDeadLetter(pool, schema, failing?.doomed as bigint, expected.get(failing?.doomed as bigint)?.body);
  await checkPartitions(pool, mode, schema, reports);
}

/** listDeadLetters, as the role with the application's parsers, against the plain reading. */
async function checkDeadLetter(pool: pg.Pool, schema: string, id: bigint, body: unknown): Promise<void> {
  const [letter, ...others] = await listDeadLetters(pool, { schema });
  assert.equal(others.length, 0);
  const { rows } = await db.pool.query(
    `SELECT id::text, extract(epoch FROM created_at)::text AS created, extract(epoch FROM failed_at)::text AS failed,
            extract(epoch FROM dead_at)::text AS dead
       FROM ${schema}.dead_letter`,
  );
  assert.equal(letter?.id, id);
  assert.deepEqual(letter?.payload, body);
  assert.equal(letter?.topic, topic);
  assert.deepEqual(letter?.headers, headers);
  assert.equal(letter?.attempts, 2);
  assert.equal(ms(letter?.createdAt), epochTextMs(rows[0].created), `dead letter createdAt (${rows[0].created})`);
  assert.equal(ms(letter?.failedAt), epochTextMs(rows[0].failed), `dead letter failedAt (${rows[0].failed})`);
  assert.equal(ms(letter?.deadAt), epochTextMs(rows[0].dead), `dead letter deadAt (${rows[0].dead})`);
}

/**
 * The partitions maintenance made as the role (the consumer's runs, then one more run once
 * the consumer stopped, which must drop nothing): whole hours from the Unix epoch, named by
 * their start in UTC, exactly those the reports say were created, and every hour from each
 * run to three hours later covered, unless it had begun and the jobs enqueued before the
 * first run held it in the default partition. Then listPartitions as the role reads them
 * back, and for a polling consumer, which has passed every row, a run without retention
 * empties the default partition.
 */
async function checkPartitions(
  pool: pg.Pool,
  mode: string,
  schema: string,
  reports: readonly MaintenanceReport[],
): Promise<void> {
  // A run can skip a range as "locked" (lock_timeout): the run after it makes it.
  const again = await new Maintenance(pool, { schema, retention: 24 * hour }).runOnce();
  assert.equal(again.ran, true);
  assert.deepEqual(again.dropped, []);
  const runs = [...reports, again].filter((report) => report.ran);
  const created = runs.flatMap((report) => report.created);
  const skipped = runs.flatMap((report) => report.skipped);
  const what = `partitions of runs at ${runs.map((report) => report.at.toISOString()).join(", ")}`;

  const client = await db.pool.connect();
  let rows: { name: string; bound: string }[];
  try {
    await client.query("BEGIN");
    await client.query("SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO'");
    ({ rows } = await client.query(
      `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = '${schema}.immediate'::regclass ORDER BY 1`,
    ));
    await client.query("COMMIT");
  } finally {
    client.release();
  }
  assert.equal(rows.filter((row) => row.bound === "DEFAULT").length, 1);
  const ranges = rows
    .filter((row) => row.bound !== "DEFAULT")
    .map((row) => {
      const match = /^FOR VALUES FROM \('([^']+)'\) TO \('([^']+)'\)$/.exec(row.bound);
      assert.ok(match, `partition ${row.name}: ${row.bound}`);
      const utc = (text: string) => new Date(`${text.replace(" ", "T").replace(/\+00$/, "")}Z`).getTime();
      return { name: row.name, from: utc(match[1] as string), to: utc(match[2] as string) };
    });
  for (const range of ranges) {
    assert.equal(range.name, partitionName(range.from), `${range.name} is named by its start`);
    assert.equal(range.to - range.from, hour, `${range.name} spans an hour`);
  }
  assert.deepEqual(
    ranges.map((range) => `${range.name} ${range.from}-${range.to}`),
    created.map((range) => `${range.name} ${range.from.getTime()}-${range.to.getTime()}`).sort(),
    `${what}: the partitions are those reported created`,
  );
  for (const report of runs) {
    const at = report.at.getTime();
    assert.ok(Math.abs(at - Date.now()) < 5 * 60_000, `a run at ${report.at.toISOString()} is a run now`);
    for (let from = Math.floor(at / hour) * hour; from <= at + 3 * hour; from += hour) {
      const name = partitionName(from);
      const covered = ranges.some((range) => range.name === name);
      const waiting = from <= at && skipped.some((each) => each.name === name && each.reason === "default-rows");
      assert.ok(covered || waiting, `${what}: ${name} (skipped: ${JSON.stringify(skipped)})`);
    }
  }

  const listed = await listPartitions(pool, { schema });
  assert.deepEqual(
    listed
      .filter((each) => !each.isDefault)
      .map((each) => `${each.name} ${each.from?.getTime()}-${each.to?.getTime()}`),
    ranges.map((range) => `${range.name} ${range.from}-${range.to}`),
    "listPartitions as the role",
  );
  assert.deepEqual(
    listed.filter((each) => each.isDefault).map((each) => each.name),
    ["immediate_default"],
  );

  if (mode === "replication") return; // its progress snapshot is recorded about once a second
  const cleared = await waitFor(
    async () => {
      const report = await new Maintenance(pool, { schema }).runOnce();
      return report.defaultRowsRemoved > 0 ? report : undefined;
    },
    { timeout: 20_000, what: "a run to empty the default partition" },
  );
  for (const range of cleared.dropped) assert.ok(range.to.getTime() <= Date.now(), `${range.name} had ended`);
  const { rows: left } = await db.pool.query(`SELECT count(*)::int AS n FROM ONLY ${schema}.immediate_default`);
  assert.equal(left[0].n, 0);
}

describe("hostile roles", () => {
  it("every role's sessions carry its settings (so the cases below test them)", async () => {
    for (const role of roles) {
      const names = role.settings.map(([name]) => name);
      const actual = await sessionSettings(role.url, names);
      for (const [name, value] of role.settings) {
        const want = value.replace(/^'|'$/g, "").replace(/^""$/, "");
        if (name === "client_encoding") {
          assert.equal(actual[name], "UTF8", "pg's startup client_encoding wins over the role's");
        } else if (name === "search_path") {
          assert.equal(actual[name], want === "" ? '""' : want, `${role.label} ${name}`);
        } else {
          assert.equal(actual[name]?.toLowerCase(), want.toLowerCase(), `${role.label} ${name}`);
        }
      }
    }
  });
});

describe("enqueue and delivery as roles with hostile settings, with pg's global parsers overridden", {
  concurrency: true,
}, () => {
  for (const label of Object.keys(roleSettings)) {
    for (const mode of ["polling", "replication"] as const) {
      it(
        `${label} (${roleSettings[label]?.map(([name, value]) => `${name}=${value}`).join(", ")}): ${mode}`,
        mode === "replication" ? needs("logical-replication") : {},
        async (t) => {
          if (label === "german") t.diagnostic(localeNote);
          const role = roles.find((each) => each.label === label);
          assert.ok(role);
          await deliverAs(role, mode);
        },
      );
    }
  }
});

describe("after the cases", () => {
  it("the decoy schema on a role's search_path was never written to", async () => {
    const { rows } = await db.pool.query(
      `SELECT (SELECT count(*) FROM settings_decoy.immediate) + (SELECT count(*) FROM settings_decoy.scheduled)
            + (SELECT count(*) FROM settings_decoy.failed) + (SELECT count(*) FROM settings_decoy.dead_letter)
            + (SELECT count(*) FROM settings_decoy.consumers) AS n,
              (SELECT is_called FROM settings_decoy.job_id_seq)::text AS used`,
    );
    assert.equal(String(rows[0].n), "0");
    assert.equal(rows[0].used, "false");
  });

  it("maintenance skips its run while another holds its lock, whatever pg's parsers say", async () => {
    const role = roles[0] as HostileRole;
    const { schema } = await db.freshSchema("maintenance_lock");
    const holder = await db.pool.connect();
    try {
      await holder.query("SELECT pg_advisory_lock(hashtextextended($1, 0))", [`poutbox.maintenance.${schema}`]);
      const report = await new Maintenance(poolOf(role), { schema }).runOnce();
      assert.equal(report.ran, false);
    } finally {
      await holder.query("SELECT pg_advisory_unlock_all()");
      holder.release();
    }
  });
});
