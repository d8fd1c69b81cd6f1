import type pg from "pg";
import type { BenchOptions } from "./options.js";
import type { Peer } from "./peers/peer.js";
import type { Progress } from "./progress.js";
import type { Row } from "./report.js";

/** What every scenario gets. */
export interface BenchContext {
  readonly url: string;
  /** For set-up, fills and producers; consumers run in child processes with pools of their own. */
  readonly pool: pg.Pool;
  readonly options: BenchOptions;
  readonly progress: Progress;
  /** pg-boss and graphile-worker, when measured. */
  readonly peers: readonly Peer[];
}

export interface Scenario {
  /** Progress steps it announces, for the bar. */
  steps(context: Pick<BenchContext, "options" | "peers">): number;
  run(context: BenchContext): Promise<Row[]>;
}
