import Table from "cli-table3";
import { createColors } from "picocolors";

// Human-readable figures for tables.

/**
 * Whether the CLI writes colour codes: on a terminal (not TERM=dumb) or when FORCE_COLOR asks
 * for them; never with NO_COLOR or --no-color. picocolors' own default also colours whenever a
 * `CI` variable is set, which would put escape codes into piped output and files on every CI
 * machine; the CLI promises plain text off a terminal, so it decides here.
 */
export function colorWanted(
  env: NodeJS.ProcessEnv = process.env,
  argv: readonly string[] = process.argv,
  isTerminal: boolean = process.stdout.isTTY === true,
): boolean {
  if (env.NO_COLOR || argv.includes("--no-color")) return false;
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR !== "0" && env.FORCE_COLOR !== "false";
  return isTerminal && env.TERM !== "dumb";
}

const colors = createColors(colorWanted());

/**
 * A table with a bold header, no lines between rows, and no colours of cli-table3's own.
 * Columns named in `right` (figures) are right-aligned.
 */
export function table(head: readonly string[], right: readonly string[] = []): Table.Table {
  return new Table({
    head: head.map((each) => colors.bold(each)),
    colAligns: head.map((each) => (right.includes(each) ? "right" : "left")),
    style: { head: [], border: [], compact: true },
  });
}

export function count(value: number): string {
  return value.toLocaleString("en-US");
}

const byteUnits = ["B", "kB", "MB", "GB", "TB", "PB"];

/** Bytes in powers of 1000, one decimal above 1 kB. */
export function bytes(value: number | bigint): string {
  let amount = Number(value);
  let unit = 0;
  while (amount >= 1000 && unit < byteUnits.length - 1) {
    amount /= 1000;
    unit++;
  }
  return unit === 0 ? `${amount} B` : `${amount.toFixed(1)} ${byteUnits[unit]}`;
}

/** A duration in ms as its two largest units: `850ms`, `12s`, `4m 10s`, `3h 2m`, `2d 5h`. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const steps: [string, number][] = [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
  ];
  const parts: string[] = [];
  let rest = Math.floor(ms);
  for (const [unit, size] of steps) {
    if (rest >= size || parts.length > 0) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
    if (parts.length === 2) break;
  }
  return parts.join(" ");
}

/** A time in UTC to the second: `2026-11-27 03:28:19`. */
export function time(value: Date | number): string {
  const date = typeof value === "number" ? new Date(value) : value;
  if (Number.isNaN(date.getTime())) return "-";
  return date.toISOString().replace("T", " ").slice(0, 19);
}

/** Cuts text to `max` characters, on one line, marking the cut. */
export function clip(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ");
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

export const dim = colors.dim;
export const warn = colors.yellow;
export const bad = colors.red;
export const good = colors.green;
export const bold = colors.bold;
