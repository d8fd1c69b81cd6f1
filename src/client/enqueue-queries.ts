import { statementName } from "../schema/server-names.js";

/** A statement and the name it is prepared under where the driver can prepare it. */
export interface Statement {
  readonly text: string;
  /** See statementName: the same text, the same name. */
  readonly name: string;
}

/** The statements behind enqueue and enqueueMany, built once per client for its schema. */
export interface EnqueueQueries {
  /** $1 topic, $2 payload json, $3 headers json, $4 key, $5 retry policy json. */
  readonly immediateOne: Statement;
  /** $1 topic, $2 payload json, $3 headers json, $4 key, $5 retry policy json, $6 run_at. */
  readonly scheduledOne: Statement;
  /** $1 topic, $2 JSON array of payloads, $3 headers json, $4 key, $5 retry policy json. */
  readonly immediateMany: Statement;
  /** $1 topic, $2 JSON array of payloads, $3 headers json, $4 key, $5 retry policy json, $6 run_at. */
  readonly scheduledMany: Statement;
  /**
   * Through the SQL function, which holds the key: $1 topic, $2 payload json, $3 headers json,
   * $4 key, $5 retry policy json, $6 run_at or null, $7 idempotency key.
   */
  readonly idempotentOne: Statement;
  /** As idempotentOne with $2 a JSON array of payloads and $7 one of keys (null: none). */
  readonly idempotentMany: Statement;
  /** $1 job ids, comma-separated. Deletes those still scheduled; returns their ids the same way. */
  readonly scheduledCancel: Statement;
}

function statement(text: string): Statement {
  return { text, name: statementName(text) };
}

/**
 * @param notifyChannel when set, immediate inserts also NOTIFY this channel. Off by default:
 *   NOTIFY takes a cluster-wide lock at commit, which serialises committing producers.
 */
export function enqueueQueries(quotedSchema: string, notifyChannel?: string): EnqueueQueries {
  // Every value is sent as text and declared text (`$2::text::json`, not `$2::json`): drivers
  // that ask the server for parameter types (postgres.js, some Prisma adapters) would
  // otherwise see json and encode the already serialised text a second time.
  // The wake-up rides in the same statement (no extra round trip); PostgreSQL folds
  // identical notifications of one transaction into one.
  const wake = notifyChannel === undefined ? "" : `, wake AS (SELECT pg_notify('${notifyChannel}', ''))`;
  const fromWake = notifyChannel === undefined ? "" : ", wake";
  // Many jobs travel as one JSON array parameter rather than a driver-specific array, so the
  // statement works the same through every driver. Ids are drawn in array order inside the
  // CTE, which is materialised once, so the returned ids line up with the input. They come
  // back as one text of comma-separated ids: a row per job cost the driver about 0.4 ms per
  // 1,000 jobs to parse, 6% of the whole call, on the caller's event loop.
  // The headers and retry policy are the same for every job: as scalar subqueries they are
  // parsed once per statement rather than once per row (a `traceparent` on 1,000 jobs cost
  // about 8% of the statement's time when each row parsed it).
  const many = (table: string, extraColumn: string, extraValue: string, notify: boolean) => `
    WITH input AS (
      SELECT nextval('${quotedSchema}.job_id_seq') AS id, element.payload, element.position
      FROM json_array_elements($2::text::json) WITH ORDINALITY AS element(payload, position)
    ), inserted AS (
      INSERT INTO ${quotedSchema}.${table} (id, topic, payload, headers, key, retry${extraColumn})
      SELECT id, $1::text, payload, (SELECT $3::text::json), $4::text, (SELECT $5::text::json)${extraValue} FROM input
    )${notify ? wake : ""}
    SELECT string_agg(id::text, ',' ORDER BY position) AS id FROM input${notify ? fromWake : ""}`;
  // The function call the idempotent statements share, given the payload and the key.
  const call = (payload: string, idempotencyKey: string) =>
    `${quotedSchema}.enqueue(payload => ${payload}, topic => $1::text, headers => $3::text::json,
       run_at => $6::text::timestamptz, notify => ${notifyChannel !== undefined}, key => $4::text,
       retry => $5::text::json, idempotency_key => ${idempotencyKey})`;
  return {
    idempotentOne: statement(`SELECT ${call("$2::text::json", "$7::text")}::text AS id`),
    // One call per payload, in input order (the order a function scan yields its rows): a key
    // given twice in the call names the job of its first payload.
    idempotentMany: statement(`
      SELECT string_agg(job.id::text, ',' ORDER BY job.position) AS id
      FROM (
        SELECT element.position, ${call("element.payload", "$7::text::json ->> (element.position - 1)::int")} AS id
        FROM json_array_elements($2::text::json) WITH ORDINALITY AS element(payload, position)
      ) job`),
    // Ids travel as one text value: arrays are driver-specific and do not cross the Queryable seam.
    scheduledCancel: statement(
      `WITH gone AS (DELETE FROM ${quotedSchema}.scheduled WHERE id = ANY(string_to_array($1::text, ',')::bigint[]) RETURNING id)
       SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') AS id FROM gone`,
    ),
    immediateOne: statement(
      notifyChannel === undefined
        ? `INSERT INTO ${quotedSchema}.immediate (topic, payload, headers, key, retry) VALUES ($1::text, $2::text::json, $3::text::json, $4::text, $5::text::json) RETURNING id::text AS id`
        : `WITH job AS (INSERT INTO ${quotedSchema}.immediate (topic, payload, headers, key, retry) VALUES ($1::text, $2::text::json, $3::text::json, $4::text, $5::text::json) RETURNING id)${wake}
           SELECT job.id::text AS id FROM job${fromWake}`,
    ),
    scheduledOne: statement(
      `INSERT INTO ${quotedSchema}.scheduled (topic, payload, headers, key, retry, run_at) VALUES ($1::text, $2::text::json, $3::text::json, $4::text, $5::text::json, $6::text::timestamptz) RETURNING id::text AS id`,
    ),
    immediateMany: statement(many("immediate", "", "", true)),
    scheduledMany: statement(many("scheduled", ", run_at", ", $6::text::timestamptz", false)),
  };
}
