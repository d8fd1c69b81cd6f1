import { createHash } from "node:crypto";
import type pg from "pg";
import { Client } from "../client/client.js";
import { PoutboxError } from "../core/errors.js";
import type { JobId } from "../core/job-id.js";
import { advisoryLockHolder } from "../database/advisory-locks.js";
import type { PooledConnection } from "../database/queryable.js";
import { withConnection } from "../database/with-connection.js";
import { purgeDeadLetters, requeueDeadLetters } from "../dead-letter/dead-letter.js";
import { listBlockedKeys, retryKeyHead, skipKeyHead } from "../keys/blocked-keys.js";
import { type MoveTarget, moveConsumer } from "../recovery/move-consumer.js";
import { leaderLockKey } from "../schema/server-names.js";
import { consumerSlot, slotState } from "../slots/slot-admin.js";
import { status } from "../status/status.js";
import { HttpError, parseJobId, parseTime } from "./http.js";
import { actionCap, describe, type JobFilter, type JobState, parseFilter, selectedJobs } from "./jobs.js";

// POST /api/actions/<action>: what an operator does from the dashboard, each through the
// library's own call. `preview: true` changes nothing and says what the same call would act
// on, and what the confirming call gives back as `expect` (requeue, purge, cancel) or
// `expectedHead` (retry-key, skip-key): the action then acts on exactly what the preview counted,
// or answers 409 and changes nothing when the selection changed in between (at most actionCap
// jobs per call, newest first). A dead letter is a job id and a consumer (a job dead for two
// consumers is two dead letters): ids of dead letters come with their consumer.

export const actionNames = ["requeue", "purge", "cancel", "retry-key", "skip-key", "move"] as const;
export type ActionName = (typeof actionNames)[number];

/** How many ids an answer lists. */
const idsShown = 100;

export interface ActionResult {
  readonly preview?: true;
  readonly done?: true;
  readonly count: number;
  readonly ids: string[];
  readonly [more: string]: unknown;
}

interface Context {
  readonly pool: pg.Pool;
  readonly schema: string;
  readonly quotedSchema: string;
}

export async function runAction(context: Context, name: ActionName, body: unknown): Promise<ActionResult> {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new HttpError(400, "the body must be a JSON object");
  }
  const given = body as Record<string, unknown>;
  if (given.preview !== undefined && typeof given.preview !== "boolean") {
    throw new HttpError(400, "preview: expected true or false");
  }
  const preview = given.preview === true;
  switch (name) {
    case "requeue":
    case "purge":
      return selectionAction(context, name, "dead", given, preview);
    case "cancel":
      return selectionAction(context, name, "scheduled", given, preview);
    case "retry-key":
    case "skip-key":
      return keyAction(context, name, given, preview);
    case "move":
      return moveAction(context, given, preview);
  }
}

/** requeue, purge (dead letters) and cancel (scheduled jobs), on ids, a filter, or both. */
async function selectionAction(
  context: Context,
  name: "requeue" | "purge" | "cancel",
  state: JobState,
  given: Record<string, unknown>,
  preview: boolean,
): Promise<ActionResult> {
  const ids = parseIds(given.ids);
  const pairs = parsePairs(given.jobs, state);
  if (ids !== undefined && pairs !== undefined) throw new HttpError(400, "give ids or jobs, not both");
  const expected = parseExpect(given.expect);
  let filter: JobFilter = { state };
  if (given.filter !== undefined && given.filter !== null) {
    if (typeof given.filter !== "object" || Array.isArray(given.filter)) {
      throw new HttpError(400, "filter: expected an object");
    }
    const raw = given.filter as Record<string, unknown>;
    if (raw.state !== undefined && raw.state !== state) {
      throw new HttpError(400, `filter.state: ${name} acts on ${state} jobs only, got ${describe(raw.state)}`);
    }
    filter = parseFilter({ ...raw, state }, "filter.");
  } else if (ids === undefined && pairs === undefined) {
    throw new HttpError(
      400,
      `${name}: give the jobs, as ids${state === "dead" ? " with their consumer, jobs: [{ consumer, id }]," : ""} or a filter (with filter: {} for every ${state} job)`,
    );
  }
  const consumer = optionalText(given, "consumer", 200);
  if (consumer !== undefined) {
    if (state === "scheduled")
      throw new HttpError(400, "consumer: scheduled jobs belong to no consumer yet; leave it out");
    if (filter.consumer !== undefined && filter.consumer !== consumer) {
      throw new HttpError(400, "consumer: not the filter's consumer");
    }
    filter = { ...filter, consumer };
  }
  if (ids !== undefined && state !== "scheduled" && filter.consumer === undefined) {
    // The same id is a dead letter of each consumer that gave it up: acting on every one of
    // them is never what a click on one row meant.
    throw new HttpError(
      400,
      `consumer: required with ids (a ${state} job is ${state} for a consumer), or give jobs: [{ consumer, id }]`,
    );
  }
  return withConnection(context.pool, async (client) => {
    await client.query("BEGIN");
    try {
      const wanted = pairs === undefined ? undefined : new Set(pairs.map(pairKey));
      const chosen = pairs === undefined ? ids : unique(pairs.map((pair) => String(pair.id))).map(BigInt);
      let selected = await selectedJobs(client, context.quotedSchema, filter, chosen, actionCap);
      if (wanted !== undefined) selected = selected.filter((job) => wanted.has(pairKey(job)));
      const capped = selected.length > actionCap;
      const jobs = selected.slice(0, actionCap);
      const shown = unique(jobs.map((job) => String(job.id)));
      const expect = { count: jobs.length, selection: digest(jobs) };
      const extra = { capped, cap: actionCap };
      if (preview) {
        await client.query("ROLLBACK");
        return { preview: true, count: jobs.length, ids: shown.slice(0, idsShown), ...extra, expect };
      }
      if (expected !== undefined && (expected.count !== expect.count || expected.selection !== expect.selection)) {
        throw new HttpError(
          409,
          `the selection changed since its preview (${expected.count} job(s) then, ${expect.count} now): nothing was done; preview it again`,
        );
      }
      let count = 0;
      let done = shown;
      if (name === "cancel") {
        const outbox = new Client(client, { schema: context.schema });
        const cancelled = await outbox.cancelScheduled(
          jobs.map((job) => job.id as JobId),
          { tx: client },
        );
        count = cancelled.length;
        done = cancelled.map(String);
      } else {
        const act = name === "requeue" ? requeueDeadLetters : purgeDeadLetters;
        for (const [consumer, of] of byConsumer(jobs)) {
          count += await act(client, { schema: context.schema, consumer, ids: of });
        }
      }
      await client.query("COMMIT");
      return { done: true, count, ids: done.slice(0, idsShown), ...extra };
    } catch (error) {
      await rollback(client);
      throw error;
    }
  });
}

