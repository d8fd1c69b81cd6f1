import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseTimestamptz } from "./replicated-job.js";

describe("parseTimestamptz", () => {
  it("reads PostgreSQL's ISO output in every offset form, to the millisecond", () => {
    const cases: [string, string][] = [
      ["2026-11-27 00:40:12.123456+00", "2026-11-27T00:40:12.123Z"],
      ["2026-11-27 00:40:12+00", "2026-11-27T00:40:12.000Z"],
      ["2026-11-27 00:40:12.5+00", "2026-11-27T00:40:12.500Z"],
      ["2026-11-27 00:40:12.05+00", "2026-11-27T00:40:12.050Z"],
      ["2026-11-27 00:40:12.999999+00", "2026-11-27T00:40:12.999Z"],
      // Exact in decimal, not in binary floating point: 0.291 * 1000 is 290.99999999999994.
      ["2026-11-27 00:40:12.291+00", "2026-11-27T00:40:12.291Z"],
      ["2026-11-27 06:10:12.123+05:30", "2026-11-27T00:40:12.123Z"],
      ["2026-11-26 21:40:12.123-03", "2026-11-27T00:40:12.123Z"],
      ["2026-11-27 00:40:12-00:00:30", "2026-11-27T00:40:42.000Z"],
      ["2026-11-27 00:40:42+00:00:30", "2026-11-27T00:40:12.000Z"],
      ["1969-12-31 23:59:59.5+00", "1969-12-31T23:59:59.500Z"],
      ["2000-02-29 23:59:59.999+00", "2000-02-29T23:59:59.999Z"],
    ];
    for (const [text, iso] of cases) assert.equal(parseTimestamptz(text).toISOString(), iso, text);
  });

  it("reads years past 9999 and before 100 through the general parser", () => {
    assert.equal(parseTimestamptz("12345-01-02 03:04:05.678+00").getTime(), Date.UTC(12345, 0, 2, 3, 4, 5, 678));
    assert.equal(parseTimestamptz("0099-01-02 03:04:05+00").toISOString(), "0099-01-02T03:04:05.000Z");
  });

  it("leaves any other text to Date's own parser", () => {
    const others = [
      "infinity",
      "",
      "2026-11-27",
      "2026-11-27 00:40:12",
      "2026-11-27 00:40:12.+00",
      "2026-11-27T00:40:12+00",
      "2026/11/27 00:40:12+00",
      "2026-11-27 00:40:12+0",
      "2026-11-27 00:40:12+00:3",
    ];
    for (const text of others) assert.equal(parseTimestamptz(text).getTime(), new Date(text).getTime(), text);
  });
});
