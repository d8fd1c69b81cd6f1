import { InvalidOptionError } from "../core/errors.js";
import type { Job } from "../core/job.js";
import { asLogger, defaultLogger, type Logger, withFields } from "../core/logger.js";
import { boolean, integer, oneOf } from "../core/option-checks.js";
import { type BackoffOptions, checkRetryPolicy, type RetryPolicy } from "../core/retry-policy.js";
import { type MaintenanceOptions, resolveMaintenanceOptions } from "../maintenance/maintenance-options.js";
import { resolveSchema } from "../schema/schema-name.js";
import { isTopicPattern, type Subscription, subscription } from "../topics/subscription.js";
import { type AnyTopics, checkTopics } from "../topics/topics.js";
import { defaultBackoff, type ResolvedBackoff } from "./backoff.js";

export interface ConsumerOptions {
  /**
   * The consumer group. Consumers with different names each get every job; consumers with
   * the same name share one stream, processed by one leader at a time. Default `"default"`.
   */
  readonly name?: string;
  /** Schema that holds the outbox tables. Default `"poutbox"`. */
  readonly schema?: string;
  /**
   * How new jobs are found: `polling` reads them by PostgreSQL snapshots; `replication`
   * streams them from a logical replication slot (needs wal_level = logical and a role with
   * REPLICATION). Default `"polling"`.
   */
  readonly mode?: ConsumerMode;
  /**
   * Where a consumer name that has no progress yet starts: `oldest` delivers every job still in
   * the outbox (its retained history included); `now` only jobs that commit after start() was
   * called. A name with stored progress resumes from it whatever this says; moveConsumer()
   * moves one. Default `"oldest"`.
   */
  readonly startFrom?: ConsumerStart;
  /** Most jobs handed to the handler at once. Default 100. */
  readonly batchSize?: number;
  /** Wait between polls that found nothing, in ms. Default 10. */
  readonly pollInterval?: number;
  /**
   * Also wake up on NOTIFY from clients created with `notify: true` (one more connection, for
   * LISTEN). With it, pollInterval can be long. Default false.
   */
  readonly listen?: boolean;
  /**
   * A batch closes before its payloads and headers pass this many bytes (it always takes one
   * job), so memory is bounded by bytes as well as by batchSize. Default 16 MiB.
   */
  readonly maxBatchBytes?: number;
  /** Replication: a partial batch is handed to the handler this long after its first job arrived, in ms. Default 1. */
  readonly flushDelay?: number;
  /** Replication: how often the acknowledged position is reported to the server, in ms. Default 1000. */
  readonly statusInterval?: number;
  /**
   * Replication: what to do when the consumer's slot is gone or invalidated (for example by
   * max_slot_wal_keep_size) while it has recorded progress. `fail` stops the consumer with a
   * SlotLostError for an operator to decide; `catch-up` creates a new slot and first polls
   * every job its progress snapshot does not show as done (no loss; some jobs may be
   * delivered again). Never recreated silently at the current position. Default `"fail"`.
   */
  readonly slotLost?: SlotLostPolicy;
  /**
   * Replication: make the consumer's slot a failover slot (PostgreSQL 17+, `FAILOVER` of
   * CREATE_REPLICATION_SLOT; an existing slot is altered), so that physical standbys with
   * `sync_replication_slots = on` keep a copy of it and, after one is promoted, the consumer
   * resumes from that copy without loss. The standbys and the primary need their own settings:
   * see docs/operations.md, "Failover". On an older server start() rejects with a
   * ReplicationSetupError. `false` leaves an existing slot as it is. Default false.
   */
  readonly failoverSlot?: boolean;
  /** Deliveries per job before it goes to dead_letter. Default 5. */
  readonly maxAttempts?: number;
  /** Delay before each retry. Default: 1,000 ms, doubling, at most one hour, jitter 0.5 (see BackoffOptions). */
  readonly backoff?: BackoffOptions;
  /**
   * maxAttempts and backoff for the jobs of some topics, over the consumer's own: a payment
   * may deserve 20 attempts over a day while a cache refresh gets 2. Keys are topic names;
   * a backoff given here is merged over the consumer's. Default: none.
   *
   * @example
   * ```ts
   * retryByTopic: { "payment.capture": { maxAttempts: 20, backoff: { max: 6 * 3_600_000 } } }
   * ```
   */
  readonly retryByTopic?: Readonly<Record<string, RetryPolicy>>;
  /** A batch still running after this many ms is aborted and failed. Default 30,000. */
  readonly handlerTimeout?: number;
  /** On stop, how long the batch in the handler may take before it is aborted, in ms. Default 10,000. */
  readonly shutdownTimeout?: number;
  /** How often a standby tries to take over, in ms. Default 1,000. */
  readonly takeoverInterval?: number;
  /**
   * The leader's lock session is ended by the server after this many ms without a heartbeat
   * (`idle_session_timeout`, PostgreSQL 14+), so a paused or cut-off leader frees the lock
   * and a standby takes over. Default 10,000.
   */
  readonly leaderTimeout?: number;
  /** How often due scheduled and failed jobs are moved into immediate, in ms. Default 500. */
  readonly promoteInterval?: number;
  /** A transaction open longer than this (ms) while holding back jobs is reported. Default 60,000. */
  readonly longTransactionThreshold?: number;
  /**
   * Wait before retrying after a database error, in ms. It doubles, up to 30 s, while terms
   * keep failing at once, and starts again from this value after a term that had led for at
   * least as long as the wait. Default 100.
   */
  readonly reconnectDelay?: number;
  /**
   * Partition maintenance (see Maintenance), run by the leader while it leads: partitions are
   * created ahead of time and dropped once every consumer has passed them. Options as for
   * Maintenance (the schema and logger are the consumer's). `false` when it runs elsewhere.
   * Default on, with Maintenance's defaults.
   */
  readonly maintenance?: false | ConsumerMaintenanceOptions;
  /**
   * The topic map from defineTopics: the handler's jobs are typed by topic. When the map has
   * schemas, each job's payload is validated before the handler sees it (the handler gets the
   * schema's output); a job that fails, or whose topic is not declared, goes straight to dead
   * letter with the reason, without calling the handler or using up attempts. Default: none.
   */
  readonly topics?: AnyTopics;
  /**
   * The topics this consumer receives, for an outbox shared by several parts of an
   * application: exact names, and patterns where `*` stands for any run of characters
   * (`"order.*"` takes `order.created` and `order.line.added`). Jobs of other topics, and jobs
   * without a topic, pass it by: not delivered, not dead-lettered, its progress moves over
   * them. A `topics` map with schemas subscribes to its topics unless this says otherwise; with
   * such a map, an exact name here must be one of the map's. Default: every job.
   *
   * @example
   * ```ts
   * subscribe: ["invoice.issued", "order.*"]
   * ```
   */
  readonly subscribe?: readonly string[];
  /**
   * `key`: the jobs of one ordering key (enqueue's `key`) are delivered one at a time, in the
   * order they were committed, and never two of one key in the same handler call; different
   * keys run side by side. A failing job holds back only the later jobs of its own key, which
   * wait behind it through its retries. Jobs without a key are not ordered. `none`: every job
   * is delivered and retried on its own. Default `"none"`.
   */
  readonly ordering?: ConsumerOrdering;
  /**
   * With `ordering: "key"`, whether a dead-lettered job keeps its key blocked until an operator
   * requeues it (the key then goes on once it succeeds) or purges it (the key goes on at once).
   * `false`: the key moves on to its next job. Default true.
   */
  readonly deadLetterBlocksKey?: boolean;
  /** Stops the consumer when aborted, like calling stop(). Default: none. */
  readonly signal?: AbortSignal;
  /**
   * Where errors, warnings and information go. Default `consoleLogger("warn")`: warnings and
   * errors on stderr. `silentLogger` when the `error` and other events are all handled.
   */
  readonly logger?: Logger;
}

