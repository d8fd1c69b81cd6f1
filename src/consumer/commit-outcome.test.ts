import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type pg from "pg";
import { commitOutcome, type OutcomeCommit } from "./commit-outcome.js";
import type { CommitResult } from "./consumer-queries.js";
import { FencedError } from "./leader-lock.js";

// The paths that hold outcomes need a real server; test/consumer-outcome-writes.test.ts has
// them. These are the statement's own answers, scripted.
function scripted(results: (CommitResult | Error)[]): { commit: OutcomeCommit; calls: () => number } {
  let calls = 0;
  const commit: OutcomeCommit = {
    name: "c",
    pool: {} as pg.Pool,
    failures: [],
    progress: async () => {
      const result = results[Math.min(calls, results.length - 1)] as CommitResult | Error;
      calls++;
      if (result instanceof Error) throw result;
      return result;
    },
    writeOutcomes: async () => 0,
    held: () => assert.fail("nothing should be held"),
  };
  return { commit, calls: () => calls };
}

describe("commitOutcome", () => {
  it("returns once the statement wrote", async () => {
    const statement = scripted([{ written: 1, missing: 0, leading: true }]);
    await commitOutcome(statement.commit);
    assert.equal(statement.calls(), 1);
  });

  it("runs the statement again while failed jobs' rows are missing, until it writes", async () => {
    const statement = scripted([
      { written: 0, missing: 1, leading: true },
      { written: 0, missing: 1, leading: true },
      { written: 1, missing: 0, leading: true },
    ]);
    await commitOutcome(statement.commit);
    assert.equal(statement.calls(), 3);
  });

  it("fails with FencedError when nothing was written and nothing was missing", async () => {
    await assert.rejects(commitOutcome(scripted([{ written: 0, missing: 0, leading: false }]).commit), FencedError);
  });

  it("fails with FencedError at once when the epoch moved, even with rows missing", async () => {
    const statement = scripted([{ written: 0, missing: 1, leading: false }]);
    await assert.rejects(commitOutcome(statement.commit), FencedError);
    assert.equal(statement.calls(), 1);
  });

  it("passes on errors of the connection or the server: a later term writes the batch", async () => {
    const dropped = Object.assign(new Error("terminating connection due to administrator command"), { code: "57P01" });
    const statement = scripted([dropped]);
    await assert.rejects(commitOutcome({ ...statement.commit, failures: [failure] }), dropped);
    const plain = new Error("Connection terminated unexpectedly");
    await assert.rejects(commitOutcome({ ...scripted([plain]).commit, failures: [failure] }), plain);
  });
});

const failure = { id: "1", xid: "1", attempt: 1, error: "bad", delay_ms: 0, dead: false, queue: null, ord: 0 };
