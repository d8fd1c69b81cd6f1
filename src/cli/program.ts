import { readFileSync } from "node:fs";
import { Command } from "commander";
import { defineConsumer } from "./commands/consumer.js";
import { defineDashboard } from "./commands/dashboard.js";
import { defineDeadLetter } from "./commands/dead-letter.js";
import { defineKeys } from "./commands/keys.js";
import { defineMaintenance } from "./commands/maintenance.js";
import { defineMetrics } from "./commands/metrics.js";
import { defineMigrate } from "./commands/migrate.js";
import { definePartition } from "./commands/partition.js";
import { defineRelay } from "./commands/relay.js";
import { defineScheduled } from "./commands/scheduled.js";
import { defineStatus } from "./commands/status.js";

// From src/cli/ and from dist/cli/ alike, the package's own package.json is two folders up.
const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  version: string;
};

/**
 * The `poutbox` command tree. Commander reports its own errors through `outputError`, given
 * here so that every message is one line; `exitOverride` makes it throw instead of exiting, so
 * main() decides the exit status. Subcommands made with `.command()` inherit both.
 */
export function program(writeError: (line: string) => void): Command {
  const root = new Command("poutbox")
    .description("Operate a Poutbox transactional outbox on PostgreSQL")
    .version(version, "-v, --version")
    .option("--no-color", "plain text output (also: NO_COLOR=1, or output that is not a terminal)")
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({
      outputError: (text) =>
        writeError(
          text
            .replace(/^error: /, "")
            .replace(/\s*\n\s*/g, " ")
            .trim(),
        ),
    });
  defineMigrate(root.command("migrate"));
  defineStatus(root.command("status"));
  defineDeadLetter(root.command("dead-letter"));
  defineConsumer(root.command("consumer"));
  defineKeys(root.command("keys"));
  defineMaintenance(root.command("maintenance"));
  definePartition(root.command("partition"));
  defineScheduled(root.command("scheduled"));
  defineRelay(root.command("relay"));
  defineMetrics(root.command("metrics"));
  defineDashboard(root.command("dashboard"));
  return root;
}
