import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { splitAtPlaceholders } from "./numbered-parameters.js";

describe("splitAtPlaceholders", () => {
  it("lists values in the order their placeholders appear, repeating reused numbers", () => {
    const split = splitAtPlaceholders("SELECT $2::json, $1, $10, $2", ["a", "b", 3, 4, 5, 6, 7, 8, 9, "ten"]);
    assert.deepEqual(split.parts, ["SELECT ", "::json, ", ", ", ", ", ""]);
    assert.deepEqual(split.values, ["b", "a", "ten", "b"]);
  });

  it("leaves a statement without placeholders whole", () => {
    assert.deepEqual(splitAtPlaceholders("SELECT 1"), { parts: ["SELECT 1"], values: [] });
  });

  it("refuses a placeholder with no value, naming it", () => {
    assert.throws(() => splitAtPlaceholders("SELECT $3", [1, 2]), /\$3 but only 2 value/);
    assert.throws(() => splitAtPlaceholders("SELECT $0", [1]), /\$0/);
  });
});
