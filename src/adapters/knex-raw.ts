import { splitAtPlaceholders } from "./numbered-parameters.js";

/** The subset of a Knex instance or transaction that Poutbox uses. */
export interface KnexRunner {
  raw(sql: string, bindings: readonly unknown[]): PromiseLike<unknown>;
}

/**
 * Runs a statement with numbered placeholders through Knex, which binds by position: each
 * `$n` becomes `?` with its value in order, and a literal `?` is escaped so Knex leaves it.
 */
export async function knexQuery(knex: KnexRunner, text: string, values: unknown[] = []): Promise<{ rows: unknown[] }> {
  const { parts, values: ordered } = splitAtPlaceholders(text, values);
  const positional = parts.map((part) => part.replaceAll("?", "\\?")).join("?");
  const result = await knex.raw(positional, ordered);
  // The pg client (Knex's PostgreSQL driver) resolves raw() with pg's result object.
  return { rows: [...((result as { rows?: unknown[] }).rows ?? [])] };
}
