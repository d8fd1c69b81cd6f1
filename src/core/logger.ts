/** Where the library writes what an operator may want to know. */
export interface Logger {
  debug?(message: string, fields?: Record<string, unknown>): void;
  info?(message: string, fields?: Record<string, unknown>): void;
  warn?(message: string, fields?: Record<string, unknown>): void;
  error?(message: string, fields?: Record<string, unknown>): void;
}

/** Says nothing: `logger: silentLogger` when every event is handled by the application. */
export const silentLogger: Logger = {};

const levels = ["debug", "info", "warn", "error"] as const;

/**
 * Writes to the console (stderr) what is at `level` or above, each line starting with
 * `poutbox:`. The default logger is `consoleLogger("warn")`: a consumer's database errors,
 * refusals and held outcomes are seen without any set-up; routine information is not.
 *
 * @example
 * ```ts
 * new Consumer(pool, handler, { logger: consoleLogger("info") });
 * ```
 */
export function consoleLogger(level: (typeof levels)[number] = "warn"): Logger {
  const from = levels.indexOf(level);
  if (from < 0) throw new RangeError(`consoleLogger: level must be one of ${levels.join(", ")}, got ${String(level)}`);
  const write =
    (method: "debug" | "info" | "warn" | "error") => (message: string, fields?: Record<string, unknown>) => {
      if (fields === undefined) console[method](`poutbox: ${message}`);
      else console[method](`poutbox: ${message}`, fields);
    };
  const logger: Logger = {};
  for (const each of levels.slice(from)) logger[each] = write(each);
  return logger;
}

/** What options default to. */
export const defaultLogger: Logger = consoleLogger("warn");
