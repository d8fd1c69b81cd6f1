import colors from "picocolors";
import type { DeliveryLine } from "./delivery-log.js";
import type { DemoMode } from "./options.js";

/** What the run shows about Poutbox's promises; printed as text, or as JSON with --json. */
export interface DemoSummary {
  readonly mode: DemoMode;
  /** Orders whose transaction committed: the rows in the orders table for this run. */
  readonly committed: number;
  /** Orders rolled back on purpose, with their jobs. */
  readonly rolledBack: number;
  /** Distinct jobs in the output file. */
  readonly delivered: number;
  /** Lines beyond the first for the same job: allowed by at-least-once delivery, expected 0 in a calm run. */
  readonly duplicates: number;
  /** Committed orders whose job is not in the file. Must be 0. */
  readonly lost: number;
  /** Jobs in the file whose order did not commit (rolled back, or unknown). Must be 0. */
  readonly unexpected: number;
  /** Jobs the handler failed on purpose and got again. */
  readonly retried: number;
  /** From the first order to the last delivery (or to the end of the wait for it). */
  readonly seconds: number;
  readonly jobsPerSecond: number;
  /** Ctrl-C stopped the producers before the count was reached. */
  readonly interrupted: boolean;
  /**
   * The wait for the last deliveries ended because every committed job had arrived; false
   * when it timed out or a second Ctrl-C cut it short.
   */
  readonly drained: boolean;
  readonly file: string;
  readonly database: "embedded" | "DATABASE_URL";
}

export interface SummaryInput {
  readonly mode: DemoMode;
  readonly run: string;
  readonly committedOrders: ReadonlySet<string>;
  readonly rolledBack: number;
  readonly retried: number;
  readonly lines: readonly DeliveryLine[];
  readonly seconds: number;
  readonly interrupted: boolean;
  readonly drained: boolean;
  readonly file: string;
  readonly database: "embedded" | "DATABASE_URL";
}

/** Checks the output file against the orders that exist. */
export function summarize(input: SummaryInput): DemoSummary {
  const jobs = new Set(input.lines.map((line) => line.job));
  const mine = input.lines.filter((line) => line.run === input.run);
  const deliveredOrders = new Set(mine.map((line) => line.order));
  let lost = 0;
  for (const order of input.committedOrders) if (!deliveredOrders.has(order)) lost++;
  // A job of another run cannot be in the file (each run starts from empty schemas); if one
  // were, it would not be an order this run committed.
  const unexpectedJobs = new Set(
    input.lines.filter((line) => line.run !== input.run || !input.committedOrders.has(line.order)).map((l) => l.job),
  );
  const seconds = Math.round(input.seconds * 100) / 100;
  return {
    mode: input.mode,
    committed: input.committedOrders.size,
    rolledBack: input.rolledBack,
    delivered: jobs.size,
    duplicates: input.lines.length - jobs.size,
    lost,
    unexpected: unexpectedJobs.size,
    retried: input.retried,
    seconds,
    jobsPerSecond: seconds > 0 ? Math.round(jobs.size / seconds) : 0,
    interrupted: input.interrupted,
    drained: input.drained,
    file: input.file,
    database: input.database,
  };
}

export function kept(summary: DemoSummary): boolean {
  return summary.lost === 0 && summary.unexpected === 0;
}

function row(label: string, value: number, note: string, bad = false): string {
  const figure = value.toLocaleString("en-US").padStart(9);
  return `  ${label.padEnd(26)}${bad ? colors.red(figure) : figure}   ${colors.dim(note)}`;
}

export function summaryText(summary: DemoSummary): string {
  const lines = [
    "",
    colors.bold(
      `Summary: ${summary.mode} mode, ${summary.seconds} s${summary.interrupted ? ", stopped by Ctrl-C" : ""}`,
    ),
    row("orders committed", summary.committed, "each saved with its job in one transaction"),
    row("orders rolled back", summary.rolledBack, "rolled back on purpose, job included"),
    row("jobs delivered", summary.delivered, `written to ${summary.file}`),
    row("duplicates", summary.duplicates, "delivered more than once (at least once allows it)"),
    row("retried", summary.retried, "failed on purpose by the handler, then delivered again"),
    row("lost", summary.lost, "committed but never delivered", summary.lost > 0),
    row("unexpected", summary.unexpected, "delivered but never committed", summary.unexpected > 0),
    row("jobs/s", summary.jobsPerSecond, "delivered, over the whole run"),
  ];
  lines.push(verdict(summary));
  return lines.join("\n");
}

function verdict(summary: DemoSummary): string {
  if (kept(summary)) {
    return colors.green("✔ every committed order's job was delivered, and no rolled-back order's job was");
  }
  if (summary.unexpected === 0 && !summary.drained) {
    return colors.yellow(
      "✘ the demo stopped waiting before every committed job was delivered: the rest are still in the outbox, " +
        "so this run cannot vouch for them (counted as lost)",
    );
  }
  return colors.red("✘ a promise was broken: see lost and unexpected above");
}
