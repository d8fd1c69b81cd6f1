import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { brokerLink } from "./relay-broker-link.js";

function link() {
  const lines: string[] = [];
  return { lines, link: brokerLink("rabbitmq", (line) => lines.push(line)) };
}

describe("brokerLink", () => {
  it("says a loss once until its text changes, then that the connection is back, once", () => {
    const { lines, link: broker } = link();
    broker.back(); // The first connection: nothing to say.
    broker.lost(new Error("read ECONNRESET"));
    broker.lost(new Error("read ECONNRESET"));
    broker.lost(new Error("connect ECONNREFUSED 127.0.0.1:5672"));
    broker.lost(new Error("connect ECONNREFUSED 127.0.0.1:5672"));
    broker.back();
    broker.back();
    assert.deepEqual(lines, [
      "poutbox: rabbitmq: read ECONNRESET; reconnecting",
      "poutbox: rabbitmq: connect ECONNREFUSED 127.0.0.1:5672; reconnecting",
      "poutbox: rabbitmq: connected again",
    ]);
  });

  it("says the same loss again after the connection had come back", () => {
    const { lines, link: broker } = link();
    for (let round = 0; round < 2; round++) {
      broker.lost(new Error("read ECONNRESET"));
      broker.back();
    }
    assert.equal(lines.length, 4);
    assert.equal(lines[2], "poutbox: rabbitmq: read ECONNRESET; reconnecting");
  });

  it("takes what clients emit that is not an Error", () => {
    const { lines, link: broker } = link();
    broker.lost("socket hang up");
    broker.lost(undefined);
    assert.deepEqual(lines, [
      "poutbox: rabbitmq: socket hang up; reconnecting",
      "poutbox: rabbitmq: connection lost; reconnecting",
    ]);
  });

  it("says each time the broker holds back publishes and lets them go", () => {
    const { lines, link: broker } = link();
    broker.blocked("low on disk");
    broker.unblocked();
    assert.deepEqual(lines, [
      "poutbox: rabbitmq: the broker holds back publishes (low on disk)",
      "poutbox: rabbitmq: the broker takes publishes again",
    ]);
  });
});
