import type { Command } from "commander";
import { Client } from "../../client/client.js";
import type { JobId } from "../../core/job-id.js";
import { checkSchema } from "../../schema/check-schema.js";
import { resolveSchema } from "../../schema/schema-name.js";
import { collectJobIds } from "../common/arguments.js";
import { confirm } from "../common/confirm.js";
import { type ConnectionOptions, withPool } from "../common/connection.js";
import { count } from "../common/format.js";
import { connectionOptions, jsonOption, print, printJson } from "../common/shared-options.js";

interface CancelOptions extends ConnectionOptions {
  readonly yes?: boolean;
  readonly json?: boolean;
}

export function defineScheduled(command: Command): void {
  command.description("scheduled jobs (enqueued with runAt)");

  jsonOption(connectionOptions(command.command("cancel")))
    .description("cancel scheduled jobs that are not due yet: they are deleted and never delivered")
    .argument("<ids...>", "job ids (separated by spaces or commas)", collectJobIds)
    .option("-y, --yes", "do not ask for confirmation")
    .action(async (ids: JobId[], options: CancelOptions) => {
      const cancelled = await withPool(options, async (pool) => {
        const { schema, quotedSchema } = resolveSchema(options.schema);
        await checkSchema(pool, schema, quotedSchema);
        if (!options.yes) {
          await confirm(`Cancel ${ids.length === 1 ? "scheduled job" : "the scheduled jobs"} ${ids.join(", ")}?`);
        }
        return new Client(pool, { schema }).cancelScheduled(ids);
      });
      // Not cancelled: already due (moved to immediate for delivery), or no such scheduled job.
      const missed = ids.filter((id) => !cancelled.includes(id));
      if (options.json) return printJson({ cancelled: cancelled.map(String), notScheduled: missed.map(String) });
      print(`cancelled ${count(cancelled.length)} scheduled job${cancelled.length === 1 ? "" : "s"}`);
      if (missed.length > 0) print(`not scheduled (already due, or no such job): ${missed.join(", ")}`);
    });
}