function pairKey(job: { consumer: string | null; id: bigint | string }): string {
  return `${job.consumer ?? ""}\u0000${job.id}`;
}

/** What a preview selected, (consumer, id) pairs in order, in a few bytes. */
function digest(jobs: readonly { consumer: string | null; id: bigint }[]): string {
  const hash = createHash("sha256");
  for (const job of jobs) hash.update(`${pairKey(job)}\n`);
  return hash.digest("base64url");
}

function parseExpect(value: unknown): { count: number; selection: string } | undefined {
  if (value === undefined || value === null) return undefined;
  const given = value as Record<string, unknown>;
  if (
    typeof value !== "object" ||
    !Number.isInteger(given.count) ||
    typeof given.selection !== "string" ||
    given.selection.length > 100
  ) {
    throw new HttpError(400, "expect: expected the preview's expect, { count, selection }");
  }
  return { count: given.count as number, selection: given.selection };
}

/** jobs: [{ consumer, id }], the dead letters themselves. */
function parsePairs(value: unknown, state: JobState): { consumer: string; id: bigint }[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (state === "scheduled") throw new HttpError(400, "jobs: scheduled jobs belong to no consumer; give ids");
  if (!Array.isArray(value)) throw new HttpError(400, "jobs: expected an array of { consumer, id }");
  if (value.length > actionCap) throw new HttpError(400, `jobs: at most ${actionCap} per call`);
  return value.map((each, index) => {
    const pair = each as Record<string, unknown> | null;
    const id = pair !== null && typeof pair === "object" ? parseJobId(pair.id) : undefined;
    const consumer = pair?.consumer;
    if (id === undefined || typeof consumer !== "string" || consumer.length === 0 || consumer.length > 200) {
      throw new HttpError(400, `jobs[${index}]: expected { consumer, id } (a consumer name, a job id as a string)`);
    }
    return { consumer, id };
  });
}

async function rollback(client: PooledConnection): Promise<void> {
  try {
    await client.query("ROLLBACK");
  } catch {
    // The connection is given up by withConnection anyway.
  }
}

function byConsumer(jobs: readonly { consumer: string | null; id: bigint }[]): Map<string, JobId[]> {
  const groups = new Map<string, JobId[]>();
  for (const job of jobs) {
    const consumer = job.consumer ?? "";
    const list = groups.get(consumer) ?? [];
    list.push(job.id as JobId);
    groups.set(consumer, list);
  }
  return groups;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

function parseIds(value: unknown): bigint[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw new HttpError(400, "ids: expected an array of job ids (strings)");
  if (value.length > actionCap) throw new HttpError(400, `ids: at most ${actionCap} per call`);
  return value.map((each, index) => {
    const id = parseJobId(each);
    if (id === undefined)
      throw new HttpError(400, `ids[${index}]: expected a job id (a string of digits), got ${describe(each)}`);
    return id;
  });
}

function requiredText(given: Record<string, unknown>, name: string, max = 500): string {
  const value = given[name];
  if (typeof value !== "string" || value.length === 0 || value.length > max) {
    throw new HttpError(400, `${name}: expected a string of 1 to ${max} characters, got ${describe(value)}`);
  }
  return value;
}

function optionalText(given: Record<string, unknown>, name: string, max = 1000): string | undefined {
  const value = given[name];
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string" || value.length > max) {
    throw new HttpError(400, `${name}: expected a string of at most ${max} characters`);
  }
  return value;
}

