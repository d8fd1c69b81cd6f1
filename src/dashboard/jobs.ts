import { epochMs } from "../database/epoch.js";
import { queryRows, sql } from "../database/query-rows.js";
import type { Queryable } from "../database/queryable.js";
import { pendingFor } from "../status/status-queries.js";
import { HttpError, parseJobId, parseTime } from "./http.js";

// Job search for the dashboard: one filter, turned into one statement per state, used alike by
// the list, the detail and the bulk actions (so an action acts on exactly what its preview
// counted). Every value the user gives travels as a bind parameter; only the schema name,
// validated and quoted by resolveSchema, is spliced into the text.

export const jobStates = ["pending", "scheduled", "failed", "dead"] as const;
export type JobState = (typeof jobStates)[number];

/** Which jobs: a state and narrowing filters (every one given must hold). */
export interface JobFilter {
  readonly state: JobState;
  /** Required for `pending` (pending for whom); for `failed` and `dead`, the consumer they belong to. */
  readonly consumer?: string;
  /** Any of these exact topic names. */
  readonly topics?: readonly string[];
  readonly key?: string;
  readonly id?: bigint;
  /** created_at at or after. */
  readonly from?: Date;
  /** created_at at or before. */
  readonly to?: Date;
  /** Text the payload's JSON contains, case-insensitively (no wildcards: `%` and `_` are plain characters). */
  readonly q?: string;
}

/** A job in a list, in JSON types. */
export interface JobRowJson {
  readonly id: string;
  readonly state: JobState;
  readonly topic: string | null;
  readonly key: string | null;
  /** The consumer it is pending for, or that failed it; null for a scheduled job (it belongs to none yet). */
  readonly consumer: string | null;
  /** Deliveries attempted so far. */
  readonly attempt: number;
  readonly createdAt: string | null;
  /** scheduled: when it is due; failed: its next retry; otherwise null. */
  readonly runAt: string | null;
  readonly lastError: string | null;
  /** The first 200 characters of the payload's JSON text. */
  readonly payloadPreview: string;
}

/** A job in full. */
export interface JobDetailJson extends JobRowJson {
  readonly payload: unknown;
  /** The payload's JSON text as stored (json, byte for byte). */
  readonly payloadText: string;
  readonly headers: Record<string, unknown>;
  /** The trace id of headers.traceparent (W3C), or null. */
  readonly traceId: string | null;
  /** Deliveries attempted so far (the same as attempt). */
  readonly attempts: number;
}

interface Row {
  id: string;
  topic: string | null;
  key: string | null;
  consumer: string | null;
  attempt: number | string;
  created_ms: string | null;
  run_ms: string | null;
  last_error: string | null;
  preview: string;
  payload?: string;
  headers?: string | null;
}

/** Most a list or a bulk action takes in one call. */
export const listLimitMax = 500;
export const actionCap = 10_000;

const previewLength = 200;

interface Statement {
  readonly text: string;
  readonly values: unknown[];
}

/**
 * The statement selecting the filter's jobs, newest first. `pendingWithoutConsumer`: for a
 * detail, a pending job looked up by id alone (its row in immediate, whoever has still to
 * handle it).
 */
