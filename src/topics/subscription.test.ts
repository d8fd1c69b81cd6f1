import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidOptionError } from "../core/errors.js";
import { subscription } from "./subscription.js";

describe("subscription", () => {
  it("matches exact names, and patterns where * is any run of characters, dots included", () => {
    const { matches } = subscription(["invoice.issued", "order.*", "*.audit", "a*b*c"]);
    for (const topic of ["invoice.issued", "order.created", "order.line.added", "order.", "x.audit", ".audit", "abc"]) {
      assert.equal(matches(topic), true, topic);
    }
    for (const topic of ["invoice.issued.v2", "invoice", "order", "orders.created", "audit", "ab", "acb"]) {
      assert.equal(matches(topic), false, topic);
    }
    assert.equal(matches(null), false, "a job without a topic");
  });

  it("takes every other character literally, in the matcher and in the SQL pattern", () => {
    const given = ["ship_to.*", "100%", "a\\b.*", "(x)+[y]?.$^|{2}"];
    const { matches, names, likePatterns } = subscription(given);
    assert.deepEqual(names, ["100%", "(x)+[y]?.$^|{2}"]);
    assert.deepEqual(likePatterns, ["ship\\_to.%", "a\\\\b.%"]);
    assert.equal(matches("ship_to.de"), true);
    assert.equal(matches("shipXto.de"), false, "_ is no wildcard");
    assert.equal(matches("100%"), true);
    assert.equal(matches("1000"), false, "% is no wildcard");
    assert.equal(matches("a\\b.c"), true);
    assert.equal(matches("(x)+[y]?.$^|{2}"), true);
    assert.equal(matches("xxy.$^|{2}"), false, "regular expression syntax is no syntax");
  });

  it("takes every entry as a name when literal (a topic map's keys): * included", () => {
    const { matches, names, likePatterns } = subscription(["audit.*", "order.created"], "topics", true);
    assert.deepEqual(names, ["audit.*", "order.created"]);
    assert.deepEqual(likePatterns, []);
    assert.equal(matches("audit.*"), true);
    assert.equal(matches("audit.login"), false);
  });

  it("refuses what is no list of topic names, naming the option", () => {
    for (const bad of [[], "order.*", [""], ["x".repeat(256)], [1], null]) {
      assert.throws(
        () => subscription(bad),
        (error) => error instanceof InvalidOptionError && error.message.includes("subscribe"),
        JSON.stringify(bad),
      );
    }
  });
});
