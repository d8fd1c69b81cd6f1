import { parseArgs } from "node:util";

export const scenarioNames = [
  "enqueue_single",
  "enqueue_bulk",
  "drain_polling",
  "drain_subscribed",
  "drain_ordered",
  "drain_replication",
  "latency_polling",
  "latency_replication",
  "growth_polling",
  "retry_path",
  "batch_memory",
  "relay",
  "telemetry",
] as const;

export type ScenarioName = (typeof scenarioNames)[number];

export interface BenchOptions {
  /** Jobs per drain; the other scenarios derive their counts from it (see docs/benchmarks.md). */
  readonly n: number;
  readonly scenarios: readonly ScenarioName[];
  /** Also measure pg-boss and graphile-worker (bench/peers). */
  readonly peers: boolean;
  /** Write JSON lines to stdout instead of the table (the table then goes to stderr). */
  readonly json: boolean;
  /** Seconds each latency run produces jobs for. */
  readonly latencySeconds: number;
  /** Write a CPU profile of every child process into this folder. */
  readonly cpuProfileDir: string | undefined;
}

const usage = `npm run bench -- [options]
  --n N             jobs per drain (default 200000); other scenarios scale from it
  --only a,b        run only these scenarios: ${scenarioNames.join(", ")}
  --skip a,b        run all but these
  --no-peers        leave out pg-boss and graphile-worker
  --json            one JSON object per line on stdout (the table goes to stderr)
  --latency-seconds S  how long each latency run produces jobs (default 5)
  --cpu-prof DIR    a .cpuprofile of every child process (consumers, readers) in DIR
DATABASE_URL      a server to use instead of an embedded PostgreSQL 17`;

export function parseBenchOptions(argv: readonly string[]): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      n: { type: "string" },
      only: { type: "string" },
      skip: { type: "string" },
      "no-peers": { type: "boolean" },
      json: { type: "boolean" },
      "latency-seconds": { type: "string" },
      "cpu-prof": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  const n = Number(values.n ?? 200_000);
  if (!Number.isInteger(n) || n < 1000) fail(`--n must be an integer of at least 1000, got ${values.n}`);
  const list = (text: string | undefined) =>
    text === undefined ? undefined : text.split(",").map((name) => checkScenario(name.trim()));
  const only = list(values.only);
  const skip = new Set(list(values.skip) ?? []);
  const latencySeconds = Number(values["latency-seconds"] ?? 5);
  if (!(latencySeconds > 0)) fail(`--latency-seconds must be positive, got ${values["latency-seconds"]}`);
  return {
    n,
    scenarios: (only ?? scenarioNames).filter((name) => !skip.has(name)),
    peers: !values["no-peers"],
    json: values.json ?? false,
    latencySeconds,
    cpuProfileDir: values["cpu-prof"],
  };
}

function checkScenario(name: string): ScenarioName {
  if (!(scenarioNames as readonly string[]).includes(name)) fail(`unknown scenario "${name}"`);
  return name as ScenarioName;
}

function fail(message: string): never {
  console.error(`${message}\n\n${usage}`);
  process.exit(2);
}
