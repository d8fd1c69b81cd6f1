import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type CommitResult, commitOutcome } from "./commit-outcome.js";
import { FencedError } from "./polling-leader.js";

function scripted(results: CommitResult[]): { run: () => Promise<CommitResult>; calls: () => number } {
  let calls = 0;
  return {
    run: async () => {
      const result = results[Math.min(calls, results.length - 1)] as CommitResult;
      calls++;
      return result;
    },
    calls: () => calls,
  };
}

describe("commitOutcome", () => {
  it("returns once the statement wrote", async () => {
    const statement = scripted([{ written: 1, missing: 0, leading: true }]);
    await commitOutcome("c", statement.run);
    assert.equal(statement.calls(), 1);
  });

  it("runs the statement again while failed jobs' rows are missing, until it writes", async () => {
    const statement = scripted([
      { written: 0, missing: 1, leading: true },
      { written: 0, missing: 1, leading: true },
      { written: 1, missing: 0, leading: true },
    ]);
    await commitOutcome("c", statement.run);
    assert.equal(statement.calls(), 3);
  });

  it("fails with FencedError when nothing was written and nothing was missing", async () => {
    await assert.rejects(commitOutcome("c", scripted([{ written: 0, missing: 0, leading: false }]).run), FencedError);
  });

  it("fails with FencedError at once when the epoch moved, even with rows missing", async () => {
    const statement = scripted([{ written: 0, missing: 1, leading: false }]);
    await assert.rejects(commitOutcome("c", statement.run), FencedError);
    assert.equal(statement.calls(), 1);
  });

  it("gives up with an error that says the batch comes again when rows stay missing", async () => {
    const statement = scripted([{ written: 0, missing: 2, leading: true }]);
    await assert.rejects(commitOutcome("c", statement.run, 30), /2 failed job\(s\).*delivered again/);
    assert.ok(statement.calls() > 1);
  });
});
