import { InvalidOptionError, SchemaMissingError, TransactionStateError } from "../core/errors.js";
import type { JobId } from "../core/job-id.js";
import { isNodePostgres } from "../database/node-postgres.js";
import type { Queryable } from "../database/queryable.js";
import { sqlStateOf, sqlStates } from "../database/sql-state.js";
import { resolveSchema } from "../schema/schema-name.js";
import { wakeChannel } from "../schema/server-names.js";
import { traceSend } from "../telemetry/send-span.js";
import { type AnyTopics, checkTopics, type IsTopics, type TopicInput, type TopicName } from "../topics/topics.js";
import { schemaFor, validatePayload } from "../topics/validate-payload.js";
import {
  checkEnqueueOptions,
  checkTransaction,
  type EnqueueManyOptions,
  type EnqueueOptions,
  failedTransactionMessage,
  idempotencyKeysJson,
} from "./enqueue-options.js";
import { type EnqueueQueries, enqueueQueries, type Statement } from "./enqueue-queries.js";
import { toJson } from "./to-json.js";

export interface ClientOptions {
  /** Schema that holds the outbox tables (as given to `migrate`). Default `"poutbox"`. */
  readonly schema?: string;
  /**
   * Also NOTIFY consumers created with `listen: true` when a job is enqueued for immediate
   * delivery, so they wake at once instead of at their next poll. Default false: NOTIFY
   * takes a cluster-wide lock at commit, which costs concurrent producers throughput (see
   * docs/architecture.md, "Waking up"). Never needed for correctness.
   */
  readonly notify?: boolean;
  /**
   * The topic map from defineTopics. With it, every enqueue names a declared topic and its
   * payload is checked against that topic's type at compile time, and against its schema at
   * run time when the map has schemas. Default: none (any topic, one payload type).
   */
  readonly topics?: AnyTopics;
  /**
   * On a `pg` Pool, Client or PoolClient, run the enqueue statements as named prepared
   * statements: each connection parses and plans them once instead of at every call (a single
   * enqueue then costs what a bare INSERT does; see docs/benchmarks.md). Default true. Set
   * false behind a connection pooler in transaction mode that does not keep prepared
   * statements (PgBouncer before 1.21, or with max_prepared_statements = 0). Other drivers go
   * through their adapters, which run plain statements whatever this says.
   */
  readonly preparedStatements?: boolean;
}

/** Options of an enqueue on a client with a topic map: the topic is required and picks the payload type. */
export type TopicEnqueueOptions<Topic extends string> = EnqueueOptions & { readonly topic: Topic };

/** The options argument of enqueue: optional without a topic map, required (for its topic) with one. */
export type EnqueueArguments<Payload, Topic extends string> =
  IsTopics<Payload> extends true ? [options: TopicEnqueueOptions<Topic>] : [options?: EnqueueOptions];

/** The options argument of enqueueMany, as EnqueueArguments with one idempotency key per payload. */
export type EnqueueManyArguments<Payload, Topic extends string> =
  IsTopics<Payload> extends true
    ? [options: EnqueueManyOptions & { readonly topic: Topic }]
    : [options?: EnqueueManyOptions];

/**
 * Writes jobs into the outbox. Stateless apart from its settings: one per application is
 * enough, and it is safe to share.
 *
 * `Payload` is the type of every payload (`new Client<OrderCreated>(pool)`), or, when the
 * client is created with `topics`, that topic map, inferred: each enqueue is then checked
 * against the payload type of the topic it names.
 *
 * @example
 * ```ts
 * const outbox = new Client(pool);
 * const tx = await pool.connect();
 * await tx.query("BEGIN");
 * await tx.query("INSERT INTO orders (id) VALUES ($1)", [orderId]);
 * await outbox.enqueue({ orderId }, { tx, topic: "order.created" });
 * await tx.query("COMMIT");
 * tx.release();
 * ```
 */
export class Client<Payload = unknown> {
  readonly #db: Queryable;
  readonly #schema: string;
  readonly #queries: EnqueueQueries;
  readonly #topics: AnyTopics | undefined;
  readonly #prepare: boolean;

