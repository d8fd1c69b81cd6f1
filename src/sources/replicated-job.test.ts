import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { TupleData } from "../replication/pgoutput-messages.js";
import { type ImmediateColumns, jobFromTuple, parseTimestamptz } from "./replicated-job.js";

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

describe("jobFromTuple", () => {
  const columns: ImmediateColumns = {
    ...{ id: 0, topic: 1, payload: 2, headers: 3, attempt: 4, consumer: 5, createdAt: 6 },
    ...{ enqueuedAt: 7, key: 8, retry: 9, transactionId: 10 },
  };
  // Strings made one by one, as the decoder makes them: equal texts, never the same string.
  const fresh = (text: string) => [...text].join("");
  const row = (id: number, createdAt: string, transactionId: string, enqueuedAt: string | null = null): TupleData => {
    const text = (value: string) => ({ kind: "text", value: fresh(value) }) as const;
    const none = { kind: "null" } as const;
    return [
      text(String(id)),
      none,
      text(`{"n":${id}}`),
      none,
      text("0"),
      none,
      text(createdAt),
      enqueuedAt === null ? none : text(enqueuedAt),
      none,
      none,
      text(transactionId),
    ];
  };

  it("reads the times and transaction id that a transaction's jobs share, each job with Dates of its own", () => {
    const [a, b] = [1, 2].map((id) => jobFromTuple(row(id, "2026-12-07 03:40:12.123456+00", "900"), columns).job);
    const c = jobFromTuple(row(3, "2026-12-07 03:40:13.5+01", "901", "2026-12-07 01:00:00+00"), columns).job;
    assert.ok(a && b);
    for (const job of [a, b]) {
      assert.equal(job.createdAt.toISOString(), "2026-12-07T03:40:12.123Z");
      assert.equal(job.enqueuedAt.getTime(), job.createdAt.getTime());
      assert.equal(job.transactionId, 900n);
    }
    assert.equal(c.createdAt.toISOString(), "2026-12-07T02:40:13.500Z");
    assert.equal(c.enqueuedAt.toISOString(), "2026-12-07T01:00:00.000Z");
    assert.equal(c.transactionId, 901n);
    // A handler that changes one job's Date changes nothing else.
    const dates = [a.createdAt, a.enqueuedAt, b.createdAt, b.enqueuedAt];
    assert.equal(new Set(dates).size, 4, "four Date objects");
    a.createdAt.setTime(0);
    assert.equal(b.createdAt.toISOString(), "2026-12-07T03:40:12.123Z");
    assert.equal(a.enqueuedAt.toISOString(), "2026-12-07T03:40:12.123Z");
    assert.equal(
      jobFromTuple(row(4, "2026-12-07 03:40:12.123456+00", "900"), columns).job.createdAt.getTime(),
      dates[2]?.getTime(),
    );
  });
});
