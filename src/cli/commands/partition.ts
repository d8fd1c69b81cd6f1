import type { Command } from "commander";
import { adoptPartition, importPartition } from "../../maintenance/attached-partitions.js";
import { listPartitions } from "../../maintenance/partitions.js";
import { CommandError } from "../common/cli-errors.js";
import { confirm } from "../common/confirm.js";
import { type ConnectionOptions, withPool } from "../common/connection.js";
import { count } from "../common/format.js";
import { connectionOptions, jsonOption, print, printJson } from "../common/shared-options.js";

interface PartitionCommandOptions extends ConnectionOptions {
  readonly yes?: boolean;
  readonly json?: boolean;
}

export function definePartition(command: Command): void {
  command.description("tables attached to the immediate table by someone else");

  jsonOption(connectionOptions(command.command("import")))
    .argument("<name>", "the partition, as `poutbox status` lists it")
    .description(
      "take the rows of an attached table as jobs to deliver: every consumer delivers each once; " +
        "then keep it like the partitions maintenance makes",
    )
    .option("-y, --yes", "do not ask for confirmation")
    .action(async (name: string, options: PartitionCommandOptions) => {
      const result = await withPool(options, async (pool) => {
        if (!options.yes) {
          const partition = (await listPartitions(pool, { schema: options.schema })).find((each) => each.name === name);
          if (!partition) throw new CommandError(`no partition named "${name}" in ${options.schema}.immediate`);
          const managed = partition.managed ? " It was made by maintenance: its rows are jobs already known." : "";
          await confirm(`Deliver every row of ${name} as a new job, to every consumer?${managed}`);
        }
        return importPartition(pool, { schema: options.schema, partition: name });
      });
      if (options.json) return printJson(result);
      print(`imported ${name}: ${count(result.rows)} rows to be delivered`);
    });

  jsonOption(connectionOptions(command.command("adopt")))
    .argument("<name>", "the partition, as `poutbox status` lists it")
    .description(
      "keep an attached table as it is, like the partitions maintenance makes: its rows are jobs moved there " +
        "with all their columns, which consumers deliver once from where they were first written",
    )
    .action(async (name: string, options: PartitionCommandOptions) => {
      const result = await withPool(options, (pool) =>
        adoptPartition(pool, { schema: options.schema, partition: name }),
      );
      if (options.json) return printJson(result);
      print(`adopted ${name}: ${count(result.rows)} rows kept as they are`);
    });
}
