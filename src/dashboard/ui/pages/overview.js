// Overview: the outbox at a glance, kept live. Throughput, backlog and lag over the server's
// recent samples; each consumer's leader and replication slot; the partitions of `immediate`.
import { useMemo } from "preact/hooks";
import { Chart } from "../components/chart.js";
import { Stat } from "../components/stat.js";
import { bytes, count, duration, time } from "../format.js";
import { html } from "../html.js";
export function OverviewPage({ overview }) {
  const { status, series } = overview;
  const { tables } = status;
  const charts = useMemo(() => chartData(series), [series]);
  const leaders = status.consumers.filter((consumer) => consumer.leader).length;
  return html`<section class="page overview" data-page="overview">
    <div class="stats">
      <${Stat}
        label="Delivery table"
        value=${count(tables.immediate.rows)}
        detail=${tables.immediate.estimated ? "rows (estimated)" : "rows, delivered or not"}
      />
      <${Stat} label="Scheduled" value=${count(tables.scheduled.rows)} detail=${`${count(tables.scheduled.due)} due`} />
      <${Stat} label="Retrying" value=${count(tables.failed.rows)} detail=${`${count(tables.failed.due)} due`} />
      <${Stat} label="Dead letters" value=${count(tables.deadLetter.rows)} warn=${tables.deadLetter.rows > 0} />
      <${Stat}
        label="Consumers led"
        value=${`${leaders} / ${status.consumers.length}`}
        warn=${leaders < status.consumers.length}
      />
    </div>
    <div class="charts">
      <${Chart} title="Throughput (jobs per second)" times=${charts.times} series=${charts.throughput}
        format=${(v) => v.toFixed(v < 10 ? 1 : 0)} />
      <${Chart} title="Backlog (pending jobs)" times=${charts.times} series=${charts.backlog} format=${count} integer />
      <${Chart} title="Lag (age of the oldest pending job)" times=${charts.times} series=${charts.lag} format=${duration} integer />
      <${Chart} title="Dead letters" times=${charts.times} series=${charts.dead} format=${count} integer />
    </div>
    <h2>Consumers</h2>
    <${ConsumerSummary} consumers=${status.consumers} />
    <h2>Replication slots</h2>
    <${Slots} consumers=${status.consumers} />
    <h2>Partitions of the delivery table</h2>
    <${Partitions} overview=${overview} />
    <p class="muted small">Schema ${status.schema}, version ${status.version}; read at ${time(status.at)}.</p>
  </section>`;
}
function ConsumerSummary({ consumers }) {
  if (consumers.length === 0) return html`<p class="muted">No consumer has run on this schema yet.</p>`;
  return html`<table class="data">
    <thead><tr><th>Consumer</th><th>Mode</th><th>Leader</th><th>Pending</th><th>Lag</th>
      <th>Retrying</th><th>Blocked keys</th><th>Dead letters</th><th>Held outcomes</th></tr></thead>
    <tbody>
      ${consumers.map(
        (c) => html`<tr key=${c.name} data-consumer=${c.name}>
          <td>${c.name}</td>
          <td>${c.mode}</td>
          <td>${
            c.leader
              ? html`<span class="ok">pid ${c.leader.pid}</span> <span class="muted">${c.leader.id ?? ""}</span>`
              : html`<span class="warn">none</span>`
          }</td>
          <td class="num">${count(c.pendingJobs)}</td>
          <td class="num">${duration(c.lagMs)}</td>
          <td class="num">${count(c.retrying)}</td>
          <td class=${c.blockedKeys > 0 ? "num warn" : "num"}>${count(c.blockedKeys)}</td>
          <td class=${c.deadLetters > 0 ? "num warn" : "num"}>${count(c.deadLetters)}</td>
          <td class=${c.heldOutcomes > 0 ? "num warn" : "num"}>${count(c.heldOutcomes)}</td>
        </tr>`,
      )}
    </tbody>
  </table>`;
}
function Slots({ consumers }) {
  const withSlot = consumers.filter((c) => c.slot);
  if (withSlot.length === 0) return html`<p class="muted">No consumer uses logical replication.</p>`;
  return html`<table class="data">
    <thead><tr><th>Consumer</th><th>Slot</th><th>Active</th><th>WAL status</th><th>Retained WAL</th>
      <th>Confirmed flush</th><th>Acknowledged lag</th></tr></thead>
    <tbody>
      ${withSlot.map((c) => {
        const slot = c.slot;
        const unhealthy =
          !slot.active || (slot.walStatus !== null && !["reserved", "extended"].includes(slot.walStatus));
        return html`<tr key=${c.name} class=${unhealthy ? "row-warn" : ""}>
          <td>${c.name}</td>
          <td class="mono">${slot.name}</td>
          <td>${slot.active ? html`<span class="ok">yes</span>` : html`<span class="warn">no</span>`}</td>
          <td>${slot.walStatus ?? "–"}</td>
          <td class="num">${bytes(slot.retainedBytes)}</td>
          <td class="mono">${slot.confirmedFlush ?? "–"}</td>
          <td class="num">${bytes(c.ackLagBytes)}</td>
        </tr>`;
      })}
    </tbody>
  </table>`;
}
function Partitions({ overview }) {
  const { partitions } = overview.status;
  if (partitions.length === 0) return html`<p class="muted">No partition.</p>`;
  return html`<table class="data">
    <thead><tr><th>Partition</th><th>From</th><th>To</th><th>Rows</th><th>Size</th><th>Managed</th></tr></thead>
    <tbody>
      ${partitions.map(
        (p) => html`<tr key=${p.name}>
          <td class="mono">${p.name}${p.isDefault ? " (default)" : ""}</td>
          <td class="nowrap">${time(p.from)}</td>
          <td class="nowrap">${time(p.to)}</td>
          <td class="num">${count(p.estimatedRows)}</td>
          <td class="num">${bytes(p.bytes)}</td>
          <td>${p.managed ? "yes" : "no"}</td>
        </tr>`,
      )}
    </tbody>
  </table>`;
}
/**
 * The samples as chart lines. `enqueued` and `delivered` count the jobs since the previous
 * sample: divided by the time between the two, they are rates per second (none for the first).
 * @param {readonly import("../types.js").SeriesPoint[]} series
 */
export function chartData(series) {
  const times = series.map((point) => Date.parse(point.at) / 1000);
  const names = [...new Set(series.flatMap((point) => Object.keys(point.consumers)))].sort();
  /** @param {(point: import("../types.js").SeriesPoint) => number | null | undefined} value */
  const perSecond = (value) =>
    series.map((point, index) => {
      const previous = series[index - 1];
      const count = value(point);
      if (!previous || count === null || count === undefined) return null;
      const seconds = (Date.parse(point.at) - Date.parse(previous.at)) / 1000;
      return seconds > 0 ? count / seconds : null;
    });
  return {
    times,
    throughput: [
      { label: "enqueued", values: perSecond((point) => point.enqueued) },
      ...names.map((name) => ({
        label: `delivered: ${name}`,
        values: perSecond((point) => point.consumers[name]?.delivered),
      })),
    ],
    backlog: names.map((name) => ({ label: name, values: series.map((p) => p.consumers[name]?.pending ?? null) })),
    lag: names.map((name) => ({ label: name, values: series.map((p) => p.consumers[name]?.lagMs ?? null) })),
    dead: [{ label: "dead letters", values: series.map((point) => point.deadLetters) }],
  };
}
