import cliProgress from "cli-progress";

/**
 * What the benchmark is doing, on stderr: a bar over all steps on a terminal, one line per
 * step elsewhere (CI logs), so stdout keeps only the table or the JSON lines.
 */
export class Progress {
  readonly #bar: cliProgress.SingleBar | undefined;
  readonly #started = performance.now();
  #done = 0;

  constructor(steps: number) {
    if (process.stderr.isTTY) {
      this.#bar = new cliProgress.SingleBar(
        {
          stream: process.stderr,
          format: "bench {bar} {value}/{total} steps | {duration_formatted} | {step}",
          hideCursor: true,
          clearOnComplete: true,
        },
        cliProgress.Presets.shades_classic,
      );
      this.#bar.start(steps, 0, { step: "starting" });
    }
  }

  /** Announces the next step; the previous one is counted as done. */
  step(label: string): void {
    if (this.#bar) {
      this.#bar.update(this.#done, { step: label });
    } else {
      const seconds = ((performance.now() - this.#started) / 1000).toFixed(0);
      process.stderr.write(`bench [${seconds} s] ${label}\n`);
    }
    this.#done++;
  }

  stop(): void {
    this.#bar?.update(this.#done);
    this.#bar?.stop();
  }
}
