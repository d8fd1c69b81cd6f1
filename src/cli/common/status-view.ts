import { lsnToString } from "../../replication/lsn.js";
import type { ConsumerStatus, OutboxStatus } from "../../status/status.js";
import { bad, bold, bytes, clip, count, dim, duration, good, table, time, warn } from "./format.js";

/** `poutbox status` for a person: a heading and one table per section. */
export function statusView(status: OutboxStatus): string {
  const at = status.at;
  const sections = [
    `${bold("Poutbox")} schema "${status.schema}", migration ${status.version}, at ${time(at)} UTC`,
    tablesSection(status),
    consumersSection(status),
    slotsSection(status),
    partitionsSection(status),
  ];
  return `${sections.filter((each) => each !== "").join("\n\n")}\n`;
}

function tablesSection({ tables }: OutboxStatus): string {
  const view = table(["table", "rows", "due now"], ["rows"]);
  const immediate = `${tables.immediate.estimated ? "≈ " : ""}${count(tables.immediate.rows)}`;
  view.push(
    ["immediate", immediate, dim("pending per consumer below")],
    ["scheduled", count(tables.scheduled.rows), count(tables.scheduled.due)],
    ["failed", count(tables.failed.rows), count(tables.failed.due)],
    ["dead_letter", tables.deadLetter.rows > 0 ? warn(count(tables.deadLetter.rows)) : "0", ""],
  );
  return `${bold("Tables")}\n${view.toString()}`;
}

function leader(consumer: ConsumerStatus): string {
  if (consumer.leader) return good(`pid ${consumer.leader.pid}`);
  return warn("none running");
}

/** Where the consumer is: its acked LSN (replication) or its progress snapshot and window (polling). */
function position(consumer: ConsumerStatus): string {
  if (consumer.mode === "replication" && consumer.ackedLsn !== null) {
    const behind = consumer.ackLagBytes === null ? "" : `, ${bytes(consumer.ackLagBytes)} of WAL since`;
    return `acked ${lsnToString(consumer.ackedLsn)}${behind}`;
  }
  const snapshot = consumer.snapshot === null ? "none" : clip(consumer.snapshot, 32);
  const window = consumer.window ? `, window at ${consumer.window.transactionId}/${consumer.window.jobId}` : "";
  return `snapshot ${snapshot}${window}`;
}

function consumersSection(status: OutboxStatus): string {
  if (status.consumers.length === 0) return `${bold("Consumers")}\n${dim("none has started on this schema yet")}`;
  const view = table(
    ["consumer", "mode", "leader", "pending", "lag", "retrying", "dead", "held", "last progress", "position"],
    ["pending", "lag", "retrying", "dead", "held"],
  );
  for (const consumer of status.consumers) {
    const lag = consumer.lagMs;
    view.push([
      consumer.name,
      consumer.mode,
      leader(consumer),
      consumer.pendingJobs === null ? "-" : count(consumer.pendingJobs),
      lag === null ? "-" : duration(lag),
      count(consumer.retrying),
      consumer.deadLetters > 0 ? warn(count(consumer.deadLetters)) : "0",
      consumer.heldOutcomes > 0 ? bad(count(consumer.heldOutcomes)) : "0",
      consumer.heartbeatAt ? `${duration(status.at.getTime() - consumer.heartbeatAt.getTime())} ago` : "-",
      position(consumer),
    ]);
  }
  const notes = status.consumers.flatMap((consumer) => {
    const lines: string[] = [];
    if (consumer.blockedKeys > 0) {
      lines.push(
        warn(
          `${consumer.name}: ${count(consumer.blockedKeys)} ordering key(s) blocked, ` +
            `${count(consumer.waitingBehindKeys)} job(s) waiting behind them (poutbox keys list)`,
        ),
      );
    }
    if (consumer.heldOutcomes > 0) {
      lines.push(
        bad(`${consumer.name}: ${count(consumer.heldOutcomes)} job outcome(s) could not be written; retried alone`),
      );
    }
    const move = consumer.lastMove;
    if (move) {
      const reason = move.reason ? ` (${move.reason})` : "";
      lines.push(dim(`${consumer.name}: moved to ${move.target} by ${move.by} at ${time(move.at)} UTC${reason}`));
    }
    return lines;
  });
  return `${bold("Consumers")}\n${view.toString()}${notes.length > 0 ? `\n${notes.join("\n")}` : ""}`;
}

function slotsSection(status: OutboxStatus): string {
  const withSlots = status.consumers.filter((each) => each.slot !== null);
  if (withSlots.length === 0) return "";
  const view = table(["consumer", "slot", "active", "wal status", "retained WAL", "confirmed flush"], ["retained WAL"]);
  for (const { name, slot } of withSlots) {
    if (!slot) continue;
    view.push([
      name,
      slot.name,
      slot.active ? good(`pid ${slot.activePid}`) : warn("no"),
      slot.walStatus === "lost" ? bad("lost") : (slot.walStatus ?? "-"),
      bytes(slot.retainedBytes),
      slot.confirmedFlush === null ? "-" : lsnToString(slot.confirmedFlush),
    ]);
  }
  return `${bold("Replication slots")}\n${view.toString()}`;
}

function partitionsSection(status: OutboxStatus): string {
  const view = table(["partition", "from (UTC)", "to (UTC)", "rows (estimate)", "size"], ["rows (estimate)", "size"]);
  for (const partition of status.partitions) {
    view.push([
      partition.managed ? partition.name : warn(`${partition.name} (attached; imported at the next maintenance run)`),
      partition.isDefault ? dim("default") : bound(partition.from),
      partition.isDefault ? "" : bound(partition.to),
      partition.estimatedRows === null ? dim("not analysed") : count(partition.estimatedRows),
      bytes(partition.bytes),
    ]);
  }
  return `${bold("Partitions of immediate")}\n${view.toString()}`;
}

/** A partition's bound; null is MINVALUE or MAXVALUE. */
function bound(value: Date | null): string {
  return value === null ? dim("unbounded") : time(value);
}
