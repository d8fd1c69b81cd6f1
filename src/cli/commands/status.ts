import type { Command } from "commander";
import { status } from "../../status/status.js";
import { statusToJson } from "../../status/status-to-json.js";
import { type ConnectionOptions, withPool } from "../common/connection.js";
import { connectionOptions, jsonOption, print, printJson } from "../common/shared-options.js";
import { statusView } from "../common/status-view.js";

interface StatusCommandOptions extends ConnectionOptions {
  readonly json?: boolean;
}

export function defineStatus(command: Command): void {
  jsonOption(connectionOptions(command))
    .description(
      "show the outbox: rows per table, each consumer's leader, position, backlog and lag, replication slots, partitions",
    )
    .action(async (options: StatusCommandOptions) => {
      const found = await withPool(options, (pool) => status(pool, { schema: options.schema }));
      if (options.json) return printJson(statusToJson(found));
      print(statusView(found));
    });
}
