import { InvalidOptionError } from "../core/errors.js";
import { asLogger, defaultLogger, type Logger, withFields } from "../core/logger.js";
import { integer } from "../core/option-checks.js";
import { resolveSchema } from "../schema/schema-name.js";

const minute = 60_000;
const hour = 60 * minute;
const day = 24 * hour;

export interface MaintenanceOptions {
  /** Schema that holds the outbox tables. Default `"poutbox"`. */
  readonly schema?: string;
  /**
   * Time range of one partition of `immediate`, in ms: at least one minute, whole seconds.
   * Boundaries are multiples of it counted from the Unix epoch in UTC (a day starts at 00:00
   * UTC), whatever the session's time zone. Default one hour.
   */
  readonly partitionInterval?: number;
  /** Partitions are created this far ahead of the current time, in ms. Default three partition intervals. */
  readonly lookAhead?: number;
  /**
   * Minimum age, in ms after a partition's range ends, before it may be dropped. It never
   * makes a partition droppable: that still needs every consumer to have passed every row in
   * it. Default 0.
   */
  readonly retention?: number;
  /** The periodic runner's pause between runs, in ms. Default a quarter of partitionInterval, at most one minute. */
  readonly runInterval?: number;
  /**
   * How long a step waits for a table lock before giving up until the next run, in ms. Dropping
   * a partition locks the whole table, so producers can wait up to about this long. Default 100.
   */
  readonly lockTimeout?: number;
  /** Default `consoleLogger("warn")`: warnings and errors on stderr. */
  readonly logger?: Logger;
}

export interface ResolvedMaintenanceOptions {
  readonly schema: string;
  readonly quotedSchema: string;
  readonly partitionInterval: number;
  readonly lookAhead: number;
  readonly retention: number;
  readonly runInterval: number;
  readonly lockTimeout: number;
  readonly logger: Logger;
}

/** More partitions than this ahead of time is a mistake (a look-ahead in ms read as minutes...). */
const maxPartitionsAhead = 1000;

export function resolveMaintenanceOptions(options: MaintenanceOptions, prefix = ""): ResolvedMaintenanceOptions {
  if (options === null || typeof options !== "object") {
    throw new InvalidOptionError(prefix || "options", "expected an object");
  }
  const { schema, quotedSchema } = resolveSchema(options.schema);
  const partitionInterval = integer(`${prefix}partitionInterval`, options.partitionInterval, hour, minute, 366 * day);
  if (partitionInterval % 1000 !== 0) {
    throw new InvalidOptionError(`${prefix}partitionInterval`, `expected whole seconds, got ${partitionInterval} ms`);
  }
  const lookAhead = integer(
    `${prefix}lookAhead`,
    options.lookAhead,
    3 * partitionInterval,
    0,
    maxPartitionsAhead * partitionInterval,
  );
  return {
    schema,
    quotedSchema,
    partitionInterval,
    lookAhead,
    retention: integer(`${prefix}retention`, options.retention, 0, 0, 100 * 366 * day),
    runInterval: integer(`${prefix}runInterval`, options.runInterval, Math.min(partitionInterval / 4, minute), 10, day),
    lockTimeout: integer(`${prefix}lockTimeout`, options.lockTimeout, 100, 1, 60_000),
    logger: withFields(asLogger(options.logger ?? defaultLogger), { schema }),
  };
}
