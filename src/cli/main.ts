#!/usr/bin/env node
// The `poutbox` command. Exit status: 0 done, 1 failed (the reason on one line of stderr),
// 2 bad command line.
import { type Command, CommanderError } from "commander";
import { InvalidOptionError } from "../core/errors.js";
import { describeError, exitCodes, UsageError } from "./common/cli-errors.js";
import { describeTarget } from "./common/connection.js";
import { program } from "./program.js";

function writeError(line: string): void {
  process.stderr.write(`poutbox: ${line}\n`);
}

async function main(argv: readonly string[]): Promise<number> {
  const root = program(writeError);
  let running: Command | undefined;
  root.hook("preAction", (_root, command) => {
    running = command;
  });
  try {
    await root.parseAsync(argv);
    return exitCodes.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version end in CommanderError too, with status 0; errors were already printed.
      return error.exitCode === 0 ? exitCodes.ok : exitCodes.usage;
    }
    // Named in the message only if the server could not be reached, and without its password.
    const url = (running?.opts().databaseUrl as string | undefined) ?? process.env.DATABASE_URL;
    writeError(describeError(error, url && describeTarget(url)));
    return error instanceof UsageError || error instanceof InvalidOptionError ? exitCodes.usage : exitCodes.failed;
  }
}

process.exitCode = await main(process.argv);
