// The replication protocol carries times as int64 microseconds since 2000-01-01 00:00 UTC
// (PostgreSQL's own epoch), not since 1970: the two epochs are 946,684,800 s apart.
const pgEpochMicros = 946_684_800_000_000n;

/**
 * Converts a Date or milliseconds since 1970 (`Date.now()`) to PostgreSQL's replication time:
 * microseconds since 2000-01-01 UTC, as a bigint. Fractions of a millisecond are kept to the
 * microsecond.
 *
 * @example
 * dateToPgMicros(Date.now()); // clientTime of a standby status update
 */
export function dateToPgMicros(time: Date | number): bigint {
  const ms = typeof time === "number" ? time : time.getTime();
  if (!Number.isFinite(ms)) throw new RangeError(`Cannot convert ${String(time)} to a PostgreSQL time`);
  return BigInt(Math.round(ms * 1000)) - pgEpochMicros;
}

/**
 * Converts PostgreSQL's replication time (microseconds since 2000-01-01 UTC) to a Date. A
 * Date holds milliseconds, so the microseconds are rounded down (towards the past).
 *
 * @example
 * pgMicrosToDate(begin.commitTime);
 */
export function pgMicrosToDate(micros: bigint): Date {
  const sinceUnixEpoch = micros + pgEpochMicros;
  // bigint division truncates towards zero; flooring keeps times before 1970 in the right ms.
  let ms = sinceUnixEpoch / 1000n;
  if (sinceUnixEpoch % 1000n < 0n) ms -= 1n;
  return new Date(Number(ms));
}
