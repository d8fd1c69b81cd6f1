import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { missingRanges, partitionName, type Range } from "./partition-plan.js";

const minute = 60_000;
const hour = 60 * minute;
const at = (iso: string) => Date.parse(iso);
const iso = (ranges: Range[]) =>
  ranges.map((range) => `${new Date(range.from).toISOString()} ${new Date(range.to).toISOString()}`);

describe("missingRanges", () => {
  it("covers the current interval through now + lookAhead, aligned to the interval in UTC", () => {
    assert.deepEqual(iso(missingRanges(at("2026-11-27T14:25:10Z"), hour, 2 * hour, [])), [
      "2026-11-27T14:00:00.000Z 2026-11-27T15:00:00.000Z",
      "2026-11-27T15:00:00.000Z 2026-11-27T16:00:00.000Z",
      "2026-11-27T16:00:00.000Z 2026-11-27T17:00:00.000Z",
    ]);
    assert.deepEqual(iso(missingRanges(at("2026-11-27T14:25:10Z"), 24 * hour, 0, [])), [
      "2026-11-27T00:00:00.000Z 2026-11-28T00:00:00.000Z",
    ]);
    assert.equal(missingRanges(at("2026-11-27T14:25:10Z"), minute, 10 * minute, []).length, 11);
  });

  it("skips what exists and fills the gaps around partitions of another interval", () => {
    const existing = [
      { from: at("2026-11-27T14:00:00Z"), to: at("2026-11-27T14:30:00Z") },
      { from: at("2026-11-27T15:10:00Z"), to: at("2026-11-27T15:20:00Z") },
    ];
    assert.deepEqual(iso(missingRanges(at("2026-11-27T14:05:00Z"), hour, hour + 30 * minute, existing)), [
      "2026-11-27T14:30:00.000Z 2026-11-27T15:00:00.000Z",
      "2026-11-27T15:00:00.000Z 2026-11-27T15:10:00.000Z",
      "2026-11-27T15:20:00.000Z 2026-11-27T16:00:00.000Z",
    ]);
    const all = [{ from: at("2026-11-27T00:00:00Z"), to: at("2026-11-29T00:00:00Z") }];
    assert.deepEqual(missingRanges(at("2026-11-27T14:05:00Z"), hour, 3 * hour, all), []);
  });
});

describe("partitionName", () => {
  it("names a partition by its UTC start to the second", () => {
    assert.equal(partitionName(at("2026-11-27T14:00:00Z")), "immediate_20261127_140000");
    assert.equal(partitionName(at("2026-01-02T03:04:05Z")), "immediate_20260102_030405");
  });
});
