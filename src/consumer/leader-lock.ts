import { EventEmitter } from "node:events";
import type pg from "pg";
import { settleWithin } from "../core/sleep.js";
import { advisoryUnlock, tryAdvisoryLock } from "../database/advisory-locks.js";
import { connectListening } from "../database/connect.js";
import { queryRow } from "../database/query-rows.js";
import { serverVersionRead } from "./consumer-queries.js";

// How long release() waits for the unlock before it just closes the session.
const unlockTimeout = 1000;

/**
 * Leadership of one consumer name: a session-level advisory lock held on a dedicated
 * connection. The server frees it when that session ends, so a leader that dies, or whose
 * connection is cut, loses it at once. A leader that is alive but stuck (paused process,
 * blocked event loop, half-open network) would keep it forever, so the session is given an
 * idle_session_timeout (PostgreSQL 14+) and kept alive by a heartbeat: no heartbeat, no lock.
 */
export class LeaderLock extends EventEmitter<{ lost: [Error] }> {
  readonly #pool: pg.Pool;
  readonly #key: string;
  readonly #timeout: number;
  #client: pg.PoolClient | undefined;
  #held = false;
  #heartbeat: NodeJS.Timeout | undefined;

  constructor(pool: pg.Pool, key: string, timeout: number) {
    super();
    this.#pool = pool;
    this.#key = key;
    this.#timeout = timeout;
  }

  get held(): boolean {
    return this.#held;
  }

  /** Tries once to take the lock; true when this process is now the leader. */
  async tryAcquire(): Promise<boolean> {
    const client = await this.#connection();
    this.#held = await tryAdvisoryLock(client, this.#key);
    if (this.#held) this.#startHeartbeat(client);
    return this.#held;
  }

  /** Gives the lock up and closes its connection. Safe to call at any time, more than once. */
  async release(): Promise<void> {
    this.#stopHeartbeat();
    const client = this.#client;
    const held = this.#held;
    this.#client = undefined;
    this.#held = false;
    if (!client) return;
    // Closing the session frees the lock too, but only once the server process has exited, a
    // moment after this returns: a removeConsumer or a takeover right after stop() would find
    // the lock still held. So unlock first, unless the connection does not answer in time.
    if (held) {
      await settleWithin(advisoryUnlock(client, this.#key), unlockTimeout);
    }
    // Destroyed rather than returned to the pool: it carries a session timeout.
    client.release(true);
  }

  async #connection(): Promise<pg.PoolClient> {
    if (this.#client) return this.#client;
    // An error before the connection is handed over fails the queries below instead.
    let connected: pg.PoolClient | undefined;
    const client = await connectListening(this.#pool, (error) => {
      if (connected) this.#drop(connected, error);
    });
    connected = client;
    try {
      const { version } = await queryRow(client, serverVersionRead);
      if (version >= 140000) {
        await client.query(`SET idle_session_timeout = ${Math.floor(this.#timeout)}`);
      }
    } catch (error) {
      client.release(true);
      throw error;
    }
    this.#client = client;
    return client;
  }

  #startHeartbeat(client: pg.PoolClient): void {
    this.#stopHeartbeat();
    this.#heartbeat = setInterval(
      () => {
        client.query("SELECT 1").catch((error: Error) => this.#drop(client, error));
      },
      Math.max(100, Math.floor(this.#timeout / 4)),
    );
    this.#heartbeat.unref();
  }

  #stopHeartbeat(): void {
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
  }

  #drop(client: pg.PoolClient, error: Error): void {
    if (this.#client !== client) return;
    const wasHeld = this.#held;
    this.#stopHeartbeat();
    this.#client = undefined;
    this.#held = false;
    client.release(error);
    if (wasHeld) this.emit("lost", error);
  }
}

/** The epoch moved: another process took leadership. Nothing of this term may be committed. */
export class FencedError extends Error {
  constructor(name: string) {
    super(`consumer "${name}" lost leadership: another process claimed it; this process stands down`);
  }
}
