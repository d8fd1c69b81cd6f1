import { randomBytes } from "node:crypto";
import { admin, type TestDatabase } from "./test-database.js";

/**
 * Settings a role or database may carry, each of which changed what a session printed: dates
 * day first with a 45-minute offset, float8 with one significant digit (12 as "1e+01", epoch
 * milliseconds as "2e+12"), intervals in the SQL standard's form.
 */
export const hostileSettings: Readonly<Record<string, string>> = {
  DateStyle: "SQL, DMY",
  TimeZone: "Pacific/Chatham",
  extra_float_digits: "-15",
  IntervalStyle: "sql_standard",
};

/**
 * Runs `work` with the URL of a new role that carries `hostileSettings` and may read and write
 * `schema` in the file's database. Roles belong to the whole server: the name is unique, and
 * the role is dropped afterwards whatever happened. `work` must close its connections.
 */
export async function withHostileRole<T>(
  db: TestDatabase,
  schema: string,
  work: (url: string) => Promise<T>,
): Promise<T> {
  const role = `poutbox_hostile_${randomBytes(4).toString("hex")}`;
  const password = randomBytes(12).toString("hex");
  const url = new URL(db.url);
  url.username = role;
  url.password = password;
  try {
    await admin(async (client) => {
      await client.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
      for (const [name, value] of Object.entries(hostileSettings)) {
        await client.query(`ALTER ROLE ${role} SET ${name} = '${value}'`);
      }
    });
    await db.pool.query(`GRANT USAGE ON SCHEMA ${schema} TO ${role}`);
    await db.pool.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${schema} TO ${role}`);
    return await work(url.toString());
  } finally {
    // Its grants first: a role that holds privileges cannot be dropped.
    await db.pool.query(`DROP OWNED BY ${role}`).catch(() => {});
    await admin((client) => client.query(`DROP ROLE IF EXISTS ${role}`));
  }
}
