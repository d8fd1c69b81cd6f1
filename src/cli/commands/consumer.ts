import type { Command } from "commander";
import { PoutboxError } from "../../errors.js";
import { removeConsumer, replicationSlotStatus } from "../../replication/consumer-admin.js";
import { status } from "../../status/status.js";
import { CommandError } from "../cli-errors.js";
import { confirm } from "../confirm.js";
import { type ConnectionOptions, withPool } from "../connection.js";
import { bytes, count } from "../format.js";
import { connectionOptions, jsonOption, print, printJson } from "../shared-options.js";

interface RemoveOptions extends ConnectionOptions {
  readonly yes?: boolean;
  readonly json?: boolean;
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
}
