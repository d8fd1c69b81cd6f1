import assert from "node:assert/strict";
import { describe, it } from "node:test";
import postgres from "postgres";
import { fromPostgresJs } from "../src/adapters/postgres-js.js";
import { InvalidOptionError } from "../src/index.js";
import { adapterSuite, Rollback } from "./support/adapter-suite.js";

adapterSuite("postgres.js", async (test) => {
  const sql = postgres(test.url, { max: 2, onnotice: () => {} });
  return {
    db: fromPostgresJs(sql),
    async inTransaction(end, note, work) {
      let result: Awaited<ReturnType<typeof work>> | undefined;
      try {
        await sql.begin(async (tx) => {
          await tx`INSERT INTO orders (note) VALUES (${note})`;
          result = await work(fromPostgresJs(tx));
          if (end === "rollback") throw new Rollback();
        });
      } catch (error) {
        if (!(error instanceof Rollback)) throw error;
      }
      return result as Awaited<ReturnType<typeof work>>;
    },
    close: () => sql.end(),
  };
});

describe("postgres.js adapter", () => {
  it("refuses something that is not a postgres.js sql", () => {
    assert.throws(
      () => fromPostgresJs({ query: () => undefined } as never),
      (error: unknown) => error instanceof InvalidOptionError && /postgres\.js sql/.test(error.message),
    );
  });
});