function selectJobs(
  quotedSchema: string,
  filter: JobFilter,
  options: {
    readonly full?: boolean;
    readonly before?: bigint;
    readonly limit: number;
    readonly ids?: readonly bigint[];
  },
): Statement {
  const values: unknown[] = [];
  const add = (value: unknown) => {
    values.push(value);
    return `$${values.length}`;
  };
  const where: string[] = [];
  let from: string;
  let prefix = "";
  let consumer: string;
  let attempt: string;
  let runAt = "NULL::timestamptz";
  let lastError = "NULL::text";
  switch (filter.state) {
    case "pending": {
      if (filter.consumer === undefined) {
        from = `${quotedSchema}.immediate j`;
        consumer = "j.consumer";
      } else {
        const name = add(filter.consumer);
        prefix = `WITH c AS (
          SELECT ${name}::text AS name, coalesce(k.snapshot, '1:1:'::pg_snapshot) AS snapshot,
                 k.window_snapshot, k.position_xid, k.position_id
            FROM (SELECT 1) one LEFT JOIN ${quotedSchema}.consumers k ON k.name = ${name}::text)`;
        from = `${quotedSchema}.immediate j, c`;
        where.push(pendingFor("j", "c"));
        consumer = "c.name";
      }
      attempt = "j.attempt";
      break;
    }
    case "scheduled":
      from = `${quotedSchema}.scheduled j`;
      consumer = "NULL::text";
      attempt = "0";
      runAt = "j.run_at";
      break;
    case "failed":
      from = `${quotedSchema}.failed j`;
      consumer = "j.consumer";
      attempt = "j.attempt";
      runAt = "j.next_retry_at";
      lastError = "j.last_error";
      break;
    case "dead":
      from = `${quotedSchema}.dead_letter j`;
      consumer = "j.consumer";
      attempt = "j.attempts";
      lastError = "j.last_error";
      break;
  }
  if (filter.consumer !== undefined && filter.state !== "pending") where.push(`j.consumer = ${add(filter.consumer)}`);
  if (filter.topics !== undefined)
    where.push(`j.topic IN (SELECT json_array_elements_text(${add(JSON.stringify(filter.topics))}::text::json))`);
  if (filter.key !== undefined) where.push(`j.key = ${add(filter.key)}`);
  if (filter.id !== undefined) where.push(`j.id = ${add(String(filter.id))}::bigint`);
  if (filter.from !== undefined) where.push(`j.created_at >= ${add(filter.from.toISOString())}::timestamptz`);
  if (filter.to !== undefined) where.push(`j.created_at <= ${add(filter.to.toISOString())}::timestamptz`);
  if (filter.q !== undefined) where.push(`j.payload::text ILIKE ${add(`%${escapeLike(filter.q)}%`)}`);
  if (options.ids !== undefined)
    where.push(
      `j.id IN (SELECT json_array_elements_text(${add(JSON.stringify(options.ids.map(String)))}::text::json)::bigint)`,
    );
  if (options.before !== undefined) where.push(`j.id < ${add(String(options.before))}::bigint`);
  const limit = add(options.limit);
  const full = options.full ? ", j.payload::text AS payload, j.headers::text AS headers" : "";
  const text = `${prefix}
    SELECT j.id::text AS id, j.topic, j.key, ${consumer} AS consumer, ${attempt} AS attempt,
           ${epochMs("j.created_at")}::text AS created_ms, ${epochMs(runAt)}::text AS run_ms,
           ${lastError} AS last_error, left(j.payload::text, ${previewLength}) AS preview${full}
      FROM ${from}
     WHERE ${where.length > 0 ? where.join(" AND ") : "true"}
     ORDER BY j.id DESC, 4
     LIMIT ${limit}::int`;
  return { text, values };
}

/** `%`, `_` and `\` as plain characters in an ILIKE pattern (whose escape character is `\`). */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (character) => `\\${character}`);
}

async function run(db: Queryable, statement: Statement): Promise<Row[]> {
  return queryRows(db, sql<Row>(statement.text), statement.values);
}

function rowJson(state: JobState, row: Row): JobRowJson {
  return {
    id: String(row.id),
    state,
    topic: row.topic,
    key: row.key,
    consumer: row.consumer,
    attempt: Number(row.attempt),
    createdAt: iso(row.created_ms),
    runAt: iso(row.run_ms),
    lastError: row.last_error,
    payloadPreview: String(row.preview),
  };
}

function iso(ms: string | null): string | null {
  return ms === null ? null : new Date(Number(ms)).toISOString();
}

/** Whether the schema has a consumer of this name (pending jobs are counted against its progress). */
export async function consumerExists(db: Queryable, quotedSchema: string, name: string): Promise<boolean> {
  const rows = await queryRows(
    db,
    sql<{ found: boolean }>(`SELECT true AS found FROM ${quotedSchema}.consumers WHERE name = $1`),
    [name],
  );
  return rows.length > 0;
}

/** A page of jobs, newest first, and the cursor (`before`) of the next page, or null. */
export async function listJobs(
  db: Queryable,
  quotedSchema: string,
  filter: JobFilter,
  page: { readonly limit: number; readonly before?: bigint },
): Promise<{ jobs: JobRowJson[]; next: string | null }> {
  const rows = await run(db, selectJobs(quotedSchema, filter, { limit: page.limit + 1, before: page.before }));
  const more = rows.length > page.limit;
  const jobs = rows.slice(0, page.limit).map((row) => rowJson(filter.state, row));
  return { jobs, next: more && jobs.length > 0 ? (jobs[jobs.length - 1] as JobRowJson).id : null };
}

