import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidOptionError } from "../core/errors.js";
import { quoteSchemaName } from "./schema-name.js";

describe("quoteSchemaName", () => {
  it("double-quotes a plain identifier, keeping its case", () => {
    assert.equal(quoteSchemaName("poutbox"), '"poutbox"');
    assert.equal(quoteSchemaName("Outbox_2"), '"Outbox_2"');
  });

  const bad: [string, unknown][] = [
    ["an injection attempt", 'x"; DROP TABLE users; --'],
    ["a dotted name", "public.outbox"],
    ["an empty string", ""],
    ["a leading digit", "1outbox"],
    ["a space", "out box"],
    ["a reserved pg_ name", "pg_outbox"],
    ["a name over 63 characters", "a".repeat(64)],
    ["a non-string", 42],
  ];
  for (const [what, name] of bad) {
    it(`rejects ${what}`, () => {
      assert.throws(
        () => quoteSchemaName(name),
        (error: unknown) => error instanceof InvalidOptionError && error.option === "schema",
      );
    });
  }
});
