import { InvalidArgumentError } from "commander";
import { PoutboxError } from "../../core/errors.js";
import { quoteSchemaName } from "../../schema/schema-name.js";

// Parsers for option values. Commander reports the InvalidArgumentError they throw as a usage
// error naming the option, so a bad value never reaches the database.

const units: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** `500ms`, `30s`, `15m`, `12h`, `7d`, `2w` (or several: `1h30m`) to milliseconds. A unit is required. */
export function parseDuration(text: string): number {
  const parts = /^(?:\d+(?:ms|s|m|h|d|w))+$/.test(text) ? text.match(/\d+(?:ms|s|m|h|d|w)/g) : null;
  if (!parts) {
    throw new InvalidArgumentError(`expected a duration such as 30s, 15m, 12h or 7d, got "${text}"`);
  }
  let total = 0;
  for (const part of parts) {
    const [, amount, unit] = /^(\d+)(ms|s|m|h|d|w)$/.exec(part) ?? [];
    total += Number(amount) * (units[unit ?? ""] ?? Number.NaN);
  }
  if (!Number.isSafeInteger(total)) throw new InvalidArgumentError(`"${text}" is too long a duration`);
  return total;
}

/** A job id: a positive 64-bit integer. Commas separate several; the option may also repeat. */
export function collectJobIds(text: string, previous: bigint[] = []): bigint[] {
  const ids = text.split(",").map((each) => each.trim());
  for (const id of ids) {
    if (!/^[1-9]\d{0,18}$/.test(id) || BigInt(id) > 9_223_372_036_854_775_807n) {
      throw new InvalidArgumentError(`expected job ids (positive integers), got "${text}"`);
    }
  }
  return [...previous, ...ids.map((id) => BigInt(id))];
}

export function parsePositiveInteger(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError(`expected a positive integer, got "${text}"`);
  }
  return value;
}

/** A schema name the library accepts (a plain identifier), checked before connecting. */
export function parseSchema(text: string): string {
  try {
    quoteSchemaName(text);
  } catch (error) {
    const message = error instanceof PoutboxError ? error.message : String(error);
    throw new InvalidArgumentError(message.replace(/^Invalid option "schema": /, ""));
  }
  return text;
}

/** `--to` of `consumer move`: oldest, now, a job id, or a time in ISO 8601 (with a zone, or UTC). */
export function parseMoveTarget(text: string): "oldest" | "now" | Date | bigint {
  if (text === "oldest" || text === "now") return text;
  if (/^\d+$/.test(text)) return collectJobIds(text)[0] as bigint;
  const iso = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(text);
  // A time without a zone is UTC, as the CLI prints times.
  const time = iso ? new Date(iso[4] || !iso[1] ? text : `${text}Z`) : undefined;
  if (time === undefined || Number.isNaN(time.getTime())) {
    throw new InvalidArgumentError(
      `expected oldest, now, a job id or a time such as 2026-12-05T10:00:00Z, got "${text}"`,
    );
  }
  return time;
}