/** One job in full, or undefined. For failed and dead jobs without a consumer, the first consumer's by name. */
export async function jobDetail(
  db: Queryable,
  quotedSchema: string,
  state: JobState,
  id: bigint,
  consumer: string | undefined,
): Promise<JobDetailJson | undefined> {
  const filter: JobFilter = { state, id, consumer };
  const [row] = await run(db, selectJobs(quotedSchema, filter, { limit: 1, full: true }));
  if (!row) return undefined;
  const payloadText = String(row.payload);
  const headers = row.headers ? (JSON.parse(String(row.headers)) as Record<string, unknown>) : {};
  const base = rowJson(state, row);
  return {
    ...base,
    payload: JSON.parse(payloadText),
    payloadText,
    headers,
    traceId: traceIdOf(headers.traceparent),
    attempts: base.attempt,
  };
}

/** The trace id of a W3C traceparent (`00-<32 hex>-<16 hex>-<2 hex>`), or null. */
export function traceIdOf(traceparent: unknown): string | null {
  if (typeof traceparent !== "string") return null;
  const match = /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}/.exec(traceparent.trim().toLowerCase());
  return match && !/^0+$/.test(match[1] as string) ? (match[1] as string) : null;
}

/** The (consumer, id) of the jobs a filter selects, newest first, at most `cap` + 1 (to tell that more match). */
export async function selectedJobs(
  db: Queryable,
  quotedSchema: string,
  filter: JobFilter,
  ids: readonly bigint[] | undefined,
  cap: number,
): Promise<{ consumer: string | null; id: bigint }[]> {
  const rows = await run(db, selectJobs(quotedSchema, filter, { limit: cap + 1, ids }));
  return rows.map((row) => ({ consumer: row.consumer, id: BigInt(row.id) }));
}

/** Reads the filter of a list's query string or of an action's body; HttpError 400 when a value is wrong. */
export function parseFilter(given: Readonly<Record<string, unknown>>, where: string): JobFilter {
  const state = given.state;
  if (typeof state !== "string" || !(jobStates as readonly string[]).includes(state)) {
    throw new HttpError(400, `${where}state: expected one of ${jobStates.join(", ")}, got ${describe(state)}`);
  }
  const text = (name: string, max = 500): string | undefined => {
    const value = given[name];
    if (value === undefined || value === null || value === "") return undefined;
    if (typeof value !== "string") throw new HttpError(400, `${where}${name}: expected a string`);
    if (value.length > max) throw new HttpError(400, `${where}${name}: at most ${max} characters`);
    return value;
  };
  const consumer = text("consumer", 200);
  if (state === "pending" && consumer === undefined) {
    throw new HttpError(400, `${where}consumer: required for pending jobs (pending for which consumer?)`);
  }
  if (state === "scheduled" && consumer !== undefined) {
    throw new HttpError(400, `${where}consumer: scheduled jobs belong to no consumer yet; leave it out`);
  }
  let topics: string[] | undefined;
  const topic = given.topic;
  if (topic !== undefined && topic !== null && topic !== "") {
    const list = Array.isArray(topic) ? topic : [topic];
    if (list.length > 100 || list.some((each) => typeof each !== "string" || each.length === 0 || each.length > 500)) {
      throw new HttpError(400, `${where}topic: expected topic names (1 to 500 characters each, at most 100)`);
    }
    topics = list as string[];
  }
  const key = text("key");
  const idText = text("id", 30);
  const id = idText === undefined ? undefined : parseJobId(idText);
  if (idText !== undefined && id === undefined) {
    throw new HttpError(400, `${where}id: expected a job id (a positive integer), got ${describe(idText)}`);
  }
  const time = (name: string): Date | undefined => {
    const value = text(name, 40);
    if (value === undefined) return undefined;
    const date = parseTime(value);
    if (!date) throw new HttpError(400, `${where}${name}: expected an ISO 8601 time, got ${describe(value)}`);
    return date;
  };
  const from = time("from");
  const to = time("to");
  if (from && to && from > to) throw new HttpError(400, `${where}from: after to`);
  const q = text("q", 200);
  return { state: state as JobState, consumer, topics, key, id, from, to, q };
}

/** A value quoted for an error message, short. */
export function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = typeof value === "string" ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
