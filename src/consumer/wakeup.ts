import type pg from "pg";
import { sleep } from "../core/sleep.js";
import { connectListening } from "../database/connect.js";

/** How an idle leader waits before its next poll. */
export interface Wakeup {
  /** Resolves after `ms`, on abort, or earlier when new jobs are announced. */
  wait(ms: number, signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** The default: just the poll interval. Nothing on the enqueue path. */
export const timerWakeup: Wakeup = { wait: sleep, close: async () => {} };

/**
 * Also wakes on NOTIFY from clients created with `notify: true`, over a LISTEN connection of
 * its own. Only a shortcut: if the connection is down the poll interval still applies, and a
 * lost notification delays a job by at most one poll interval. The connection is (re)opened
 * lazily by the next wait after a failure.
 */
export class NotificationWakeup implements Wakeup {
  readonly #pool: pg.Pool;
  readonly #channel: string;
  readonly #onError: (error: Error) => void;
  readonly #waiters = new Set<() => void>();
  #client: pg.PoolClient | undefined;
  #connecting: Promise<void> | undefined;
  #closed = false;
  #announced = false;

  constructor(pool: pg.Pool, channel: string, onError: (error: Error) => void) {
    this.#pool = pool;
    this.#channel = channel;
    this.#onError = onError;
  }

  async wait(ms: number, signal: AbortSignal): Promise<void> {
    if (!this.#client && !this.#connecting && !this.#closed) {
      this.#connecting = this.#connect().finally(() => {
        this.#connecting = undefined;
      });
    }
    // A notification that arrived while the leader was busy means a poll is due now.
    if (this.#announced) {
      this.#announced = false;
      return;
    }
    const waked = new AbortController();
    const wake = () => waked.abort();
    this.#waiters.add(wake);
    try {
      await sleep(ms, AbortSignal.any([signal, waked.signal]));
    } finally {
      this.#waiters.delete(wake);
      this.#announced = false;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#connecting;
    const client = this.#client;
    this.#client = undefined;
    client?.release(true);
  }

  async #connect(): Promise<void> {
    let client: pg.PoolClient | undefined;
    // A connection can report more than one error as it goes down: give it back once.
    let released = false;
    const release = (error: Error | true) => {
      if (released || !client) return;
      released = true;
      client.release(error);
    };
    try {
      client = await connectListening(this.#pool, (error) => {
        if (client && this.#client === client) this.#client = undefined;
        release(error);
        this.#onError(error);
      });
      const connected = client;
      connected.on("notification", () => {
        this.#announced = true;
        for (const wake of this.#waiters) wake();
      });
      // A role's idle_session_timeout would end this connection, which is idle between
      // notifications by design, every few moments, each time an error. It is never given back
      // to the pool (see close), so the setting goes with it. (PostgreSQL 14 added it: the
      // WHERE keeps set_config from running on an older server.)
      await connected.query(
        "SELECT pg_catalog.set_config('idle_session_timeout', '0', false) WHERE pg_catalog.current_setting('server_version_num')::int >= 140000",
      );
      await connected.query(`LISTEN "${this.#channel}"`);
      if (released) return;
      if (this.#closed) release(true);
      else this.#client = connected;
    } catch (error) {
      release(error as Error);
      this.#onError(error as Error);
    }
  }
}