  /**
   * @param db where jobs go when no `tx` is given: a `pg` Pool, or another driver's database
   *   through its adapter (`poutbox/kysely`, `poutbox/prisma`...).
   */
  constructor(db: Queryable, options: ClientOptions & { readonly topics: Payload & AnyTopics });
  constructor(db: Queryable, options?: ClientOptions);
  constructor(db: Queryable, options: ClientOptions = {}) {
    this.#db = db;
    const { schema, quotedSchema } = resolveSchema(options.schema);
    this.#schema = schema;
    if (options.notify !== undefined && typeof options.notify !== "boolean") {
      throw new InvalidOptionError("notify", "expected a boolean");
    }
    if (options.preparedStatements !== undefined && typeof options.preparedStatements !== "boolean") {
      throw new InvalidOptionError("preparedStatements", "expected a boolean");
    }
    this.#prepare = options.preparedStatements ?? true;
    this.#topics = checkTopics(options.topics);
    this.#queries = enqueueQueries(quotedSchema, options.notify ? wakeChannel(this.#schema) : undefined);
  }

  /**
   * Stores one job and returns its id. Nothing is written when the payload or an option is
   * invalid.
   *
   * @throws {InvalidPayloadError} the payload cannot round-trip through JSON unchanged.
   * @throws {PayloadValidationError} the payload fails its topic's schema.
   * @throws {InvalidOptionError} an option has a bad value (or, with topics, the topic is
   *   missing or not declared).
   * @throws {TransactionStateError} `tx` is not inside an open transaction.
   * @throws {SchemaMissingError} `migrate()` has not been run for this schema.
   * @throws an error with code 40001 (serialization_failure), inside a `tx` at REPEATABLE READ
   *   or SERIALIZABLE, when another transaction took the same idempotency key after `tx`
   *   began: roll back and run the transaction again, as for any serialization failure.
   *   (Without `tx` the client runs the statement again itself.)
   */
  async enqueue<Topic extends TopicName<Payload>>(
    payload: TopicInput<Payload, Topic>,
    ...[options = {}]: EnqueueArguments<Payload, Topic>
  ): Promise<JobId> {
    const checked = checkEnqueueOptions(options);
    if ((options as EnqueueManyOptions).idempotencyKeys !== undefined) {
      throw new InvalidOptionError("idempotencyKeys", "enqueue takes one idempotencyKey");
    }
    await this.#validate(checked.topic, [payload], "payload");
    const json = toJson(payload, "payload");
    return traceSend({ schema: this.#schema, topic: checked.topic, count: 1 }, options.headers, async (traced) => {
      const headers = traced ?? checked.headers;
      if (checked.idempotencyKey !== null) {
        const [id] = await this.#run(options.tx, this.#queries.idempotentOne, [
          checked.topic,
          json,
          headers,
          checked.key,
          checked.retry,
          checked.runAt,
          checked.idempotencyKey,
        ]);
        return id as JobId;
      }
      const immediate = checked.target === "immediate";
      const [id] = await this.#run(
        options.tx,
        immediate ? this.#queries.immediateOne : this.#queries.scheduledOne,
        immediate
          ? [checked.topic, json, headers, checked.key, checked.retry]
          : [checked.topic, json, headers, checked.key, checked.retry, checked.runAt],
      );
      return id as JobId;
    });
  }

  /**
   * Stores many jobs with one statement, all or none, and returns their ids in input order.
   * The options apply to every job but `idempotencyKeys`, one per payload; where a key makes
   * a payload a duplicate, its place holds the id of the pending job instead. Nothing is
   * written when any payload is invalid.
   */
  async enqueueMany<Topic extends TopicName<Payload>>(
    payloads: readonly TopicInput<Payload, Topic>[],
    ...[options = {}]: EnqueueManyArguments<Payload, Topic>
  ): Promise<JobId[]> {
    const checked = checkEnqueueOptions(options);
    if (!Array.isArray(payloads)) throw new TypeError("enqueueMany expects an array of payloads");
    const idempotencyKeys = idempotencyKeysJson(options, payloads.length);
    await this.#validate(checked.topic, payloads, "payloads");
    if (payloads.length === 0) return [];
    // One stringify of the whole array: a call per payload cost twice as much client time,
    // which a 1,000-job enqueueMany spends on the caller's event loop. Errors still name the
    // element (`payloads[3].total`).
    const array = toJson(payloads, "payloads");
    const target = { schema: this.#schema, topic: checked.topic, count: payloads.length };
    return traceSend(target, options.headers, (traced) => {
      const headers = traced ?? checked.headers;
      if (idempotencyKeys !== null) {
        return this.#run(options.tx, this.#queries.idempotentMany, [
          checked.topic,
          array,
          headers,
          checked.key,
          checked.retry,
          checked.runAt,
          idempotencyKeys,
        ]);
      }
      const immediate = checked.target === "immediate";
      return this.#run(
        options.tx,
        immediate ? this.#queries.immediateMany : this.#queries.scheduledMany,
        immediate
          ? [checked.topic, array, headers, checked.key, checked.retry]
          : [checked.topic, array, headers, checked.key, checked.retry, checked.runAt],
      );
    });
  }

  /**
   * Cancels scheduled jobs that are not due yet: they are deleted and will never be delivered.
   * Returns the ids it cancelled, in the order given; a job that is already due (moved to
   * `immediate` for delivery), or that does not exist, is not among them. With `tx`, the
   * cancellation commits or rolls back with your transaction (cancel an order's reminder in
   * the transaction that cancels the order).
   *
   * @throws {InvalidOptionError} `ids` is not an array of bigint job ids.
   * @throws {TransactionStateError} `tx` is not inside an open transaction.
   * @throws {SchemaMissingError} `migrate()` has not been run for this schema.
   */
  async cancelScheduled(ids: readonly JobId[], options: { readonly tx?: Queryable } = {}): Promise<JobId[]> {
    if (!Array.isArray(ids) || ids.some((id) => typeof id !== "bigint")) {
      throw new InvalidOptionError("ids", "expected an array of bigint job ids");
    }
    if (options.tx !== undefined) checkTransaction(options.tx);
    if (ids.length === 0) return [];
    const cancelled = new Set(await this.#run(options.tx, this.#queries.scheduledCancel, [ids.join(",")]));
    return ids.filter((id) => cancelled.has(id));
  }

  /**
   * With a topic map that has schemas: the topic must be declared and every payload must pass
   * its schema. The payload stored is the one given, not the schema's output, so a consumer
   * validating it again sees exactly what the producer checked.
   */
  async #validate(topic: string | null, payloads: readonly unknown[], root: string): Promise<void> {
    const schemas = this.#topics?.schemas;
    if (!schemas) return;
    const schema = schemaFor(schemas, topic);
    const single = root === "payload";
    for (const [index, payload] of payloads.entries()) {
      await validatePayload(schema, topic as string, payload, single ? root : `${root}[${index}]`);
    }
  }

  async #run(tx: Queryable | undefined, statement: Statement, values: unknown[], attempt = 1): Promise<JobId[]> {
    const db = tx ?? this.#db;
    try {
      const { rows } =
        this.#prepare && isNodePostgres(db)
          ? await db.query({ name: statement.name, text: statement.text, values })
          : await db.query(statement.text, values);
      // One row: an id, or ids comma-separated (enqueueMany's in input order; none cancelled: "").
      const ids = (rows[0] as { id: string } | undefined)?.id;
      if (typeof ids !== "string") throw new Error("the enqueue statement returned no ids");
      return ids === "" ? [] : ids.split(",").map((id) => BigInt(id));
    } catch (error) {
      const state = sqlStateOf(db, error);
      // Outside a transaction of the caller's, the statement is its own transaction, so it can
      // simply run again: on another connection when the server had just ended this one for
      // its idle_session_timeout (it never ran), and afresh after a serialization failure,
      // which a session defaulting to REPEATABLE READ or SERIALIZABLE gets when another
      // transaction took the same idempotency key after the statement's snapshot.
      if (tx === undefined && attempt < 3 && state !== undefined && retriedAlone.has(state)) {
        return this.#run(tx, statement, values, attempt + 1);
      }
      if (state !== undefined && missingRelationCodes.has(state)) {
        throw new SchemaMissingError(this.#schema, { cause: error });
      }
      // The driver's transaction status can lag the server by one message right after an
      // error, so the server's own refusal is the final word on a failed transaction.
      if (state === sqlStates.inFailedSqlTransaction)
        throw new TransactionStateError(failedTransactionMessage, { cause: error });
      throw error;
    }
  }
}

// Failures after which a statement that is its own transaction is run again.
const retriedAlone = new Set<string>([sqlStates.idleSessionTimeout, sqlStates.serializationFailure]);

// The schema, a table or the sequence is missing.
const missingRelationCodes = new Set<string>([
  sqlStates.undefinedTable,
  sqlStates.invalidSchemaName,
  sqlStates.undefinedObject,
]);
