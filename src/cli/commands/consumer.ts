import { type Command, Option } from "commander";
import { PoutboxError } from "../../core/errors.js";
import { type MoveTarget, moveConsumer } from "../../recovery/move-consumer.js";
import { storedProgressMismatch } from "../../recovery/progress-check.js";
import { removeConsumer } from "../../recovery/remove-consumer.js";
import { resolveSchema } from "../../schema/schema-name.js";
import { replicationSlotStatus } from "../../slots/slot-status.js";
import { status } from "../../status/status.js";
import { parseMoveTarget } from "../common/arguments.js";
import { CommandError } from "../common/cli-errors.js";
import { confirm } from "../common/confirm.js";
import { type ConnectionOptions, withPool } from "../common/connection.js";
import { bytes, count, time } from "../common/format.js";
import { connectionOptions, jsonOption, print, printJson } from "../common/shared-options.js";

interface RemoveOptions extends ConnectionOptions {
  readonly yes?: boolean;
  readonly json?: boolean;
}

interface MoveOptions extends RemoveOptions {
  readonly to: MoveTarget;
  readonly reason?: string;
}

export function defineConsumer(command: Command): void {
  command.description("manage consumer names");

  jsonOption(connectionOptions(command.command("remove")))
    .argument("<name>", "the consumer name")
    .description(
      "remove a consumer for good: its progress, pending retries, replication slot, and the publication when no " +
        "replication consumer is left (its dead letters stay); refused while it runs",
    )
    .option("-y, --yes", "do not ask for confirmation")
    .action(async (name: string, options: RemoveOptions) => {
      const removed = await withPool(options, async (pool) => {
        const { consumers } = await status(pool, { schema: options.schema });
        const found = consumers.find((each) => each.name === name);
        const slot = await replicationSlotStatus(pool, { schema: options.schema, consumer: name });
        if (!found && !slot) {
          throw new CommandError(`no consumer named "${name}" in schema "${options.schema}"`);
        }
        if (found?.leader) {
          throw new PoutboxError(
            "CONSUMER_ACTIVE",
            `consumer "${name}" is running (process ${found.leader.pid} holds its leader lock); stop it first`,
          );
        }
        if (!options.yes) {
          const pending = found?.pendingJobs ? `, ${count(found.pendingJobs)} jobs pending` : "";
          const slotText = slot ? `, slot ${slot.name} (retaining ${bytes(slot.retainedBytes)} of WAL)` : "";
          await confirm(
            `Remove consumer "${name}"${pending}${slotText}? A consumer started later under this name starts ` +
              "from the oldest job still in the outbox.",
          );
        }
        return removeConsumer(pool, { schema: options.schema, consumer: name });
      });
      if (options.json) return printJson({ consumer: name, ...removed });
      const parts = [
        removed.row ? "progress deleted" : "",
        removed.failed > 0 ? `${count(removed.failed)} pending retries deleted` : "",
        removed.slot ? "replication slot dropped" : "",
        removed.publication ? "publication dropped" : "",
      ].filter((each) => each !== "");
      print(`removed consumer "${name}": ${parts.join(", ")}`);
    });

  jsonOption(connectionOptions(command.command("move")))
    .argument("<name>", "the consumer name")
    .description(
      "move a consumer's position, as after a restore: `--to oldest` delivers every job still in the outbox " +
        "again, `--to now` skips them and starts from the server's present position, `--to <time>` or " +
        "`--to <job id>` delivers again what was enqueued from then on; refused while it runs; recorded with " +
        "who, when, from where and why",
    )
    .addOption(
      new Option("--to <position>", "oldest, now, a time (ISO 8601: 2026-12-05T10:00:00Z) or a job id")
        .argParser(parseMoveTarget)
        .makeOptionMandatory(),
    )
    .option("--reason <text>", "why, recorded with the move")
    .option("-y, --yes", "do not ask for confirmation")
    .action(async (name: string, options: MoveOptions) => {
      const move = await withPool(options, async (pool) => {
        if (!options.yes) {
          const { consumers, tables } = await status(pool, { schema: options.schema });
          const found = consumers.find((each) => each.name === name);
          if (found?.leader) {
            throw new PoutboxError(
              "CONSUMER_ACTIVE",
              `consumer "${name}" is running (process ${found.leader.pid} holds its leader lock); stop it first`,
            );
          }
          const mismatch = await storedProgressMismatch(pool, resolveSchema(options.schema).quotedSchema, name);
          const why = mismatch ? `Its stored progress does not belong to this server: ${mismatch.detail}. ` : "";
          const what =
            options.to === "oldest"
              ? `deliver again every job still in the outbox (${tables.immediate.estimated ? "about " : ""}` +
                `${count(tables.immediate.rows)} rows in immediate, its own retries and every consumer's jobs)`
              : options.to === "now"
                ? `skip ${found?.pendingJobs === null || found === undefined ? "every job" : `the ${count(found.pendingJobs)} jobs`} ` +
                  "its progress shows as pending, and start from the server's present position"
                : `deliver again ${typeof options.to === "bigint" ? `job ${options.to} and the jobs after it` : `the jobs enqueued since ${time(options.to)} UTC`}`;
          const target =
            typeof options.to === "bigint"
              ? `job ${options.to}`
              : options.to instanceof Date
                ? time(options.to)
                : options.to;
          await confirm(
            `${why}Move consumer "${name}" ${found ? "" : "(it has no progress yet) "}to ${target}: it will ${what}?`,
          );
        }
        return moveConsumer(pool, { schema: options.schema, consumer: name, to: options.to, reason: options.reason });
      });
      if (options.json) return printJson(move);
      const parts = [
        `moved consumer "${name}" to ${move.target} (snapshot ${move.snapshot})`,
        move.restamped > 0 ? `${count(move.restamped)} rows copied from another cluster made deliverable` : "",
        move.slotDropped ? "replication slot dropped (the next start creates one)" : "",
      ].filter((each) => each !== "");
      print(parts.join("; "));
    });
}
