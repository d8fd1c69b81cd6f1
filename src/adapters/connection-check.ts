import { InvalidOptionError } from "../core/errors.js";

/**
 * Refuses, at adapter construction, a value that lacks the method the adapter calls, so a
 * wrong argument fails where it is passed instead of at the first enqueue.
 */
export function requireMethod(value: unknown, method: string, expected: string): void {
  // Some drivers' handles are functions with methods (a postgres.js sql, a Knex instance).
  const holder = typeof value === "object" || typeof value === "function";
  if (value === null || !holder || typeof (value as Record<string, unknown>)[method] !== "function") {
    throw new InvalidOptionError("db", `expected ${expected} (something with ${method}()), got ${describe(value)}`);
  }
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value !== "object" && typeof value !== "function") return typeof value;
  return value.constructor?.name ? `a ${value.constructor.name}` : "an object";
}
