import { createHash } from "node:crypto";
import type { Sql } from "../database/query-rows.js";

// Every name the library gives an object on the server: the NOTIFY channel, the advisory-lock
// keys, replication slots, publications and prepared statements. They live together so that
// two of them can never be minted alike by accident, and so that their limits are read once:
// PostgreSQL cuts identifiers at NAMEDATALEN - 1 = 63 bytes, and a name cut short could alias
// another schema's or consumer's.
const maxLength = 63;

function digest(...parts: string[]): string {
  return createHash("sha256").update(parts.join("\u0000")).digest("hex");
}

/**
 * The NOTIFY channel on which clients created with `notify: true` announce new jobs of a
 * schema, for consumers created with `listen: true`: `poutbox.<schema>`. The schema name is
 * already validated as a plain identifier, so the channel needs no escaping beyond the double
 * quotes. A schema name longer than 55 characters would make it too long, so then the name
 * is cut and a hash of the whole of it keeps channels of different schemas apart.
 */
export function wakeChannel(schema: string): string {
  const plain = `poutbox.${schema}`;
  if (plain.length <= maxLength) return plain;
  const hash = digest(schema).slice(0, 12);
  return `poutbox.${schema.slice(0, maxLength - "poutbox.".length - hash.length - 1)}.${hash}`;
}

// Slot and publication names may only hold lower-case letters, digits and underscores;
// consumer names are free text. So they keep a readable, sanitised prefix and end with a
// hash of the exact inputs, which keeps them distinct however the prefixes were cut.
function readable(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9_]+/g, "_");
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
  return compose(
    `poutbox_${readable(schema)}_${readable(consumer)}`,
    digest("slot", database, schema, consumer).slice(0, 10),
  );
}

/** The publication of a schema's `immediate` table, shared by its replication consumers. */
export function publicationName(schema: string): string {
  return compose(`poutbox_${readable(schema)}`, digest("publication", schema).slice(0, 10));
}

// Advisory-lock keys are text hashed to 64 bits by the server (hashtextextended), so their
// length does not matter; advisory locks belong to one database, so it needs no part in them.

/** Leadership of one consumer name. */
export function leaderLockKey(schema: string, consumer: string): string {
  return `poutbox.leader.${schema}.${consumer}`;
}

/** Migrations of one schema, run one caller at a time. */
export function migrateLockKey(schema: string): string {
  return `poutbox.migrate.${schema}`;
}

/** Partition maintenance of one schema, one run at a time across processes. */
export function maintenanceLockKey(schema: string): string {
  return `poutbox.maintenance.${schema}`;
}

/**
 * The name a statement is prepared under: `poutbox_` and a hash of its text. The same text
 * always gets the same name, so clients sharing a connection never prepare one name for two
 * statements (which `pg` refuses), and the name stays short whatever the schema name.
 */
export function statementName(text: string): string {
  return `poutbox_${digest(text).slice(0, 24)}`;
}

/**
 * One of the library's statements, prepared under its statementName on `pg` connections: for
 * those run at every poll or batch, whose text (up to a dozen CTEs) costs more to parse and
 * plan than to execute.
 */
export function preparedSql<Row>(text: string): Sql<Row> {
  return { text, name: statementName(text) };
}
