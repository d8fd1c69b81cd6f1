import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { consoleLogger, defaultLogger } from "./logger.js";

describe("consoleLogger", () => {
  it("writes what is at its level or above, prefixed, and nothing below", () => {
    const written: string[] = [];
    const saved = { info: console.info, warn: console.warn, error: console.error };
    console.info = (text: string) => written.push(`info ${text}`);
    console.warn = (text: string, fields?: unknown) => written.push(`warn ${text} ${JSON.stringify(fields)}`);
    console.error = (text: string) => written.push(`error ${text}`);
    try {
      const logger = consoleLogger("warn");
      logger.info?.("routine");
      logger.warn?.("held", { jobId: "7" });
      logger.error?.("refused");
      assert.equal(logger.debug, undefined);
      assert.deepEqual(written, ['warn poutbox: held {"jobId":"7"}', "error poutbox: refused"]);
      assert.deepEqual(Object.keys(defaultLogger).sort(), ["error", "warn"]);
    } finally {
      Object.assign(console, saved);
    }
  });

  it("refuses a level it does not know", () => {
    assert.throws(() => consoleLogger("loud" as never), /level must be one of debug, info, warn, error/);
  });
});
