import { randomBytes } from "node:crypto";
import pg from "pg";
import { admin } from "./test-database.js";

/** A setting as `ALTER ROLE ... SET` takes it: its name and its value as SQL. */
export type Setting = readonly [name: string, value: string];

/** A login role of its own (cluster-wide, so its name is unique), carrying session settings. */
export interface HostileRole {
  readonly name: string;
  readonly label: string;
  readonly settings: readonly Setting[];
  /** The test database's URL, as this role. */
  readonly url: string;
}

// The embedded cluster authenticates by password; CI's service trusts and ignores it.
const password = "hostile";

/**
 * Creates a superuser (it can replicate and use the test database) whose sessions start with
 * `settings`, as a role an application connects with may carry them.
 */
export async function createHostileRole(databaseUrl: string, label: string, settings: readonly Setting[]) {
  const name = `poutbox_${label}_${randomBytes(4).toString("hex")}`;
  await admin(async (client) => {
    await client.query(`CREATE ROLE ${name} LOGIN SUPERUSER PASSWORD '${password}'`);
    try {
      for (const [setting, value] of settings) await client.query(`ALTER ROLE ${name} SET ${setting} = ${value}`);
    } catch (error) {
      await client.query(`DROP ROLE ${name}`);
      throw error;
    }
  });
  const url = new URL(databaseUrl);
  url.username = name;
  url.password = password;
  return { name, label, settings, url: url.toString() } satisfies HostileRole;
}

/**
 * Drops the roles, first giving what they own in `database` (partitions a consumer's
 * maintenance made, say) to the current user, if that database still exists.
 */
export async function dropHostileRoles(databaseUrl: string, names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  const database = new URL(databaseUrl).pathname.slice(1);
  const exists = await admin(async (client) => {
    const { rows } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
    return rows.length > 0;
  });
  if (exists) {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      for (const name of names) {
        const { rows } = await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [name]);
        if (rows.length > 0) await client.query(`REASSIGN OWNED BY ${name} TO CURRENT_USER; DROP OWNED BY ${name}`);
      }
    } finally {
      await client.end();
    }
  }
  await admin(async (client) => {
    for (const name of names) await client.query(`DROP ROLE IF EXISTS ${name}`);
  });
}

/**
 * Sets pg's global type parsers the way an application may: times and json left as text,
 * int8 as BigInt, booleans as text ('t' / 'f'). Returns a function that puts pg's own back.
 */
export function overrideGlobalParsers(): () => void {
  const keepText = (value: string) => value;
  const overrides: Record<number, (value: string) => unknown> = {
    1184: keepText, // timestamptz
    1114: keepText, // timestamp
    114: keepText, // json
    20: (value) => BigInt(value), // int8
    16: keepText, // bool
  };
  const saved = Object.keys(overrides).map(
    (oid) => [Number(oid), pg.types.getTypeParser(Number(oid), "text")] as const,
  );
  for (const [oid, parse] of Object.entries(overrides)) pg.types.setTypeParser(Number(oid), parse);
  return () => {
    for (const [oid, parse] of saved) pg.types.setTypeParser(oid, parse);
  };
}

/**
 * A libc locale the server accepts for lc_numeric other than C and POSIX (one with a decimal
 * comma first), or undefined when the server's machine has none.
 */
export async function nonCLocale(pool: pg.Pool): Promise<string | undefined> {
  const { rows } = await pool.query<{ locale: string }>(
    `SELECT collcollate AS locale FROM pg_collation
      WHERE collprovider = 'c' AND collcollate NOT IN ('C', 'POSIX') AND collcollate NOT ILIKE 'C.%'
      ORDER BY collcollate ILIKE ANY (ARRAY['de_DE%', 'fr_FR%', 'nl_NL%']) DESC, collcollate`,
  );
  for (const { locale } of rows) {
    const client = await pool.connect();
    try {
      await client.query("BEGIN");
      await client.query("SELECT set_config('lc_numeric', $1, true), set_config('lc_monetary', $1, true)", [locale]);
      return locale;
    } catch {
      // Listed by initdb but not installed any more, or not for this encoding: try the next.
    } finally {
      await client.query("ROLLBACK").catch(() => undefined);
      client.release();
    }
  }
  return undefined;
}

/** What a session of `url` has for each setting, by `current_setting`. */
export async function sessionSettings(url: string, names: readonly string[]): Promise<Record<string, string>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string; value: string }>(
      "SELECT name, current_setting(name) AS value FROM unnest($1::text[]) AS name",
      [names],
    );
    return Object.fromEntries(rows.map((row) => [row.name, row.value]));
  } finally {
    await client.end();
  }
}
