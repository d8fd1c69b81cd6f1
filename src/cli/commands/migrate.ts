import type { Command } from "commander";
import { migrate } from "../../schema/migrate.js";
import { type ConnectionOptions, withPool } from "../common/connection.js";
import { connectionOptions, jsonOption, print, printJson } from "../common/shared-options.js";

interface MigrateCommandOptions extends ConnectionOptions {
  readonly json?: boolean;
}

export function defineMigrate(command: Command): void {
  jsonOption(connectionOptions(command))
    .description("create the outbox schema, or upgrade it to this version's migrations; safe to repeat")
    .action(async (options: MigrateCommandOptions) => {
      const result = await withPool(options, (pool) => migrate(pool, { schema: options.schema }));
      if (options.json) return printJson(result);
      print(
        result.applied.length === 0
          ? `schema "${result.schema}" is up to date (migration ${result.version})`
          : `schema "${result.schema}": applied migration${result.applied.length > 1 ? "s" : ""} ` +
              `${result.applied.join(", ")}; now at migration ${result.version}`,
      );
    });
}
