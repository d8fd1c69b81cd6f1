// A line of feedback above a page's content: an error, or what an action did.
import { html } from "../html.js";
export function Notice({ kind, text, onClose }) {
  if (!text) return null;
  return html`<div class=${`notice notice-${kind}`} role=${kind === "error" ? "alert" : "status"}>
    <span>${text}</span>
    ${onClose ? html`<button type="button" class="link" onClick=${onClose} aria-label="Dismiss">×</button>` : null}
  </div>`;
}
