import cliProgress from "cli-progress";
import colors from "picocolors";
import type { DeliveryCounts } from "./delivery-log.js";
import type { ProducerCounts } from "./producers.js";

export interface Progress {
  /** Prints a line above the live display (or on stderr when there is none). */
  log(line: string): void;
  stop(): void;
}

/** Jobs per second over the last second or so, from samples taken at each redraw. */
class RateMeter {
  readonly #samples: { at: number; value: number }[] = [];

  sample(value: number): number {
    const now = Date.now();
    this.#samples.push({ at: now, value });
    while (this.#samples.length > 2 && now - (this.#samples[1]?.at ?? now) >= 1000) this.#samples.shift();
    const first = this.#samples[0];
    if (!first || now === first.at) return 0;
    return ((value - first.value) * 1000) / (now - first.at);
  }
}

/**
 * A live line on stderr, redrawn ten times a second: delivered out of committed so far, and
 * what is behind it. Only on a terminal; elsewhere (a pipe, CI, the tests) it draws nothing.
 * A multi-bar display with one bar, because it can print lines above itself without the
 * two overwriting each other.
 */
export function showProgress(producers: ProducerCounts, deliveries: DeliveryCounts): Progress {
  if (!process.stderr.isTTY) {
    return {
      log: (line) => process.stderr.write(`${line}\n`),
      stop() {},
    };
  }
  const display = new cliProgress.MultiBar(
    {
      format:
        `${colors.cyan("{bar}")} delivered {value}/{total} | enqueued {enqueued} | rolled back {rolledBack} | ` +
        "backlog {backlog} | retries {retried} | {rate} jobs/s",
      barsize: 24,
      hideCursor: true,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  const meter = new RateMeter();
  const payload = () => ({
    enqueued: producers.committed + producers.rolledBack,
    rolledBack: producers.rolledBack,
    backlog: Math.max(0, producers.committed - deliveries.orders.size),
    retried: deliveries.failed,
    rate: Math.round(meter.sample(deliveries.deliveries)).toLocaleString("en-US"),
  });
  const bar = display.create(Math.max(1, producers.committed), deliveries.orders.size, payload());
  const timer = setInterval(() => {
    bar.setTotal(Math.max(1, producers.committed));
    bar.update(deliveries.orders.size, payload());
  }, 100);
  return {
    log: (line) => display.log(`${line}\n`),
    stop() {
      clearInterval(timer);
      bar.setTotal(Math.max(1, producers.committed));
      bar.update(deliveries.orders.size, payload());
      display.stop();
    },
  };
}
