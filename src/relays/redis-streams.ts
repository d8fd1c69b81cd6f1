/**
 * `poutbox/redis`: a relay from the outbox into Redis Streams.
 *
 * @example
 * ```ts
 * import { createClient } from "redis";
 * import { Consumer } from "poutbox";
 * import { redisStreamsRelay } from "poutbox/redis";
 *
 * const redis = await createClient({ url: "redis://127.0.0.1:6379" }).connect();
 * const relay = new Consumer(pool, redisStreamsRelay(redis, { stream: "orders:{topic}" }), {
 *   name: "relay-redis",
 *   ordering: "key",
 * });
 * await relay.start();
 * ```
 *
 * @module
 */

import type { Handler } from "../consumer/handler.js";
import { InvalidOptionError } from "../core/errors.js";
import { addOnceCall, addOnceScript } from "./redis-add-once.js";
import { type PublishOutcome, relayHandler } from "./relay-handler.js";
import type { RelayMessage } from "./relay-message.js";

export { relayHeaders, UnsendableJobError } from "./relay-message.js";

/** The part of a node-redis client (`createClient()` of `redis`, connected) the relay uses. */
export interface RedisScripting {
  scriptLoad(script: string): Promise<string>;
  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

export interface RedisStreamsRelayOptions {
  /** The stream of each job's entry, with `{topic}` and `{key}` replaced by the job's: `"orders:{topic}"`. */
  readonly stream: string;
  /** Put before every message id (see the message contract in docs/relays.md). Default: none. */
  readonly idPrefix?: string;
  /**
   * How long a message id is remembered, seconds: an entry for the same job within this time
   * is not added again. Each remembered id is a small key of its own. Default 86400 (one day).
   */
  readonly dedupWindow?: number;
  /** Trim each stream to about this many entries as it grows (`XADD ... MAXLEN ~`). Default: no trimming. */
  readonly maxLength?: number;
}

/**
 * A consumer handler that adds each job to a Redis stream as an entry with the field
 * `payload` (the JSON), `message-id`, and the contract's headers as fields of their own, all of
 * a call's commands sent at once (node-redis pipelines them), and reports a job done only once
 * Redis answered. The entry and a mark of its message id (`<stream>:poutbox-dedup:<id>`,
 * expiring after `dedupWindow`) are written by one script, atomically, so a job published
 * again within the window (after a crash, or a retry whose first answer was lost) is not added
 * twice. The mark is a key of its own beside the stream, which Redis Cluster may place in
 * another slot: run the relay against a single primary (with its replicas).
 */
export function redisStreamsRelay(redis: RedisScripting, options: RedisStreamsRelayOptions): Handler<unknown> {
  const window = options.dedupWindow ?? 86_400;
  if (!Number.isInteger(window) || window < 1) {
    throw new InvalidOptionError("dedupWindow", "expected a whole number of seconds, at least 1");
  }
  const maxLength = options.maxLength ?? 0;
  if (!Number.isInteger(maxLength) || maxLength < 0) {
    throw new InvalidOptionError("maxLength", "expected a whole number of entries");
  }
  const script = new LoadedScript(redis);
  const publish = (messages: readonly RelayMessage[]): Promise<PublishOutcome[]> =>
    Promise.all(messages.map((message) => addOne(script, message, window, maxLength)));
  return relayHandler(publish, { destination: options.stream, idPrefix: options.idPrefix });
}

/**
 * The script, sent once (SCRIPT LOAD) and run by its hash (EVALSHA): sending its text with
 * every entry cost about as many bytes as the entry. Loaded again when Redis has forgotten it
 * (a restart, SCRIPT FLUSH, a failover to a replica that never saw it).
 */
class LoadedScript {
  readonly #redis: RedisScripting;
  #sha: Promise<string> | undefined;
  /** The hash once loaded: the common case sends at once, without waiting on a promise first. */
  #loaded: string | undefined;

  constructor(redis: RedisScripting) {
    this.#redis = redis;
  }

  run(call: { keys: string[]; arguments: string[] }): Promise<unknown> {
    const send = (sha: string): Promise<unknown> =>
      settled(() => this.#redis.evalSha(sha, call)).catch(async (error: unknown) => {
        if (!/NOSCRIPT/.test(error instanceof Error ? error.message : String(error))) throw error;
        // Forgotten (a restart, SCRIPT FLUSH): load it again, once for all the calls that found out.
        if (this.#loaded === sha) {
          this.#loaded = undefined;
          this.#sha = undefined;
        }
        return this.#redis.evalSha(await this.#load(), call);
      });
    return this.#loaded === undefined ? this.#load().then(send) : send(this.#loaded);
  }

  #load(): Promise<string> {
    if (!this.#sha) {
      const loading = this.#redis.scriptLoad(addOnceScript);
      this.#sha = loading;
      loading.then(
        (sha) => {
          if (this.#sha === loading) this.#loaded = sha;
        },
        () => {
          if (this.#sha === loading) this.#sha = undefined;
        },
      );
    }
    return this.#sha;
  }
}

const added: PublishOutcome = { ok: true };

/** `start()`'s promise, or a rejected one if it threw before making one. */
function settled<T>(start: () => Promise<T>): Promise<T> {
  try {
    return start();
  } catch (error) {
    return Promise.reject(error);
  }
}

function addOne(
  script: LoadedScript,
  message: RelayMessage,
  window: number,
  maxLength: number,
): Promise<PublishOutcome> {
  return script.run(addOnceCall(message.destination, message, window, maxLength)).then(
    () => added,
    (error: unknown) => {
      // WRONGTYPE: the stream's name holds another kind of value, which no retry changes.
      const text = error instanceof Error ? error.message : String(error);
      return { ok: false, error, permanent: /WRONGTYPE/.test(text) };
    },
  );
}
