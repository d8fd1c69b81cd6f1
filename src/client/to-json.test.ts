import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidPayloadError } from "../core/errors.js";
import { toJson } from "./to-json.js";

describe("toJson", () => {
  it("serialises what JSON can carry exactly as JSON.stringify does", () => {
    const value = {
      text: "héllo ✓ 日本 😀 \u0000 \ud800",
      n: -1.5e-7,
      yes: true,
      none: null,
      list: [1, "two", { three: [3] }],
      when: new Date("2026-01-02T03:04:05.678Z"),
      bytes: Buffer.from("hi"),
    };
    assert.equal(toJson(value, "payload"), JSON.stringify(value));
  });

  it("leaves out object properties that are undefined, as JSON does", () => {
    assert.equal(toJson({ a: 1, coupon: undefined }, "payload"), '{"a":1}');
  });

  const rejected: [string, unknown, string][] = [
    ["undefined", undefined, "payload"],
    ["a function", { callback: () => 1 }, "payload.callback"],
    ["a symbol", { tag: Symbol("x") }, "payload.tag"],
    ["a BigInt", { amount: 10n }, "payload.amount"],
    ["NaN", { ratio: Number.NaN }, "payload.ratio"],
    ["Infinity", [1, Number.POSITIVE_INFINITY], "payload[1]"],
    ["undefined in an array", [1, undefined], "payload[1]"],
    ["a Map", { lookup: new Map([[1, 2]]) }, "payload.lookup"],
    ["a Set", { tags: new Set(["a"]) }, "payload.tags"],
    ["an invalid Date", { at: new Date("nope") }, "payload.at"],
    ["a value deep inside", { a: [{ "odd key": { b: () => 0 } }] }, 'payload.a[0]["odd key"].b'],
  ];
  for (const [what, value, path] of rejected) {
    it(`rejects ${what}, naming where it is`, () => {
      assert.throws(
        () => toJson(value, "payload"),
        (error: unknown) =>
          error instanceof InvalidPayloadError && error.code === "INVALID_PAYLOAD" && error.path === path,
      );
    });
  }

  it("rejects a circular structure, naming where the cycle closes", () => {
    const order: Record<string, unknown> = { id: 1, lines: [] };
    (order.lines as unknown[]).push({ order });
    assert.throws(
      () => toJson(order, "payload"),
      (error: unknown) => error instanceof InvalidPayloadError && error.path === "payload.lines[0].order",
    );
  });

  it("allows the same object twice when it is not a cycle", () => {
    const shared = { x: 1 };
    assert.equal(toJson({ a: shared, b: shared }, "payload"), '{"a":{"x":1},"b":{"x":1}}');
  });

  it("gives the same answers through its fast path and its walk, whatever toJSON does", () => {
    let calls = 0;
    const counted = { toJSON: () => ++calls };
    assert.equal(toJson({ a: counted }, "payload"), '{"a":1}');
    assert.equal(calls, 1, "toJSON runs once when nothing is wrong");
    assert.equal(toJson({ "": undefined, a: 1 }, "payload"), '{"a":1}');
    assert.throws(
      () => toJson([{ toJSON: () => undefined }], "payload"),
      (error: unknown) => error instanceof InvalidPayloadError && error.path === "payload[0]",
    );
    assert.throws(
      () => toJson(new Date(Number.NaN), "payload"),
      (error: unknown) => error instanceof InvalidPayloadError && error.path === "payload",
    );
    const broken = new Error("toJSON failed");
    assert.throws(
      () =>
        toJson(
          {
            a: {
              toJSON: () => {
                throw broken;
              },
            },
          },
          "payload",
        ),
      broken,
    );
  });
});
