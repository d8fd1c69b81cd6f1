import { useEffect, useRef } from "preact/hooks";
import { html } from "../html.js";
export function ConfirmDialog({ title, confirmLabel, danger, busy, onConfirm, onCancel, children }) {
  const dialog = useRef(null);
  useEffect(() => {
    const element = dialog.current;
    if (element && !element.open) element.showModal();
    return () => element?.close();
  }, []);
  return html`<dialog ref=${dialog} class="confirm" aria-labelledby="confirm-title" onCancel=${(event) => {
    event.preventDefault();
    onCancel();
  }}>
    <h2 id="confirm-title">${title}</h2>
    <div class="confirm-body">${children}</div>
    <div class="confirm-buttons">
      <button type="button" class="secondary" onClick=${onCancel} disabled=${busy}>Cancel</button>
      <button type="button" class=${danger ? "danger" : "primary"} data-confirm onClick=${onConfirm} disabled=${busy}>
        ${busy ? "Working…" : confirmLabel}
      </button>
    </div>
  </dialog>`;
}