export type ConsumerMaintenanceOptions = Omit<MaintenanceOptions, "schema" | "logger">;

export const consumerModes = ["polling", "replication"] as const;

export type ConsumerMode = (typeof consumerModes)[number];

export type { RetryPolicy };

/** A retry policy with every value set. */
export interface ResolvedRetryPolicy {
  readonly maxAttempts: number;
  readonly backoff: ResolvedBackoff;
}

export const consumerOrderings = ["none", "key"] as const;

export type ConsumerOrdering = (typeof consumerOrderings)[number];

export const consumerStarts = ["oldest", "now"] as const;

export type ConsumerStart = (typeof consumerStarts)[number];

export const slotLostPolicies = ["fail", "catch-up"] as const;

export type SlotLostPolicy = (typeof slotLostPolicies)[number];

export interface ResolvedConsumerOptions {
  readonly name: string;
  readonly mode: ConsumerMode;
  readonly startFrom: ConsumerStart;
  readonly maxBatchBytes: number;
  readonly flushDelay: number;
  readonly statusInterval: number;
  readonly slotLost: SlotLostPolicy;
  readonly failoverSlot: boolean;
  readonly schema: string;
  readonly quotedSchema: string;
  readonly batchSize: number;
  readonly pollInterval: number;
  readonly listen: boolean;
  readonly maxAttempts: number;
  readonly backoff: ResolvedBackoff;
  readonly retryByTopic: ReadonlyMap<string, ResolvedRetryPolicy>;
  readonly handlerTimeout: number;
  readonly shutdownTimeout: number;
  readonly takeoverInterval: number;
  readonly leaderTimeout: number;
  readonly promoteInterval: number;
  readonly longTransactionThreshold: number;
  readonly reconnectDelay: number;
  readonly maintenance: MaintenanceOptions | false;
  readonly topics: AnyTopics | undefined;
  /** The topics delivered; undefined for every job. */
  readonly subscription: Subscription | undefined;
  readonly ordering: ConsumerOrdering;
  readonly deadLetterBlocksKey: boolean;
  readonly signal: AbortSignal | undefined;
  readonly logger: Logger;
  /** Set by the Consumer (its `slotLost` event): told when a term finds the slot lost. */
  readonly slotLostListener?: (loss: SlotLoss) => void;
}

