import { InvalidOptionError, PoutboxError } from "../core/errors.js";
import type { JobId } from "../core/job-id.js";
import { dateFromEpochMs, requiredDateFromEpochMs } from "../database/epoch.js";
import { queryRows } from "../database/query-rows.js";
import type { Queryable } from "../database/queryable.js";
import { resolveSchema } from "../schema/schema-name.js";
import { blockedKeysList, keyHeadRetry, keyHeadSkip } from "./key-queue-queries.js";

/** An ordering key a consumer holds back: the head job that has not succeeded, and what waits behind it. */
export interface BlockedKey {
  readonly consumer: string;
  readonly key: string;
  readonly head: {
    readonly id: JobId;
    /**
     * `retry`: failed, delivered again at `nextRetryAt`; `delivering`: moved back for delivery
     * and not yet handled; `dead`: dead-lettered, blocking the key until requeued or skipped;
     * `waiting`: a job that waited behind a head now gone, due at `nextRetryAt`.
     */
    readonly state: "retry" | "delivering" | "dead" | "waiting";
    /** Deliveries attempted so far. */
    readonly attempts: number;
    readonly lastError: string;
    readonly failedAt: Date;
    /** When it is next delivered; null while being delivered or dead. */
    readonly nextRetryAt: Date | null;
  };
  /** Jobs of the key waiting behind the head, not yet delivered. */
  readonly waiting: number;
}

export interface BlockedKeysOptions {
  /** Schema that holds the outbox tables. Default `"poutbox"`. */
  readonly schema?: string;
  /** Only this consumer's keys. */
  readonly consumer?: string;
  /** Only this key. */
  readonly key?: string;
  /** At most this many, longest blocked first. Default 100. */
  readonly limit?: number;
}

/** The ordering keys held back by consumers with `ordering: "key"`, longest blocked first. */
export async function listBlockedKeys(db: Queryable, options: BlockedKeysOptions = {}): Promise<BlockedKey[]> {
  const { quotedSchema } = resolveSchema(options.schema);
  const limit = options.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1) throw new InvalidOptionError("limit", "expected a positive integer");
  optionalText("consumer", options.consumer);
  optionalText("key", options.key);
  const rows = await queryRows(db, blockedKeysList(quotedSchema), [
    options.consumer ?? null,
    options.key ?? null,
    limit,
  ]);
  return rows.map((row) => ({
    consumer: row.consumer,
    key: row.key,
    head: {
      id: BigInt(String(row.id)) as JobId,
      state: row.state as BlockedKey["head"]["state"],
      attempts: Number(row.attempt),
      lastError: row.last_error,
      failedAt: requiredDateFromEpochMs(row.failed_ms),
      nextRetryAt: dateFromEpochMs(row.next_retry_ms),
    },
    waiting: Number(row.waiting),
  }));
}

export interface KeyHeadOptions {
  /** Schema that holds the outbox tables. Default `"poutbox"`. */
  readonly schema?: string;
  /** The consumer that holds the key back. */
  readonly consumer: string;
  readonly key: string;
  /**
   * Act on a head that is being delivered too. Only for a head stuck in that state (its
   * consumer was moved past it, or removed and recreated): under a running delivery, the
   * handler's outcome would then be recorded out of order. Default false.
   */
  readonly force?: boolean;
  /** Skip only: why, kept with the job in dead_letter. */
  readonly reason?: string;
}

/** What a retry or a skip did: the head it acted on and the state the head was in. */
export interface KeyHeadResult {
  readonly id: JobId;
  readonly previousState: BlockedKey["head"]["state"];
}

/**
 * Delivers a blocked key's head again now, whatever its retry time; a dead-lettered head leaves
 * dead_letter with fresh attempts. The key goes on once the head succeeds. Returns null when
 * the key is not blocked.
 *
 * @throws {PoutboxError} code KEY_HEAD_DELIVERING: the head is being delivered (see `force`).
 */
export async function retryKeyHead(db: Queryable, options: KeyHeadOptions): Promise<KeyHeadResult | null> {
  return actOnHead(db, options, (quotedSchema) => [keyHeadRetry(quotedSchema), []]);
}

/**
 * Gives up a blocked key's head and lets the key go on: the head leaves the key's queue (into
 * dead_letter, with the reason, unless it is there already) and the next job of the key is
 * delivered at once. Returns null when the key is not blocked.
 *
 * @throws {PoutboxError} code KEY_HEAD_DELIVERING: the head is being delivered (see `force`).
 */
export async function skipKeyHead(db: Queryable, options: KeyHeadOptions): Promise<KeyHeadResult | null> {
  optionalText("reason", options.reason);
  return actOnHead(db, options, (quotedSchema) => [keyHeadSkip(quotedSchema), [options.reason ?? null]]);
}

async function actOnHead(
  db: Queryable,
  options: KeyHeadOptions,
  statement: (quotedSchema: string) => [ReturnType<typeof keyHeadRetry>, unknown[]],
): Promise<KeyHeadResult | null> {
  if (options === null || typeof options !== "object") throw new InvalidOptionError("options", "expected an object");
  const { schema, quotedSchema } = resolveSchema(options.schema);
  requiredText("consumer", options.consumer);
  requiredText("key", options.key);
  if (options.force !== undefined && typeof options.force !== "boolean") {
    throw new InvalidOptionError("force", "expected a boolean");
  }
  const [sql, extra] = statement(quotedSchema);
  const [row] = await queryRows(db, sql, [options.consumer, options.key, options.force ?? false, ...extra]);
  if (row) return { id: BigInt(row.id) as JobId, previousState: row.state as KeyHeadResult["previousState"] };
  const [blocked] = await listBlockedKeys(db, { schema, consumer: options.consumer, key: options.key, limit: 1 });
  if (blocked?.head.state === "delivering") {
    throw new PoutboxError(
      "KEY_HEAD_DELIVERING",
      `the head of key ${JSON.stringify(options.key)} (job ${blocked.head.id}) is being delivered to consumer ` +
        `"${options.consumer}"; wait for its outcome, or pass force if it is stuck`,
    );
  }
  return null;
}

function requiredText(option: string, value: unknown): void {
  if (typeof value !== "string" || value.length === 0)
    throw new InvalidOptionError(option, "expected a non-empty string");
}

function optionalText(option: string, value: unknown): void {
  if (value !== undefined) requiredText(option, value);
}
