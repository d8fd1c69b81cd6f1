import { type Command, Option } from "commander";
import { defaultSchemaName } from "../../schema/schema-name.js";
import { parsePositiveInteger, parseSchema } from "./arguments.js";

/** Adds the connection options to a subcommand, so each one's --help lists them. */
export function connectionOptions(command: Command): Command {
  return command
    .addOption(new Option("--database-url <url>", "PostgreSQL connection string").env("DATABASE_URL"))
    .addOption(
      new Option("--schema <name>", "schema of the outbox tables").default(defaultSchemaName).argParser(parseSchema),
    )
    .addOption(
      new Option("--connect-timeout <seconds>", "give up when the server has not answered after this long")
        .default(10)
        .argParser(parsePositiveInteger),
    );
}

/** `--json`: machine-readable output on stdout, one JSON document. */
export function jsonOption(command: Command): Command {
  return command.option("--json", "print one JSON document instead of text");
}

/** Prints a JSON document on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function print(text: string): void {
  process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
}
