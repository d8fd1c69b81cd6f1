// A time-series chart (uPlot, drawn on a canvas): one x axis of sample times, one line per
// series. uPlot styles its elements through the CSSOM, which the dashboard's CSP allows.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import { html } from "../html.js";

const palette = ["#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"];
const height = 200;
export function Chart({ title, times, series, format, integer }) {
  const box = useRef(null);
  const plot = useRef(null);
  const shape = series.map((each) => each.label).join("\u0000");
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const show = (value) => (value === null || value === undefined ? "–" : (format?.(value) ?? String(value)));
    const options = {
      width: Math.max(element.clientWidth, 200),
      height,
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, min, max) => [Math.min(0, min), Math.max(1, max)] } },
      axes: [
        {},
        {
          size: 70,
          values: (_u, ticks) => ticks.map((tick) => show(tick)),
          // Counts and milliseconds have whole ticks only.
          ...(integer
            ? { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 1e6, 1e7, 1e8] }
            : {}),
        },
      ],
      series: [
        {},
        ...series.map((each, index) => ({
          label: each.label,
          stroke: palette[index % palette.length],
          width: 2,
          spanGaps: true,
          value: (_u, value) => show(value),
        })),
      ],
    };
    const created = new uPlot(options, toData(times, series), element);
    plot.current = created;
    const resized = new ResizeObserver(() => created.setSize({ width: Math.max(element.clientWidth, 200), height }));
    resized.observe(element);
    return () => {
      resized.disconnect();
      created.destroy();
      plot.current = null;
    };
    // Made anew only when the set of lines changes; new samples go through setData below.
  }, [shape]);
  useEffect(() => {
    plot.current?.setData(toData(times, series));
  }, [times, series]);
  return html`<figure class="chart">
    <figcaption>${title}</figcaption>
    <div class="chart-plot" ref=${box}></div>
    ${times.length === 0 ? html`<p class="muted">No samples yet.</p>` : null}
  </figure>`;
}
function toData(times, series) {
  return [Array.from(times), ...series.map((each) => Array.from(each.values))];
}
