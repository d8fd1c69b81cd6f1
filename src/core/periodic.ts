import { sleep } from "./sleep.js";

/** A background loop started by {@link repeat}. */
export interface Periodic {
  /** Ends the loop, waiting for a round in progress to finish. */
  stop(): Promise<void>;
  /** Runs the next round now instead of after the interval (after the one in progress, if any). */
  wake(): void;
}

/**
 * Runs `round` at once, then again `interval` ms after each round ends, until stopped. A round
 * that resolves true has more to do and is followed by the next at once. A round that fails
 * goes to `onError` and the loop goes on: a background task outlives a passing database error.
 */
export function repeat(
  interval: number,
  round: (signal: AbortSignal) => Promise<unknown>,
  onError: (error: unknown) => void,
): Periodic {
  const stopping = new AbortController();
  let waking = new AbortController();
  // A wake() during a round makes the next one run without a pause.
  let woken = false;
  const loop = (async () => {
    while (!stopping.signal.aborted) {
      woken = false;
      try {
        if ((await round(stopping.signal)) === true) continue;
      } catch (error) {
        onError(error);
      }
      if (woken) continue;
      waking = new AbortController();
      await sleep(interval, AbortSignal.any([stopping.signal, waking.signal]));
    }
  })();
  return {
    async stop() {
      stopping.abort();
      await loop;
    },
    wake() {
      woken = true;
      waking.abort();
    },
  };
}
