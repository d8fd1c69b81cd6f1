import Table from "cli-table3";
import type { ScenarioName } from "./options.js";
import { median } from "./stats.js";

export const subjects = ["poutbox", "pg-boss", "graphile-worker"] as const;

export type Subject = (typeof subjects)[number];

/** One measured line: the JSON object written by `--json`, and a row of the table. */
export interface Row {
  readonly scenario: ScenarioName;
  readonly subject: Subject;
  /** What sets this line apart from others of its scenario (shape, rate, history...). */
  readonly variant?: string;
  readonly batch_size?: number;
  readonly n: number;
  readonly seconds: number;
  readonly jobs_per_s: number;
  /** The cheapest way to do the same work on the same server, measured in the same run. */
  readonly baseline_jobs_per_s: number | null;
  /**
   * jobs_per_s / baseline_jobs_per_s; for lines measured over alternating rounds
   * (round_ratios), the median of the rounds' ratios.
   */
  readonly ratio: number | null;
  readonly p50_ms?: number;
  readonly p95_ms?: number;
  readonly p99_ms?: number;
  /** Peak resident memory of the process that ran the consumer. */
  readonly peak_rss_mb?: number;
  /** Our jobs/s divided by the peer's, for the same scenario (poutbox lines only). */
  readonly vs_pg_boss?: number;
  readonly vs_graphile_worker?: number;
  /**
   * Lines compared over alternating rounds: each round's ratio, in the order run. Drains run
   * at least three rounds, more while these spread wider than a tenth of their median, and
   * their jobs_per_s and baseline_jobs_per_s are each side's fastest run; telemetry lines run
   * five, and show each side's median run.
   */
  readonly round_ratios?: readonly number[];
  /** Spans the SDK exported in each measured run (telemetry), in the order run. */
  readonly spans_per_run?: readonly number[];
  /** The target for this line, and whether this run met it. */
  readonly target?: string;
  readonly met?: boolean;
}

/** A peer's line: its rate against the same baseline as ours. */
export function peerRow(
  scenario: ScenarioName,
  peer: { readonly name: Subject },
  n: number,
  seconds: number,
  baseline: number | null,
): Row {
  const jobs = rate(n, seconds);
  return {
    scenario,
    subject: peer.name,
    n,
    seconds: roundSeconds(seconds),
    jobs_per_s: jobs,
    baseline_jobs_per_s: baseline,
    ratio: baseline === null ? null : ratio(jobs, baseline),
  };
}

/**
 * A drain of ours: its rate against a baseline (jobs/s), the consumer's peak RSS, and, when
 * the issue sets one, the least ratio to reach.
 */
export function drainRow(
  scenario: ScenarioName,
  line: {
    readonly variant?: string;
    readonly batchSize: number;
    readonly n: number;
    readonly baseline: number;
    /** Each round's ratio (settledRounds): the line's ratio is then their median. */
    readonly roundRatios?: readonly number[];
  },
  drained: { readonly seconds: number; readonly peakRssMb: number },
  minRatio?: number,
): Row {
  const jobs = rate(line.n, drained.seconds);
  const rounds = line.roundRatios;
  // Judged as shown: to two decimals.
  const figure = hundredths(rounds === undefined ? jobs / line.baseline : median(rounds));
  return {
    scenario,
    subject: "poutbox",
    ...(line.variant === undefined ? {} : { variant: line.variant }),
    batch_size: line.batchSize,
    n: line.n,
    seconds: roundSeconds(drained.seconds),
    jobs_per_s: jobs,
    baseline_jobs_per_s: line.baseline,
    ratio: figure,
    ...(rounds === undefined ? {} : { round_ratios: rounds.map(hundredths) }),
    peak_rss_mb: drained.peakRssMb,
    ...(minRatio === undefined ? {} : { target: `>= ${minRatio.toFixed(2)}`, met: figure >= minRatio }),
  };
}

export function roundSeconds(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}

