// One figure with its name, for the overview's summary row.
import { html } from "../html.js";
export function Stat({ label, value, detail, warn }) {
  return html`<div class=${warn ? "stat stat-warn" : "stat"}>
    <div class="stat-label">${label}</div>
    <div class="stat-value">${value}</div>
    ${detail ? html`<div class="stat-detail">${detail}</div>` : null}
  </div>`;
}
