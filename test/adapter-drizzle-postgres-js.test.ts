import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { adapterSuite } from "./support/adapter-suite.js";
import { drizzleHarness } from "./support/drizzle-harness.js";

adapterSuite("Drizzle (postgres.js)", async (test) => {
  const sql = postgres(test.url, { max: 2, onnotice: () => {} });
  return drizzleHarness(drizzle({ client: sql }), () => sql.end());
});