export function rate(n: number, seconds: number): number {
  return Math.round(n / seconds);
}

export function ratio(value: number, baseline: number): number {
  return hundredths(value / baseline);
}

/** A ratio as the report shows it: to two decimals. */
export function hundredths(value: number): number {
  return Math.round(value * 100) / 100;
}

/** Fills in each poutbox line's ratio to the peers' line of the same scenario. */
export function withPeerRatios(rows: readonly Row[]): Row[] {
  return rows.map((row) => {
    if (row.subject !== "poutbox") return row;
    const peer = (subject: Subject) => {
      // A peer has one line per scenario (its best settings); ours may have several. The
      // peers have no replication mode: our replication drain is set against their drain.
      const scenario = row.scenario === "drain_replication" ? "drain_polling" : row.scenario;
      const line = rows.find((other) => other.subject === subject && other.scenario === scenario);
      return line ? ratio(row.jobs_per_s, line.jobs_per_s) : undefined;
    };
    const vsPgBoss = peer("pg-boss");
    const vsGraphile = peer("graphile-worker");
    return {
      ...row,
      ...(vsPgBoss === undefined ? {} : { vs_pg_boss: vsPgBoss }),
      ...(vsGraphile === undefined ? {} : { vs_graphile_worker: vsGraphile }),
    };
  });
}

export function toJsonLines(rows: readonly Row[]): string {
  return rows.map((row) => JSON.stringify(row)).join("\n");
}

const number = new Intl.NumberFormat("en-US");

const head = [
  "scenario",
  "subject",
  "variant",
  "n",
  "jobs/s",
  "baseline/s",
  "ratio",
  "p50 / p95 / p99 ms",
  "RSS MB",
  "×pg-boss",
  "×graphile",
  "target",
];

/** A row's cells as text, in the order of `head`. */
function cells(row: Row, notMet: string): string[] {
  const variant = [row.variant, row.batch_size === undefined ? undefined : `batch ${row.batch_size}`]
    .filter(Boolean)
    .join(", ");
  const latency =
    row.p50_ms === undefined ? "" : [row.p50_ms, row.p95_ms, row.p99_ms].map((ms) => ms?.toFixed(1)).join(" / ");
  const times = (value: number | undefined) => (value === undefined ? "" : `${value.toFixed(1)}×`);
  return [
    row.scenario,
    row.subject,
    variant,
    number.format(row.n),
    number.format(row.jobs_per_s),
    row.baseline_jobs_per_s === null ? "" : number.format(row.baseline_jobs_per_s),
    row.ratio === null ? "" : `${row.ratio.toFixed(2)}${rangeOf(row.round_ratios)}`,
    latency,
    row.peak_rss_mb === undefined ? "" : String(row.peak_rss_mb),
    times(row.vs_pg_boss),
    times(row.vs_graphile_worker),
    row.target === undefined ? "" : `${row.target} ${row.met ? "met" : notMet}`,
  ];
}

/** " (min-max over k rounds)", or nothing for a line measured once. */
function rangeOf(ratios: readonly number[] | undefined): string {
  if (ratios === undefined || ratios.length < 2) return "";
  return ` (${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}, ${ratios.length} rounds)`;
}

export function toTable(rows: readonly Row[]): string {
  const table = new Table({
    head,
    style: { head: [], border: [] },
    colAligns: ["left", "left", "left", "right", "right", "right", "right", "right", "right", "right", "right", "left"],
  });
  for (const row of rows) table.push(cells(row, "NOT met"));
  return table.toString();
}

/** The table as Markdown, for docs/benchmarks.md. */
export function toMarkdown(rows: readonly Row[]): string {
  const line = (values: string[]) => `| ${values.join(" | ")} |`;
  return [
    line(head),
    line(head.map((_, index) => (index >= 3 && index <= 10 ? "---:" : "---"))),
    ...rows.map((row) => line(cells(row, "**not met**"))),
  ].join("\n");
}
