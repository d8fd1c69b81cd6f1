import { Command, InvalidArgumentError, Option } from "commander";

export type DemoMode = "polling" | "replication";

export interface DemoOptions {
  readonly mode: DemoMode;
  /** Orders to attempt (committed or rolled back); 0 runs until Ctrl-C. */
  readonly jobs: number;
  readonly producers: number;
  /** Orders produced per second at most, all producers together; 0 for as fast as they go. */
  readonly rate: number;
  readonly rollbackRate: number;
  readonly failRate: number;
  readonly batchSize: number;
  readonly out: string;
  /** Seconds to wait, once producing stops, for the consumer to deliver the rest. */
  readonly drainTimeout: number;
  readonly json: boolean;
}

function whole(min: number) {
  return (text: string): number => {
    const value = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min) {
      throw new InvalidArgumentError(`expected a whole number of at least ${min}`);
    }
    return value;
  };
}

function fraction(text: string): number {
  const value = Number(text);
  if (text.trim() === "" || !(value >= 0 && value <= 1))
    throw new InvalidArgumentError("expected a number from 0 to 1");
  return value;
}

/** The seed's example writes polling deliveries to jobs.txt and replication ones to jobs_logical_repl.txt. */
export function defaultOutput(mode: DemoMode): string {
  return mode === "replication" ? "jobs_logical_repl.txt" : "jobs.txt";
}

export function parseDemoOptions(argv: readonly string[]): DemoOptions {
  const command = new Command("npm start --")
    .description(
      "Poutbox demo: producers save orders and their outbox jobs in one transaction (rolling some back on " +
        "purpose), a consumer delivers the jobs to a file, and the summary checks that every committed order's " +
        "job arrived and no rolled-back one did. Runs on a throw-away embedded PostgreSQL unless DATABASE_URL is set.",
    )
    .addOption(
      new Option("--mode <mode>", "how the consumer finds jobs").choices(["polling", "replication"]).default("polling"),
    )
    .option("--jobs <n>", "orders to attempt; 0 runs until Ctrl-C", whole(0), 5000)
    .option("--producers <n>", "concurrent producers, one connection each", whole(1), 4)
    .option("--rate <n>", "orders per second at most, all producers together; 0 for no limit", whole(0), 0)
    .option("--rollback-rate <fraction>", "share of orders rolled back on purpose", fraction, 0.1)
    .option(
      "--fail-rate <fraction>",
      "share of jobs the handler fails on their first attempt (they are retried)",
      fraction,
      0.02,
    )
    .option("--batch-size <n>", "most jobs per handler call", whole(1), 100)
    .option(
      "--out <file>",
      "where delivered jobs are written (default: jobs.txt, or jobs_logical_repl.txt for replication)",
    )
    .option("--drain-timeout <seconds>", "once producing stops, how long to wait for the last deliveries", whole(1), 30)
    .option("--json", "end with the summary as one JSON object on the last line of output", false)
    .showSuggestionAfterError()
    .configureOutput({
      outputError: (text, write) =>
        write(
          `demo: ${text
            .replace(/^error: /, "")
            .replace(/\s*\n\s*/g, " ")
            .trim()}\n`,
        ),
    })
    .exitOverride((error) => {
      process.exit(error.exitCode === 0 ? 0 : 2);
    })
    .parse(argv, { from: "user" });
  const options = command.opts<Omit<DemoOptions, "out"> & { out?: string }>();
  return { ...options, out: options.out ?? defaultOutput(options.mode) };
}
