/**
 * A job's headers as handlers get them, in both modes: the stored object, or an empty one when
 * the row holds SQL NULL or a JSON value that is not an object (`null`, an array, a string),
 * which only a row written by other means than enqueue can hold.
 */
export function jobHeaders(value: unknown): Readonly<Record<string, string>> {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, string>)
    : emptyHeaders;
}

const emptyHeaders: Readonly<Record<string, string>> = Object.freeze({});
