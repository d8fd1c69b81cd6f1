import { createHash } from "node:crypto";

// Slot names may only hold lower-case letters, digits and underscores, up to 63 characters;
// consumer names are free text. So names keep a readable, sanitised prefix and end with a
// hash of the exact inputs, which keeps them distinct however the prefixes were cut.
const maxLength = 63;

function readable(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9_]+/g, "_");
}

function digest(...parts: string[]): string {
  return createHash("sha256").update(parts.join("\u0000")).digest("hex").slice(0, 10);
}

function compose(prefix: string, hash: string): string {
  return `${prefix.slice(0, maxLength - hash.length - 1)}_${hash}`;
}

/**
 * The replication slot of one consumer name in one schema of one database. Slots belong to
 * the whole server, unlike publications and advisory locks, so the database takes part in
 * the hash: two databases with the same schema and consumer names must not share a slot.
 */
export function slotName(database: string, schema: string, consumer: string): string {
  return compose(`poutbox_${readable(schema)}_${readable(consumer)}`, digest("slot", database, schema, consumer));
}

/** The publication of a schema's `immediate` table, shared by its replication consumers. */
export function publicationName(schema: string): string {
  return compose(`poutbox_${readable(schema)}`, digest("publication", schema));
}
