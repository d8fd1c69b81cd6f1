import { PoutboxError } from "../../core/errors.js";

/** Exit statuses of the `poutbox` command. */
export const exitCodes = {
  ok: 0,
  /** The command ran and failed: database unreachable, schema missing, consumer running, declined... */
  failed: 1,
  /** The command line itself is wrong: unknown option, bad value, missing selection. */
  usage: 2,
} as const;

/** The command line asks for something that cannot be done as written; exit status 2. */
export class UsageError extends Error {}

/** The command cannot do what was asked (a consumer that does not exist...); exit status 1. */
export class CommandError extends Error {}

/** The operator answered no (or nothing) to a confirmation; nothing was changed. */
export class DeclinedError extends Error {}

// Errors from the socket layer mean the server was never reached: say so, and where.
const unreachableCodes = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);

interface NetworkError {
  code?: string;
  message?: string;
  errors?: unknown[];
}

/**
 * One line that says what went wrong, for stderr. No stack: an operator needs the reason and
 * the next step, and the library's messages carry both.
 */
export function describeError(error: unknown, target: string | undefined): string {
  if (error instanceof PoutboxError) return `${error.message} [${error.code}]`;
  if (error instanceof UsageError || error instanceof DeclinedError || error instanceof CommandError) {
    return error.message;
  }
  const network = unreachable(error);
  if (network) return `cannot connect to the database${target ? ` at ${target}` : ""}: ${network}`;
  const failure = error as { code?: string; message?: string };
  const message = oneLine(failure?.message || String(error));
  // A SQLSTATE (five characters) names the server's reason precisely.
  return typeof failure?.code === "string" && /^[0-9A-Z]{5}$/.test(failure.code)
    ? `database error ${failure.code}: ${message}`
    : message;
}

/** The reason the server could not be reached, or undefined when the error is something else. */
function unreachable(error: unknown): string | undefined {
  const failure = error as NetworkError;
  if (failure === null || typeof failure !== "object") return undefined;
  // Node tries every address of a name (happy eyeballs) and reports them in one AggregateError
  // whose own message is empty.
  if (Array.isArray(failure.errors) && failure.errors.length > 0) {
    const reasons = failure.errors.map((each) => unreachable(each)).filter((each) => each !== undefined);
    if (reasons.length > 0) return [...new Set(reasons)].join("; ");
  }
  if (failure.code && unreachableCodes.has(failure.code)) return oneLine(failure.message || failure.code);
  const message = failure.message ?? "";
  // pg's own wording when connectionTimeoutMillis passes before the server answers.
  if (/timeout exceeded when trying to connect|connection timeout/i.test(message)) {
    return "no answer before the connection timeout";
  }
  return undefined;
}

export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").trim();
}
