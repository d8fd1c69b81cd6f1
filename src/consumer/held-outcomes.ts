import type pg from "pg";
import { describeError } from "../core/describe-error.js";
import type { Logger } from "../core/logger.js";
import { sleep } from "../core/sleep.js";
import { queryRow } from "../database/query-rows.js";
import type { FailureRow } from "./batch-loop.js";
import type { ConsumerQueries } from "./consumer-queries.js";

/**
 * A handled job's outcome (a retry, or a dead letter) whose write failed, kept in the
 * consumer's row (`held_outcomes`) until it is written. Its job's row stays in `immediate`
 * meanwhile: partition maintenance counts the consumer as behind it.
 */
export interface HeldOutcome extends FailureRow {
  /** When it was first held, in ms since 1970. */
  readonly held_at: number;
  /** Why it could not be written. */
  readonly write_error: string;
}

export function heldOutcome(failure: FailureRow, writeError: string): HeldOutcome {
  return { ...failure, held_at: Date.now(), write_error: writeError };
}

/** Reported when a job's outcome could not be written, and each time a retry of it fails. */
export interface OutcomeWriteFailure {
  readonly jobId: bigint;
  /** What was to be written: a retry in `failed`, or a `dead_letter` row. */
  readonly outcome: "retry" | "dead-letter";
  /** Why the write failed. */
  readonly error: string;
  /** Outcomes this consumer holds now, this one included. */
  readonly held: number;
}

export interface HeldOutcomesContext {
  readonly pool: pg.Pool;
  readonly queries: ConsumerQueries;
  readonly name: string;
  readonly epoch: string;
  readonly logger: Logger;
  readonly report: (failure: OutcomeWriteFailure) => void;
  /** First pause before a retry, in ms; doubles up to maxDelay while writes keep failing. */
  readonly minDelay?: number;
  readonly maxDelay?: number;
}

/**
 * The held outcomes of one leader term: reported as they are held, then written one at a time,
 * each alone, with back-off, until none is left. The list survives the term in the consumer's
 * row; the next leader starts with it.
 */
export class HeldOutcomes {
  readonly #context: HeldOutcomesContext;
  #items: HeldOutcome[];
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  readonly #stop = new AbortController();

  constructor(context: HeldOutcomesContext, stored: readonly HeldOutcome[]) {
    this.#context = context;
    this.#items = [...stored];
  }

  /** How many outcomes are held now. */
  get count(): number {
    return this.#items.length;
  }

  /** Takes outcomes a commit has just held. */
  add(outcomes: readonly HeldOutcome[]): void {
    this.#items.push(...outcomes);
    for (const outcome of outcomes) this.#reportFailure(outcome, outcome.write_error);
    this.#wake?.();
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    this.#wake?.();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { minDelay = 1000, maxDelay = 60_000 } = this.#context;
    let delay = minDelay;
    const stopping = this.#stop.signal;
    while (!stopping.aborted) {
      if (this.#items.length === 0) {
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
        this.#wake = undefined;
        continue;
      }
      await sleep(delay, stopping);
      if (stopping.aborted) return;
      const wrote = await this.#retryAll();
      delay = wrote ? minDelay : Math.min(delay * 2, maxDelay);
    }
  }

  /** Tries each held outcome once; true when at least one was written. */
  async #retryAll(): Promise<boolean> {
    const { pool, queries, name, epoch, logger } = this.#context;
    let wrote = false;
    for (const outcome of [...this.#items]) {
      if (this.#stop.signal.aborted) break;
      try {
        const result = await queryRow(pool, queries.heldOutcomeWrite, [name, epoch, JSON.stringify([outcome])]);
        // Fenced: another leader has the list now.
        if (!result.leading) return wrote;
        if (result.written === 0) continue; // its row is not visible yet: next round
        this.#items = this.#items.filter((each) => each !== outcome);
        wrote = true;
        logger.info?.("a held job outcome was written", {
          epoch,
          jobId: outcome.id,
          outcome: outcome.dead ? "dead-letter" : "retry",
          heldMs: Date.now() - outcome.held_at,
        });
      } catch (error) {
        this.#reportFailure(outcome, describeError(error), error);
      }
    }
    return wrote;
  }

  /** `thrown`: the Error itself when at hand; a commit's write error is known only as text. */
  #reportFailure(outcome: HeldOutcome, error: string, thrown?: unknown): void {
    const failure: OutcomeWriteFailure = {
      jobId: BigInt(outcome.id),
      outcome: outcome.dead ? "dead-letter" : "retry",
      error,
      held: this.#items.length,
    };
    this.#context.logger.warn?.("a job's outcome could not be written; it is held and retried alone", {
      epoch: this.#context.epoch,
      jobId: outcome.id,
      outcome: failure.outcome,
      ...(thrown instanceof Error ? { err: thrown } : { error }),
      held: failure.held,
    });
    this.#context.report(failure);
  }
}
