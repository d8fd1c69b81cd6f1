import type { Command } from "commander";
import { Maintenance, type MaintenanceReport } from "../../maintenance/maintenance.js";
import { parseDuration } from "../common/arguments.js";
import { type ConnectionOptions, withPool } from "../common/connection.js";
import { time } from "../common/format.js";
import { connectionOptions, jsonOption, print, printJson } from "../common/shared-options.js";

interface MaintenanceCommandOptions extends ConnectionOptions {
  readonly json?: boolean;
  readonly partitionInterval?: number;
  readonly lookAhead?: number;
  readonly retention?: number;
  readonly lockTimeout?: number;
}

function range(each: { name: string; from: Date; to: Date }): string {
  return `${each.name} (${time(each.from)} to ${time(each.to)} UTC)`;
}

function reportView(report: MaintenanceReport): string {
  if (!report.ran) return "another process is running maintenance on this schema: nothing done";
  const lines = [
    ...report.created.map((each) => `created ${range(each)}`),
    ...report.dropped.map((each) => `dropped ${range(each)}`),
    ...report.skipped.map(
      (each) => `kept ${range(each)}: ${each.reason}${each.consumers?.length ? ` (${each.consumers.join(", ")})` : ""}`,
    ),
  ];
  if (report.defaultRows > 0) {
    lines.push(`default partition: ${report.defaultRows} rows, ${report.defaultRowsRemoved} removed`);
  }
  for (const each of report.attached) {
    lines.push(
      `attached table ${each.name} holds ${each.rows} rows no consumer is known to have seen: ` +
        `\`poutbox partition import ${each.name}\` delivers them, \`poutbox partition adopt ${each.name}\` keeps them as moved jobs`,
    );
  }
  if (report.restamped > 0) {
    lines.push(`${report.restamped} rows copied from another cluster were re-inserted to be delivered`);
  }
  if (report.idempotencyKeysReleased > 0) {
    lines.push(`${report.idempotencyKeysReleased} idempotency keys released (their jobs are no longer pending)`);
  }
  if (lines.length === 0) lines.push("nothing to do: partitions are in place and none can be dropped yet");
  return lines.join("\n");
}

export function defineMaintenance(command: Command): void {
  command.description("partition maintenance of the immediate table");

  jsonOption(connectionOptions(command.command("run")))
    .description(
      "run partition maintenance once: create partitions ahead, drop those every consumer has passed " +
        "(consumer leaders also do this by default)",
    )
    .option(
      "--partition-interval <duration>",
      "time range of one partition, as the consumers use (default: 1h)",
      parseDuration,
    )
    .option(
      "--look-ahead <duration>",
      "create partitions this far ahead (default: 3 partition intervals)",
      parseDuration,
    )
    .option(
      "--retention <duration>",
      "keep a consumed partition at least this long after its range ended (default: 0)",
      parseDuration,
    )
    .option("--lock-timeout <duration>", "give up on a table lock after this long (default: 100ms)", parseDuration)
    .action(async (options: MaintenanceCommandOptions) => {
      const report = await withPool(options, (pool) => {
        const maintenance = new Maintenance(pool, {
          schema: options.schema,
          ...(options.partitionInterval !== undefined && { partitionInterval: options.partitionInterval }),
          ...(options.lookAhead !== undefined && { lookAhead: options.lookAhead }),
          ...(options.retention !== undefined && { retention: options.retention }),
          ...(options.lockTimeout !== undefined && { lockTimeout: options.lockTimeout }),
        });
        return maintenance.runOnce();
      });
      if (options.json) return printJson(report);
      print(reportView(report));
    });
}