/** A replication slot found dropped or invalidated, and what the consumer does about it. */
export type SlotLoss = {
  /** The slot's name. */
  readonly slot: string;
  /** `dropped`, or the server's invalidation reason (see SlotLostError's `reason`). */
  readonly reason: string;
  /** The reason in words. */
  readonly explanation: string;
  /** The `slotLost` option: `catch-up` recovers by itself, `fail` stops with SlotLostError. */
  readonly recovery: SlotLostPolicy;
};

export function resolveConsumerOptions(options: ConsumerOptions): ResolvedConsumerOptions {
  if (options === null || typeof options !== "object") {
    throw new InvalidOptionError("options", "expected an object");
  }
  const name = options.name ?? "default";
  if (typeof name !== "string" || name.length === 0 || name.length > 200) {
    throw new InvalidOptionError("name", "expected a string of 1 to 200 characters");
  }
  const { schema, quotedSchema } = resolveSchema(options.schema);
  const mode = oneOf("mode", options.mode, consumerModes, "polling");
  const logger = withFields(asLogger(options.logger ?? defaultLogger), { consumer: name, schema });
  const maintenance = consumerMaintenance(options.maintenance, schema, logger);
  const ownRetries = retryPolicy("", options, { maxAttempts: 5, backoff: defaultBackoff });
  const topics = checkTopics(options.topics);
  const resolved: ResolvedConsumerOptions = {
    name,
    mode,
    startFrom: oneOf("startFrom", options.startFrom, consumerStarts, "oldest"),
    maxBatchBytes: integer("maxBatchBytes", options.maxBatchBytes, 16 * 1024 * 1024, 1, 2 ** 31 - 1),
    flushDelay: integer("flushDelay", options.flushDelay, 1, 0, 60_000),
    statusInterval: integer("statusInterval", options.statusInterval, 1000, 10, 600_000),
    slotLost: oneOf("slotLost", options.slotLost, slotLostPolicies, "fail"),
    failoverSlot: boolean("failoverSlot", options.failoverSlot, false),
    schema,
    quotedSchema,
    batchSize: integer("batchSize", options.batchSize, 100, 1, 100_000),
    pollInterval: integer("pollInterval", options.pollInterval, 10, 0, 3_600_000),
    listen: boolean("listen", options.listen, false),
    ...ownRetries,
    retryByTopic: retryByTopic(options.retryByTopic, ownRetries),
    handlerTimeout: integer("handlerTimeout", options.handlerTimeout, 30_000, 1, 2 ** 31 - 1),
    shutdownTimeout: integer("shutdownTimeout", options.shutdownTimeout, 10_000, 0, 2 ** 31 - 1),
    takeoverInterval: integer("takeoverInterval", options.takeoverInterval, 1000, 10, 3_600_000),
    leaderTimeout: integer("leaderTimeout", options.leaderTimeout, 10_000, 1000, 3_600_000),
    promoteInterval: integer("promoteInterval", options.promoteInterval, 500, 10, 3_600_000),
    longTransactionThreshold: integer(
      "longTransactionThreshold",
      options.longTransactionThreshold,
      60_000,
      1,
      2 ** 31 - 1,
    ),
    reconnectDelay: integer("reconnectDelay", options.reconnectDelay, 100, 1, 60_000),
    maintenance,
    topics,
    subscription: subscribed(options.subscribe, topics),
    ordering: oneOf("ordering", options.ordering, consumerOrderings, "none"),
    deadLetterBlocksKey: boolean("deadLetterBlocksKey", options.deadLetterBlocksKey, true),
    signal: options.signal,
    logger,
  };
  if (resolved.failoverSlot && mode !== "replication") {
    throw new InvalidOptionError(
      "failoverSlot",
      'a failover slot is for mode "replication"; a polling consumer has no slot',
    );
  }
  if (resolved.signal !== undefined && !(resolved.signal instanceof AbortSignal)) {
    throw new InvalidOptionError("signal", "expected an AbortSignal");
  }
  return resolved;
}

