import type pg from "pg";
import { Consumer, type ConsumerOptions, type Handler } from "../../src/index.js";

/**
 * A consumer tuned for tests: polls every 5 ms, promotes due retries every 20 ms, retries after
 * 20 ms without jitter, reconnects after 20 ms, no partition maintenance. `options` go on top.
 */
export function quickConsumer<Payload = unknown>(
  pool: pg.Pool,
  handler: Handler<Payload>,
  options: ConsumerOptions = {},
): Consumer<Payload> {
  return new Consumer(pool, handler, {
    pollInterval: 5,
    promoteInterval: 20,
    reconnectDelay: 20,
    backoff: { base: 20, jitter: 0 },
    maintenance: false,
    ...options,
  });
}
