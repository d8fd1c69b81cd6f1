import assert from "node:assert/strict";
import { it } from "node:test";
import { decodePgOutput } from "./pgoutput.js";

// An Insert captured from PostgreSQL 17 (test/pgoutput-server.test.ts) into a table shaped like the
// outbox's `immediate`: id, topic, JSON payload, NULL headers, attempt and consumer,
// created_at, transaction_id. A figure to watch, not a limit: timing varies too much between
// machines (and with other test files running) to assert on.
const insertJob = Buffer.from(
  "490000407b4e0008740000000431303031740000000d6f726465722e6372656174656474000000517b226f7264657249" +
    "64223a31323334352c22637573746f6d6572223a7b226964223a22635f3831222c22656d61696c223a22616e61406578" +
    "616d706c652e636f6d227d2c22746f74616c223a39392e357d6e6e6e740000001d323032362d31312d32372030313a31" +
    "363a34392e3835333536362b30307400000003383030",
  "hex",
);

it("decodes captured outbox-shaped Inserts quickly (a figure, no assertion on time)", (t) => {
  const count = 200_000;
  for (let warmup = 0; warmup < 20_000; warmup++) decodePgOutput(insertJob);
  const started = process.hrtime.bigint();
  let columns = 0;
  for (let index = 0; index < count; index++) {
    const message = decodePgOutput(insertJob);
    if (message.tag === "insert") columns += message.newTuple.length;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  assert.equal(columns, count * 8);
  const perSecond = Math.round(count / seconds).toLocaleString("en");
  const megabytes = ((count * insertJob.length) / seconds / 1e6).toFixed(0);
  t.diagnostic(`${perSecond} Insert messages/s (${insertJob.length} bytes, 8 columns; ${megabytes} MB/s)`);
});
