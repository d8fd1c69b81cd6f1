import type { Command } from "commander";
import type pg from "pg";
import type { JobId } from "../../core/job-id.js";
import { queryRow } from "../../database/query-rows.js";
import {
  countDeadLetters,
  type DeadLetter,
  type DeadLetterSelection,
  listDeadLetters,
  purgeDeadLetters,
  requeueDeadLetters,
} from "../../dead-letter/dead-letter.js";
import { serverTimeBefore } from "../../dead-letter/dead-letter-queries.js";
import { checkSchema } from "../../schema/check-schema.js";
import { resolveSchema } from "../../schema/schema-name.js";
import { collectJobIds, parseDuration, parsePositiveInteger } from "../common/arguments.js";
import { UsageError } from "../common/cli-errors.js";
import { confirm } from "../common/confirm.js";
import { type ConnectionOptions, withPool } from "../common/connection.js";
import { clip, count, dim, duration, table, time } from "../common/format.js";
import { connectionOptions, jsonOption, print, printJson } from "../common/shared-options.js";

interface SelectionOptions extends ConnectionOptions {
  readonly consumer?: string;
  readonly id?: JobId[];
  /** ms */
  readonly olderThan?: number;
  readonly all?: boolean;
  readonly yes?: boolean;
  readonly json?: boolean;
  readonly limit?: number;
}

function selectionOptions(command: Command): Command {
  return command
    .option("--consumer <name>", "only the dead letters of this consumer")
    .option("--id <ids>", "only these job ids (comma-separated; repeatable)", collectJobIds)
    .option("--older-than <duration>", "only those that died longer ago than this (30m, 12h, 7d...)", parseDuration);
}

/** What the options select, described for a confirmation question. */
function described(options: SelectionOptions): string {
  const parts: string[] = [];
  if (options.consumer !== undefined) parts.push(`of consumer "${options.consumer}"`);
  if (options.id) parts.push(`with id ${options.id.join(", ")}`);
  if (options.olderThan !== undefined) parts.push(`dead for more than ${duration(options.olderThan)}`);
  return parts.length > 0 ? ` ${parts.join(", ")}` : "";
}

/**
 * The library's selection. "Older than" is measured on the server's clock, the one dead_at
 * was written with, so a skewed client clock cannot widen it.
 */
async function selection(pool: pg.Pool, options: SelectionOptions): Promise<DeadLetterSelection> {
  const { schema, quotedSchema } = resolveSchema(options.schema);
  await checkSchema(pool, schema, quotedSchema);
  let deadBefore: Date | undefined;
  if (options.olderThan !== undefined) {
    // As epoch ms: a timestamptz's text follows the role's DateStyle and TimeZone.
    const { before } = await queryRow(pool, serverTimeBefore, [options.olderThan]);
    deadBefore = new Date(Number(before));
  }
  return {
    schema: options.schema,
    ...(options.consumer !== undefined && { consumer: options.consumer }),
    ...(options.id && { ids: options.id }),
    ...(deadBefore && { deadBefore }),
    ...(options.all && { all: true }),
  };
}

/** A dead letter in JSON types: the id as a string (64-bit), times as ISO 8601 strings. */
function deadLetterJson(each: DeadLetter) {
  return {
    id: String(each.id),
    consumer: each.consumer,
    topic: each.topic,
    payload: each.payload,
    headers: each.headers,
    attempts: each.attempts,
    lastError: each.lastError,
    enqueuedAt: each.enqueuedAt.toISOString(),
    createdAt: each.createdAt.toISOString(),
    failedAt: each.failedAt.toISOString(),
    deadAt: each.deadAt.toISOString(),
  };
}

/** Requeue and purge act on a chosen set: a filter, or --all, never both and never neither. */
function requireChoice(options: SelectionOptions): void {
  const filtered = options.consumer !== undefined || options.id !== undefined || options.olderThan !== undefined;
  if (!filtered && !options.all) {
    throw new UsageError("say which dead letters: --id, --older-than, --consumer, or --all for every one");
  }
  if (filtered && options.all) throw new UsageError("--all cannot be combined with --id, --older-than or --consumer");
}

export function defineDeadLetter(command: Command): void {
  command.description("list, requeue or purge jobs that used up their attempts");

  jsonOption(connectionOptions(selectionOptions(command.command("list"))))
    .description("list dead letters, newest first")
    .option("--limit <n>", "at most this many", parsePositiveInteger, 100)
    .action(async (options: SelectionOptions) => {
      const { found, matched } = await withPool(options, async (pool) => {
        const chosen = await selection(pool, options);
        const found = await listDeadLetters(pool, { ...chosen, limit: options.limit ?? 100 });
        return { found, matched: await countDeadLetters(pool, chosen) };
      });
      if (options.json) {
        return printJson({ matched, deadLetters: found.map(deadLetterJson) });
      }
      if (found.length === 0) return print(`no dead letters${described(options)}`);
      const view = table(
        ["id", "consumer", "topic", "attempts", "enqueued (UTC)", "dead at (UTC)", "last error", "payload"],
        ["id", "attempts"],
      );
      for (const each of found) {
        view.push([
          String(each.id),
          each.consumer,
          each.topic ?? "",
          String(each.attempts),
          time(each.enqueuedAt),
          time(each.deadAt),
          clip(each.lastError.split("\n")[0] ?? "", 50),
          clip(JSON.stringify(each.payload), 40),
        ]);
      }
      const shown = found.length < matched ? dim(`\n${count(found.length)} of ${count(matched)} shown (--limit)`) : "";
      print(`${view.toString()}${shown}`);
    });

  for (const action of ["requeue", "purge"] as const) {
    const verb = action === "requeue" ? "Requeue" : "Purge";
    jsonOption(connectionOptions(selectionOptions(command.command(action))))
      .description(
        action === "requeue"
          ? "send dead letters back for delivery, to the consumer they died in, with fresh attempts"
          : "delete dead letters for good",
      )
      .option("--all", "every dead letter (of the schema)")
      .option("-y, --yes", "do not ask for confirmation")
      .action(async (options: SelectionOptions) => {
        requireChoice(options);
        const result = await withPool(options, async (pool) => {
          const chosen = await selection(pool, options);
          const matched = await countDeadLetters(pool, chosen);
          if (matched === 0) return { matched, changed: 0 };
          if (!options.yes) {
            const warning = action === "purge" ? ` ${matched === 1 ? "It" : "They"} cannot be recovered.` : "";
            await confirm(
              `${verb} ${count(matched)} dead letter${matched === 1 ? "" : "s"}${described(options)}?${warning}`,
            );
          }
          const changed =
            action === "requeue" ? await requeueDeadLetters(pool, chosen) : await purgeDeadLetters(pool, chosen);
          return { matched, changed };
        });
        if (options.json) return printJson({ action, matched: result.matched, [`${action}d`]: result.changed });
        if (result.matched === 0) return print(`no dead letters${described(options)}: nothing to ${action}`);
        print(`${action}d ${count(result.changed)} dead letter${result.changed === 1 ? "" : "s"}`);
      });
  }
}