/**
 * The subscription: the `subscribe` option, else the topics of a map with schemas (a map
 * declared by types alone has no names at run time), else none.
 */
function subscribed(value: unknown, topics: AnyTopics | undefined): Subscription | undefined {
  const schemas = topics?.schemas;
  if (value === undefined) {
    if (!schemas) return undefined;
    if (Object.keys(schemas).length === 0) throw new InvalidOptionError("topics", "the map declares no topic");
    return subscription(Object.keys(schemas), "topics", true);
  }
  const resolved = subscription(value);
  for (const topic of resolved.topics) {
    if (schemas && !isTopicPattern(topic) && !Object.hasOwn(schemas, topic)) {
      throw new InvalidOptionError(
        "subscribe",
        `topic ${JSON.stringify(topic)} is not in the topics map: its jobs would all go to dead letter`,
      );
    }
  }
  return resolved;
}

function consumerMaintenance(value: unknown, schema: string, logger: Logger): MaintenanceOptions | false {
  if (value === false) return false;
  if (value !== undefined && (value === null || typeof value !== "object")) {
    throw new InvalidOptionError("maintenance", "expected false or an object of maintenance options");
  }
  const options = { ...(value as ConsumerMaintenanceOptions | undefined), schema, logger };
  resolveMaintenanceOptions(options, "maintenance."); // throws now rather than when leading
  return options;
}

/** A policy's values over `fallback`, each checked and named by its option (`prefix` + name). */
function retryPolicy(prefix: string, policy: RetryPolicy, fallback: ResolvedRetryPolicy): ResolvedRetryPolicy {
  if (policy === null || typeof policy !== "object")
    throw new InvalidOptionError(prefix.slice(0, -1), "expected an object");
  return mergePolicy(fallback, checkRetryPolicy(prefix, policy));
}

function mergePolicy(fallback: ResolvedRetryPolicy, policy: RetryPolicy): ResolvedRetryPolicy {
  return {
    maxAttempts: policy.maxAttempts ?? fallback.maxAttempts,
    backoff: { ...fallback.backoff, ...policy.backoff },
  };
}

/** The policies of retryByTopic, each over the consumer's own. */
function retryByTopic(
  value: ConsumerOptions["retryByTopic"],
  own: ResolvedRetryPolicy,
): Map<string, ResolvedRetryPolicy> {
  const byTopic = new Map<string, ResolvedRetryPolicy>();
  if (value === undefined) return byTopic;
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new InvalidOptionError("retryByTopic", "expected an object of retry policies by topic");
  }
  for (const [topic, policy] of Object.entries(value)) {
    byTopic.set(topic, retryPolicy(`retryByTopic.${topic}.`, policy, own));
  }
  return byTopic;
}

/** The retry policy of a job: its own (given at enqueue) over its topic's, else over the consumer's. */
export function retryPolicyOf(job: Job<unknown> | undefined, options: ResolvedConsumerOptions): ResolvedRetryPolicy {
  const underneath = (job?.topic != null && options.retryByTopic.get(job.topic)) || options;
  return job?.retry ? mergePolicy(underneath, job.retry) : underneath;
}
