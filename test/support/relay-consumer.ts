import type pg from "pg";
import { Consumer, type ConsumerOptions, type Handler } from "../../src/index.js";

/**
 * Runs `work` with a relay: a consumer named `name` on `schema` whose handler is `relay`,
 * tuned for tests (polls every 5 ms, retries after 20 ms, no maintenance) and ordered by key
 * as the relays recommend; `options` go on top. Stops it afterwards.
 */
export async function withRelay<T>(
  pool: pg.Pool,
  relay: Handler<unknown>,
  consumer: { readonly schema: string; readonly name: string },
  options: ConsumerOptions,
  work: (relay: Consumer) => Promise<T>,
): Promise<T> {
  const running = new Consumer(pool, relay, {
    ...consumer,
    pollInterval: 5,
    promoteInterval: 20,
    backoff: { base: 20, jitter: 0 },
    maintenance: false,
    ordering: "key",
    ...options,
  });
  await running.start();
  try {
    return await work(running);
  } finally {
    await running.stop();
  }
}
