import { InvalidPayloadError } from "../core/errors.js";
import { formatPath } from "../core/payload-path.js";

/**
 * Serialises a value to JSON text, refusing what `JSON.stringify` would silently change:
 * functions and symbols (dropped), BigInt (throws without saying where), NaN and Infinity
 * (become null), undefined at the top or in an array (becomes nothing or null), Map and Set
 * (become {}), invalid Dates (become null), and cycles (throw without saying where).
 *
 * An object property whose value is undefined is allowed and left out, as JSON does: the
 * receiver reads `undefined` for it either way, so nothing changes meaning.
 */
export function toJson(value: unknown, root: string): string {
  // One pass in the usual case: JSON.stringify with a replacer that stops at the first value
  // JSON would change. Only then does the slower walk below run, to say where it is. (The walk
  // before every stringify was most of enqueueMany's client time; see docs/benchmarks.md.)
  try {
    const text = JSON.stringify(value, checkValue);
    if (text !== undefined) return text;
  } catch {
    // A value JSON would change, a cycle, or a toJSON that throws: the walk says which.
  }
  return toJsonWalking(value, root);
}

const notRepresentable = new Error("not representable in JSON");

/** The replacer: lets every value through unchanged, or throws at the first bad one. */
function checkValue(this: unknown, key: string, current: unknown): unknown {
  switch (typeof current) {
    case "string":
    case "boolean":
      return current;
    case "number":
      if (Number.isFinite(current)) return current;
      throw notRepresentable;
    case "undefined":
      // Left out of an object, as JSON does; at the top or in an array it would change meaning.
      if (key !== "" && !Array.isArray(this)) return current;
      throw notRepresentable;
    case "object": {
      if (current === null) {
        // The replacer sees toJSON's result; an invalid Date's is null.
        const original = (this as Record<string, unknown>)[key];
        if (original instanceof Date && Number.isNaN(original.getTime())) throw notRepresentable;
        return current;
      }
      if (
        current instanceof Map ||
        current instanceof Set ||
        current instanceof WeakMap ||
        current instanceof WeakSet
      ) {
        throw notRepresentable;
      }
      return current;
    }
    default:
      // bigint, function, symbol
      throw notRepresentable;
  }
}

/** Walks the value to find the first thing JSON would change, and names its path. */
function toJsonWalking(value: unknown, root: string): string {
  const path: (string | number)[] = [];
  const ancestors: object[] = [];

  const fail = (reason: string): never => {
    throw new InvalidPayloadError(formatPath(root, path), reason);
  };

  const visit = (input: unknown, key: string | number, allowUndefined: boolean): void => {
    let current = input;
    if (
      current !== null &&
      typeof current === "object" &&
      typeof (current as { toJSON?: unknown }).toJSON === "function"
    ) {
      if (current instanceof Date && Number.isNaN(current.getTime())) fail("an invalid Date");
      current = (current as { toJSON(key: string): unknown }).toJSON(String(key));
    }
    switch (typeof current) {
      case "string":
      case "boolean":
        return;
      case "number":
        if (!Number.isFinite(current)) fail(`${current} is not representable in JSON`);
        return;
      case "undefined":
        if (!allowUndefined) fail("undefined is not representable in JSON");
        return;
      case "bigint":
        fail("a BigInt is not representable in JSON; convert it to a string or number first");
        return;
      case "function":
        fail("a function is not representable in JSON");
        return;
      case "symbol":
        fail("a symbol is not representable in JSON");
        return;
    }
    if (current === null) return;
    const object = current as object;
    if (object instanceof Map || object instanceof Set || object instanceof WeakMap || object instanceof WeakSet) {
      fail(`a ${object.constructor.name} would be stored as {}; convert it to an array or object first`);
    }
    if (ancestors.includes(object)) fail("circular reference");
    ancestors.push(object);
    if (Array.isArray(object)) {
      for (let index = 0; index < object.length; index++) {
        path.push(index);
        visit(object[index], index, false);
        path.pop();
      }
    } else {
      for (const name of Object.keys(object)) {
        path.push(name);
        visit((object as Record<string, unknown>)[name], name, true);
        path.pop();
      }
    }
    ancestors.pop();
  };

  visit(value, "", false);
  return JSON.stringify(value);
}
