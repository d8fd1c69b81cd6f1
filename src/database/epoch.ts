/**
 * SQL that reads a timestamptz as whole milliseconds since 1970 (an int8, cut towards the
 * past, as a JavaScript Date holds it). Unlike the timestamptz's own text, the number does not
 * depend on the session's DateStyle, TimeZone or extra_float_digits, which a role or database
 * may set to anything. `infinity` reads as NULL (an int8 cannot hold it).
 */
export function epochMs(expression: string): string {
  return `(CASE WHEN isfinite(${expression}) THEN floor(extract(epoch FROM ${expression}) * 1000)::int8 END)`;
}

/** The Date of an `epochMs` value as a driver returns it (text, number or bigint), or null. */
export function dateFromEpochMs(value: unknown): Date | null {
  if (value === null || value === undefined) return null;
  return new Date(Number(value));
}

/** As dateFromEpochMs, for a time that is always set: NULL (an infinite time) is an Invalid Date. */
export function requiredDateFromEpochMs(value: unknown): Date {
  return dateFromEpochMs(value) ?? new Date(Number.NaN);
}
