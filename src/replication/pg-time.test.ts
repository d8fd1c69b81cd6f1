import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { dateToPgMicros, pgMicrosToDate } from "./pg-time.js";

describe("PostgreSQL replication time", () => {
  it("counts microseconds from 2000-01-01 UTC", () => {
    assert.equal(dateToPgMicros(new Date("2000-01-01T00:00:00Z")), 0n);
    assert.equal(dateToPgMicros(0), -946_684_800_000_000n);
    assert.equal(dateToPgMicros(new Date("2000-01-01T00:00:01.5Z")), 1_500_000n);
    assert.equal(pgMicrosToDate(0n).toISOString(), "2000-01-01T00:00:00.000Z");
    assert.equal(pgMicrosToDate(849_057_409_847_020n).toISOString(), "2026-11-27T01:16:49.847Z");
  });

  it("round-trips a Date and keeps fractions of a millisecond of a number", () => {
    const now = new Date();
    assert.equal(pgMicrosToDate(dateToPgMicros(now)).getTime(), now.getTime());
    assert.equal(dateToPgMicros(946_684_800_000.25), 250n);
  });

  it("rounds microseconds down to the millisecond, before 2000 and 1970 too", () => {
    assert.equal(pgMicrosToDate(1_999n).toISOString(), "2000-01-01T00:00:00.001Z");
    assert.equal(pgMicrosToDate(-1n).toISOString(), "1999-12-31T23:59:59.999Z");
    assert.equal(pgMicrosToDate(-946_684_800_000_001n).toISOString(), "1969-12-31T23:59:59.999Z");
  });

  it("refuses a time that is not a finite instant", () => {
    assert.throws(() => dateToPgMicros(new Date("nope")), RangeError);
    assert.throws(() => dateToPgMicros(Number.POSITIVE_INFINITY), RangeError);
  });
});
