import type { Command } from "commander";
import { type BlockedKey, listBlockedKeys, retryKeyHead, skipKeyHead } from "../../keys/blocked-keys.js";
import { checkSchema } from "../../schema/check-schema.js";
import { resolveSchema } from "../../schema/schema-name.js";
import { parsePositiveInteger } from "../common/arguments.js";
import { confirm } from "../common/confirm.js";
import { type ConnectionOptions, withPool } from "../common/connection.js";
import { clip, count, dim, table, time } from "../common/format.js";
import { connectionOptions, jsonOption, print, printJson } from "../common/shared-options.js";

interface ListOptions extends ConnectionOptions {
  readonly consumer?: string;
  readonly key?: string;
  readonly limit?: number;
  readonly json?: boolean;
}

interface HeadOptions extends ConnectionOptions {
  readonly consumer: string;
  readonly reason?: string;
  readonly force?: boolean;
  readonly yes?: boolean;
  readonly json?: boolean;
}

function blockedKeyJson(each: BlockedKey) {
  return {
    consumer: each.consumer,
    key: each.key,
    head: {
      ...each.head,
      id: String(each.head.id),
      failedAt: each.head.failedAt.toISOString(),
      nextRetryAt: each.head.nextRetryAt?.toISOString() ?? null,
    },
    waiting: each.waiting,
  };
}

export function defineKeys(command: Command): void {
  command.description("ordering keys held back by consumers with ordering by key");

  jsonOption(connectionOptions(command.command("list")))
    .description("list blocked keys, longest blocked first: each key's head job and how many wait behind it")
    .option("--consumer <name>", "only this consumer's keys")
    .option("--key <key>", "only this key")
    .option("--limit <n>", "at most this many", parsePositiveInteger, 100)
    .action(async (options: ListOptions) => {
      const found = await withPool(options, async (pool) => {
        const { schema, quotedSchema } = resolveSchema(options.schema);
        await checkSchema(pool, schema, quotedSchema);
        return listBlockedKeys(pool, {
          schema,
          limit: options.limit ?? 100,
          ...(options.consumer !== undefined && { consumer: options.consumer }),
          ...(options.key !== undefined && { key: options.key }),
        });
      });
      if (options.json) return printJson({ blockedKeys: found.map(blockedKeyJson) });
      if (found.length === 0) return print("no blocked keys");
      const view = table(
        ["consumer", "key", "head job", "state", "attempts", "next try (UTC)", "waiting", "last error"],
        ["head job", "attempts", "waiting"],
      );
      for (const each of found) {
        view.push([
          each.consumer,
          clip(each.key, 30),
          String(each.head.id),
          each.head.state,
          String(each.head.attempts),
          each.head.nextRetryAt ? time(each.head.nextRetryAt) : "-",
          count(each.waiting),
          clip(each.head.lastError.split("\n")[0] ?? "", 50),
        ]);
      }
      print(`${view.toString()}${dim("\nunblock one: poutbox keys retry <key> --consumer <name>, or keys skip")}`);
    });

  for (const action of ["retry", "skip"] as const) {
    let sub = jsonOption(connectionOptions(command.command(action)))
      .description(
        action === "retry"
          ? "deliver a blocked key's head job again now (a dead-lettered head with fresh attempts)"
          : "give up a blocked key's head job (into dead letter) and let the key go on with its next job",
      )
      .argument("<key>", "the ordering key")
      .requiredOption("--consumer <name>", "the consumer that holds the key back")
      .option("--force", "also act on a head being delivered (only when it is stuck)")
      .option("-y, --yes", "do not ask for confirmation");
    if (action === "skip") sub = sub.option("--reason <text>", "why, kept with the job in dead letter");
    sub.action(async (key: string, options: HeadOptions) => {
      const result = await withPool(options, async (pool) => {
        const { schema, quotedSchema } = resolveSchema(options.schema);
        await checkSchema(pool, schema, quotedSchema);
        const [blocked] = await listBlockedKeys(pool, { schema, consumer: options.consumer, key, limit: 1 });
        if (!blocked) return null;
        if (!options.yes) {
          const what = action === "retry" ? "Deliver again" : "Skip";
          await confirm(
            `${what} job ${blocked.head.id} (${blocked.head.state}), the head of key ${JSON.stringify(key)} of consumer ` +
              `"${options.consumer}", with ${count(blocked.waiting)} job(s) behind it?`,
          );
        }
        const head = { schema, consumer: options.consumer, key, force: options.force ?? false };
        return action === "retry"
          ? retryKeyHead(pool, head)
          : skipKeyHead(pool, { ...head, ...(options.reason !== undefined && { reason: options.reason }) });
      });
      if (options.json) {
        return printJson(result && { action, id: String(result.id), previousState: result.previousState });
      }
      if (!result) return print(`key ${JSON.stringify(key)} is not blocked for consumer "${options.consumer}"`);
      print(
        action === "retry"
          ? `job ${result.id} will be delivered again now; the key goes on once it succeeds`
          : `skipped job ${result.id} (kept in dead letter); the key goes on with its next job`,
      );
    });
  }
}