/** retry-key and skip-key: `{ consumer, key, reason?, force? }` on a blocked ordering key's head. */
async function keyAction(
  context: Context,
  name: "retry-key" | "skip-key",
  given: Record<string, unknown>,
  preview: boolean,
): Promise<ActionResult> {
  const consumer = requiredText(given, "consumer", 200);
  const key = requiredText(given, "key");
  const reason = optionalText(given, "reason");
  if (given.force !== undefined && typeof given.force !== "boolean")
    throw new HttpError(400, "force: expected true or false");
  const force = given.force === true;
  if (preview) {
    const [blocked] = await listBlockedKeys(context.pool, { schema: context.schema, consumer, key, limit: 1 });
    return {
      preview: true,
      count: blocked ? 1 : 0,
      ids: blocked ? [String(blocked.head.id)] : [],
      head: blocked ? { id: String(blocked.head.id), state: blocked.head.state, waiting: blocked.waiting } : null,
      expectedHead: blocked ? String(blocked.head.id) : null,
    };
  }
  const expectedHead =
    given.expectedHead === undefined || given.expectedHead === null ? undefined : parseJobId(given.expectedHead);
  if (given.expectedHead !== undefined && given.expectedHead !== null && expectedHead === undefined) {
    throw new HttpError(
      400,
      `expectedHead: expected the preview's head id (a string of digits), got ${describe(given.expectedHead)}`,
    );
  }
  const options = { schema: context.schema, consumer, key, force, reason };
  // In one transaction: when the head it acted on is not the one previewed, nothing stays done.
  const result = await withConnection(context.pool, async (client) => {
    await client.query("BEGIN");
    try {
      const acted = name === "retry-key" ? await retryKeyHead(client, options) : await skipKeyHead(client, options);
      if (expectedHead !== undefined && acted?.id !== expectedHead) {
        throw new HttpError(
          409,
          `the head of key ${describe(key)} changed since its preview (job ${expectedHead} then, ${acted ? `job ${acted.id}` : "none"} now): nothing was done; preview it again`,
        );
      }
      await client.query("COMMIT");
      return acted;
    } catch (error) {
      await rollback(client);
      throw error;
    }
  });
  return {
    done: true,
    count: result ? 1 : 0,
    ids: result ? [String(result.id)] : [],
    previousState: result?.previousState ?? null,
  };
}

/** move: `{ consumer, to: "now" | "oldest" | <ISO time> | <job id>, reason? }`, refused while the consumer runs. */
async function moveAction(context: Context, given: Record<string, unknown>, preview: boolean): Promise<ActionResult> {
  const consumer = requiredText(given, "consumer", 200);
  const to = parseMoveTarget(given.to);
  const reason = optionalText(given, "reason");
  if (preview) {
    // The same refusal as the move's own, so that a preview says what the move would do.
    const running = await withConnection(context.pool, async (client) => {
      const pid = await advisoryLockHolder(client, leaderLockKey(context.schema, consumer));
      if (pid !== null) return `process ${pid} holds its leader lock`;
      const slot = await slotState(client, await consumerSlot(client, context.schema, consumer));
      return slot?.active ? `its slot is in use by process ${slot.activePid}` : undefined;
    });
    if (running !== undefined) {
      throw new PoutboxError(
        "CONSUMER_ACTIVE",
        `consumer "${consumer}" is running (${running}); stop it before moving it`,
      );
    }
    const found = (await status(context.pool, { schema: context.schema })).consumers.find(
      (each) => each.name === consumer,
    );
    return {
      preview: true,
      count: 1,
      ids: [],
      consumer,
      exists: found !== undefined,
      target: targetText(to),
      pendingJobs: found?.pendingJobs ?? null,
    };
  }
  const move = await moveConsumer(context.pool, { schema: context.schema, consumer, to, reason });
  return {
    done: true,
    count: 1,
    ids: [],
    move: {
      consumer: move.consumer,
      target: move.target,
      reason: move.reason,
      movedAt: move.movedAt.toISOString(),
      movedBy: move.movedBy,
      previous: move.previous,
      snapshot: move.snapshot,
      restamped: move.restamped,
      slotDropped: move.slotDropped,
    },
  };
}

function parseMoveTarget(value: unknown): MoveTarget {
  if (value === "now" || value === "oldest") return value;
  const id = parseJobId(value);
  if (id !== undefined) return id as JobId;
  const time = parseTime(value);
  if (time !== undefined) return time;
  throw new HttpError(400, `to: expected "now", "oldest", an ISO 8601 time or a job id, got ${describe(value)}`);
}

function targetText(to: MoveTarget): string {
  return to instanceof Date ? to.toISOString() : typeof to === "bigint" ? `job ${to}` : to;
}

/** The HTTP status of a library error: 400 for a value it refuses, 409 for a state it refuses. */
export function statusOfError(error: unknown): number | undefined {
  if (!(error instanceof PoutboxError)) return undefined;
  return error.code === "INVALID_OPTION" || error.code === "INVALID_PAYLOAD" ? 400 : 409;
}
