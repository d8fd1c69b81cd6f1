// Every change goes in two steps: the server previews it (`preview: true` changes nothing and
// says how many jobs it would touch), the operator confirms in a dialog, then it runs on what
// the preview selected: the confirming call carries the preview's `expect` (or `expectedHead`),
// and the server answers 409, changing nothing, when the selection changed in between.
import { useState } from "preact/hooks";
import { postAction } from "../api.js";
import { html } from "../html.js";
import { ConfirmDialog } from "./confirm-dialog.js";
export function useActionFlow(onDone) {
  const [pending, setPending] = useState(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [message, setMessage] = useState(null);
  async function start(request) {
    setError(null);
    setMessage(null);
    setBusy(true);
    try {
      const preview = await postAction(request.action, { ...request.body, preview: true });
      setPending({ ...request, preview });
    } catch (failure) {
      setError(failure.message);
    } finally {
      setBusy(false);
    }
  }
  async function confirm() {
    if (!pending) return;
    setBusy(true);
    try {
      const { preview, ...request } = pending;
      const body = { ...request.body };
      if (preview.expect) body.expect = preview.expect;
      if (preview.expectedHead) body.expectedHead = preview.expectedHead;
      const result = await postAction(request.action, body);
      setPending(null);
      setMessage(
        request.action === "move"
          ? `Moved ${String(request.body.consumer)}.`
          : `${request.verb}: ${plural(result.count, "job")} done.`,
      );
      onDone(result, request);
    } catch (failure) {
      setPending(null);
      setError(failure.message);
    } finally {
      setBusy(false);
    }
  }
  const dialog = pending
    ? html`<${ConfirmDialog}
        title=${pending.title}
        confirmLabel=${pending.action === "move" ? pending.verb : `${pending.verb} ${plural(pending.preview.count, "job")}`}
        danger=${pending.danger}
        busy=${busy}
        onConfirm=${confirm}
        onCancel=${() => setPending(null)}
      >
        <p data-preview-count=${String(pending.preview.count)}>
          ${
            pending.action === "move"
              ? "Preview checked: the consumer is stopped and the target is valid."
              : html`This will ${pending.verb.toLowerCase()} <strong>${plural(pending.preview.count, "job")}</strong>.`
          }
        </p>
        ${pending.detail ? html`<p>${pending.detail}</p>` : null}
        ${
          pending.preview.ids?.length
            ? html`<p class="muted ids">
                ${pending.preview.ids.slice(0, 20).join(", ")}${pending.preview.ids.length > 20 ? ", …" : ""}
              </p>`
            : null
        }
      <//>`
    : null;
  return {
    start,
    dialog,
    error,
    message,
    busy,
    dismiss: () => {
      setError(null);
      setMessage(null);
    },
  };
}
export function plural(count, noun) {
  const n = count ?? 0;
  return `${n.toLocaleString("en-US")} ${noun}${n === 1 ? "" : "s"}`;
}
