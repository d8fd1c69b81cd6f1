import { InvalidOptionError } from "./errors.js";

// Checks for option values, shared by every options object: each names the option it rejects.

export function integer(option: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(option, `expected an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

export function oneOf<T extends string>(option: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T)) {
    throw new InvalidOptionError(option, `expected one of ${allowed.join(", ")}, got ${String(value)}`);
  }
  return value as T;
}

export function boolean(option: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") throw new InvalidOptionError(option, `expected a boolean, got ${typeof value}`);
  return value;
}

export function number(option: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) {
    throw new InvalidOptionError(option, `expected a number from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}
