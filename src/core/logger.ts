/**
 * Where the library writes what an operator may want to know. Each event is one call,
 * `logger.<level>?.(message, fields)`: a sentence, and its context as structured fields. A
 * level whose method is missing is not written.
 *
 * These fit as they are (`logger: x`, no glue: options pass what they are given through
 * {@link asLogger}):
 * - **console**, or a `new Console(stream)`: every level, each line prefixed `poutbox:` like
 *   {@link consoleLogger}'s, the fields printed after it as an object (console.debug and
 *   console.info write to stdout, warn and error to stderr). `consoleLogger(level)` is the
 *   same with a floor; `consoleLogger("warn")` is the default.
 * - **pino** (an instance or a child): its methods take the fields first, so it is called
 *   `pino.warn(fields, message)`; the fields become properties of the JSON line, and `err`
 *   goes through pino's error serializer.
 * - **bunyan**: called fields first likewise; give it `serializers: bunyan.stdSerializers` for
 *   `err` to be written with its message and stack.
 * - **winston**: takes `(message, meta)` already; an Error in the fields is handed to it as a
 *   plain object (`type`, `message`, `stack` and the error's own properties, such as `code`),
 *   since its JSON format writes an Error as `{}`.
 * - anything else with some of these four methods taking `(message, fields)`.
 *
 * The fields:
 * - `consumer` and `schema` on every line of a consumer (its maintenance included), `schema`
 *   on every line of a Maintenance;
 * - `epoch`: the leader term, on what happens during one;
 * - `jobId` (one job), `jobIds` and `batchSize` (a batch);
 * - `err`: an Error object, when there is one (pino's and bunyan's convention); `error` is a
 *   text, for an error known only as stored text (a held outcome's write error).
 * Job ids, epochs and transaction ids are strings: a bigint does not go into JSON.
 *
 * @example
 * ```ts
 * new Consumer(pool, handler, { logger: pino() });
 * new Consumer(pool, handler, { logger: winston.createLogger({ transports: [new winston.transports.Console()] }) });
 * new Consumer(pool, handler, { logger: console });
 * ```
 */
export interface Logger {
  debug?(message: string, fields?: Record<string, unknown>): void;
  info?(message: string, fields?: Record<string, unknown>): void;
  warn?(message: string, fields?: Record<string, unknown>): void;
  error?(message: string, fields?: Record<string, unknown>): void;
}

/** Says nothing: `logger: silentLogger` when every event is handled by the application. */
export const silentLogger: Logger = {};

const levels = ["debug", "info", "warn", "error"] as const;
type Level = (typeof levels)[number];
type Fields = Record<string, unknown>;
type Method = (...args: unknown[]) => unknown;

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
export function consoleLogger(level: Level = "warn"): Logger {
  const from = levels.indexOf(level);
  if (from < 0) throw new RangeError(`consoleLogger: level must be one of ${levels.join(", ")}, got ${String(level)}`);
  return prefixed(console, levels.slice(from));
}

/** What options default to. */
export const defaultLogger: Logger = consoleLogger("warn");

/**
 * The logger an option was given, made to take `(message, fields)` (see {@link Logger}):
 * - pino (a `bindings` function and a `levels` object with `values`) and bunyan (`addStream`,
 *   `addSerializers` and `levels` functions) are called fields first;
 * - a console (an instance of `console.Console`, the global one included) prefixes `poutbox:`;
 * - winston (`log`, `add` and `remove` functions and a `format` with `transform`) is given
 *   each Error field as a plain object;
 * - anything else is returned as it is, and so is what this returned (applying it twice is
 *   applying it once).
 * Every method is called on the logger given (`given.warn(...)`), never detached.
 */
export function asLogger(given: Logger): Logger {
  if (given === null || (typeof given !== "object" && typeof given !== "function")) return given;
  const shape = given as Record<string, unknown>;
  const has = (name: string) => typeof shape[name] === "function";
  const pino =
    has("bindings") && typeof shape.levels === "object" && typeof (shape.levels as Fields)?.values === "object";
  const bunyan = has("addStream") && has("addSerializers") && has("levels");
  if (pino || bunyan) return calling(given, (method, message, fields) => method(fields ?? {}, message));
  if (given instanceof console.Console) return prefixed(given, levels);
  const winston =
    has("log") && has("add") && has("remove") && typeof (shape.format as Fields | undefined)?.transform === "function";
  if (winston) {
    return calling(given, (method, message, fields) =>
      fields === undefined ? method(message) : method(message, plainErrors(fields)),
    );
  }
  return given;
}

/**
 * `logger` with `bound` added to the fields of each call (a call's own fields win): a
 * consumer's name and schema on every line it writes.
 */
export function withFields(logger: Logger, bound: Fields): Logger {
  return calling(logger, (method, message, fields) => method(message, { ...bound, ...fields }));
}

/**
 * A Logger with the levels `target` has, each calling `call` with the target's method (looked
 * up at each call, and bound to the target: pino swaps its methods when its level changes).
 */
function calling(
  target: object,
  call: (method: Method, message: string, fields: Fields | undefined) => void,
  which: readonly Level[] = levels,
): Logger {
  const methods = target as Record<Level, Method | undefined>;
  const logger: Logger = {};
  for (const level of which) {
    if (typeof methods[level] !== "function") continue;
    logger[level] = (message, fields) => call((...args) => methods[level]?.(...args), message, fields);
  }
  return logger;
}

/** A console's `which` levels, each line prefixed `poutbox:`. */
function prefixed(target: Console, which: readonly Level[]): Logger {
  return calling(
    target,
    (method, message, fields) => {
      if (fields === undefined) method(`poutbox: ${message}`);
      else method(`poutbox: ${message}`, fields);
    },
    which,
  );
}

/** `fields` with each Error a plain object, for loggers that write an Error as `{}`. */
function plainErrors(fields: Fields): Fields {
  if (!Object.values(fields).some((value) => value instanceof Error)) return fields;
  return Object.fromEntries(
    Object.entries(fields).map(([key, value]) => [key, value instanceof Error ? plainError(value) : value]),
  );
}

/**
 * An Error as pino's serializer writes it: `type` (its class), `message`, `stack`, then its own
 * properties (a pg error's `code`, `detail`...) and its `cause`, errors among them likewise.
 */
function plainError(error: Error, depth = 0): Fields {
  const plain: Fields = { type: error.constructor?.name ?? error.name, message: error.message, stack: error.stack };
  const own: [string, unknown][] = [...Object.entries(error), ["cause", error.cause]];
  for (const [key, value] of own) {
    if (Object.hasOwn(plain, key) || value === undefined) continue;
    plain[key] = value instanceof Error ? (depth < 5 ? plainError(value, depth + 1) : String(value)) : value;
  }
  return plain;
}
