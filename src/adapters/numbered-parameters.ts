/**
 * Poutbox's statements use PostgreSQL's numbered placeholders (`$1`, `$2`...). Some drivers
 * bind by position instead (Knex's `?`) or build statements from chunks (Drizzle's `sql`), so
 * this splits a statement at its placeholders and lists the values in the order they appear.
 * A number used twice yields its value twice.
 *
 * The scan is plain: it does not skip string literals or dollar-quoted bodies. That is enough
 * for the statements Poutbox sends, which quote no `$` (see src/client/enqueue-queries.ts).
 */
export interface SplitStatement {
  /** The text between placeholders: always one more part than there are values. */
  readonly parts: readonly string[];
  /** One value per placeholder, in the order the placeholders appear. */
  readonly values: readonly unknown[];
}

const placeholder = /\$(\d+)/g;

export function splitAtPlaceholders(text: string, values: readonly unknown[] = []): SplitStatement {
  const parts: string[] = [];
  const ordered: unknown[] = [];
  let last = 0;
  for (const match of text.matchAll(placeholder)) {
    const number = Number(match[1]);
    if (number < 1 || number > values.length) {
      throw new RangeError(`statement uses $${number} but only ${values.length} value(s) were given`);
    }
    parts.push(text.slice(last, match.index));
    ordered.push(values[number - 1]);
    last = match.index + match[0].length;
  }
  parts.push(text.slice(last));
  return { parts, values: ordered };
}
