import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { drizzle } from "drizzle-orm/node-postgres";
import pg from "pg";
import { fromDrizzle } from "../src/adapters/drizzle.js";
import { InvalidOptionError } from "../src/index.js";
import { adapterSuite } from "./support/adapter-suite.js";
import { drizzleHarness } from "./support/drizzle-harness.js";

adapterSuite("Drizzle (node-postgres)", async (test) => {
  const pool = new pg.Pool({ connectionString: test.url, max: 2 });
  return drizzleHarness(drizzle({ client: pool }), () => pool.end());
});

describe("Drizzle adapter", () => {
  it("refuses something that is not a Drizzle database", () => {
    assert.throws(() => fromDrizzle({} as never), InvalidOptionError);
  });
});
