// Consumers: where each one is, who leads it, its slot's retained WAL, the ordering keys it
// holds back (retry the head now, or skip it), and moving a consumer to another position.
import { useCallback, useEffect, useState } from "preact/hooks";
import { loadConsumers } from "../api.js";
import { useActionFlow } from "../components/action-flow.js";
import { ConfirmDialog } from "../components/confirm-dialog.js";
import { Notice } from "../components/notice.js";
import { bytes, count, duration, time } from "../format.js";
import { html } from "../html.js";
import { follow, href } from "../router.js";
export function ConsumersPage({ session, tick }) {
  const [consumers, setConsumers] = useState(null);
  const [error, setError] = useState(null);
  const [moving, setMoving] = useState(null);
  const reload = useCallback(() => {
    loadConsumers().then(
      (answer) => {
        setConsumers(Array.isArray(answer) ? answer : answer.consumers);
        setError(null);
      },
      (failure) => setError(failure.message),
    );
  }, []);
  useEffect(reload, [tick]);
  const flow = useActionFlow(reload);
  return html`<section class="page consumers" data-page="consumers">
    <${Notice} kind="error" text=${error ?? flow.error} onClose=${flow.error ? flow.dismiss : undefined} />
    <${Notice} kind="done" text=${flow.message} onClose=${flow.dismiss} />
    ${consumers === null && !error ? html`<p class="muted">Loading…</p>` : null}
    ${consumers?.length === 0 ? html`<p class="muted">No consumer has run on this schema yet.</p>` : null}
    ${(consumers ?? []).map(
      (consumer) => html`<${ConsumerCard}
          key=${consumer.name}
          consumer=${consumer}
          readOnly=${session.readOnly}
          flow=${flow}
          onMove=${() => setMoving(consumer.name)}
        />`,
    )}
    ${
      moving
        ? html`<${MoveDialog}
            consumer=${moving}
            onCancel=${() => setMoving(null)}
            onSubmit=${(to, reason) => {
              setMoving(null);
              flow.start({
                action: "move",
                body: { consumer: moving, to, reason },
                title: `Move consumer ${moving}`,
                verb: "Move",
                danger: true,
                detail: `${moving} will resume from ${to}${reason ? ` (reason: ${reason})` : ""}. Jobs before that position are not delivered again; jobs after it are, even if they were delivered before.`,
              });
            }}
          />`
        : null
    }
    ${flow.dialog}
  </section>`;
}
function ConsumerCard({ consumer: c, readOnly, flow, onMove }) {
  const keys = Array.isArray(c.blockedKeys) ? c.blockedKeys : [];
  return html`<article class="card consumer" data-consumer=${c.name}>
    <header class="card-head">
      <h2>${c.name}</h2>
      <span class="badge">${c.mode}</span>
      ${c.leader ? html`<span class="badge badge-live">led</span>` : html`<span class="badge badge-offline">no leader</span>`}
      <span class="spacer"></span>
      ${
        readOnly
          ? null
          : html`<button type="button" class="secondary" data-action="move" onClick=${onMove}
              disabled=${flow.busy || Boolean(c.leader)}
              title=${c.leader ? "A running consumer cannot be moved: stop it first" : "Move this consumer to another position"}>
              Move…
            </button>`
      }
    </header>
    <dl class="facts">
      <dt>Leader</dt>
      <dd>${c.leader ? `pid ${c.leader.pid}, epoch ${c.leader.epoch}${c.leader.id ? `, ${c.leader.id}` : ""}` : "none"}</dd>
      <dt>Last leader</dt><dd class="mono">${c.lastLeaderId ?? "–"}</dd>
      <dt>Heartbeat</dt><dd>${time(c.heartbeatAt)}</dd>
      <dt>Position</dt><dd class="mono">${position(c)}</dd>
      <dt>Pending</dt><dd>${count(c.pendingJobs)}</dd>
      <dt>Lag</dt><dd>${duration(c.lagMs)}${c.oldestPendingAt ? ` (oldest pending from ${time(c.oldestPendingAt)})` : ""}</dd>
      <dt>Retrying</dt><dd>${count(c.retrying)}</dd>
      <dt>Dead letters</dt>
      <dd>
        ${count(c.deadLetters)}
        ${c.deadLetters > 0 ? html` <a href=${`${href("jobs")}?state=dead&consumer=${encodeURIComponent(c.name)}`} onClick=${follow}>list</a>` : null}
      </dd>
      <dt>Held outcomes</dt><dd>${count(c.heldOutcomes)}</dd>
      ${
        c.slot
          ? html`<dt>Slot</dt>
              <dd>
                <span class="mono">${c.slot.name}</span>, ${c.slot.active ? "active" : "inactive"},
                WAL ${c.slot.walStatus ?? "–"}, retains <strong data-retained>${bytes(c.slot.retainedBytes)}</strong>
              </dd>`
          : null
      }
      <dt>Last move</dt>
      <dd>${c.lastMove ? `${time(c.lastMove.at)} to ${c.lastMove.target} by ${c.lastMove.by}${c.lastMove.reason ? `: ${c.lastMove.reason}` : ""}` : "never"}</dd>
    </dl>
    <h3>Blocked keys <span class="muted">(${count(Array.isArray(c.blockedKeys) ? keys.length : c.blockedKeys)})</span></h3>
    ${
      keys.length === 0
        ? html`<p class="muted">No ordering key is held back.</p>`
        : html`<table class="data blocked-keys">
            <thead><tr><th>Key</th><th>Head job</th><th>State</th><th>Attempts</th><th>Waiting behind</th><th>Last error</th>
              ${readOnly ? null : html`<th></th>`}</tr></thead>
            <tbody>
              ${keys.map((key) => html`<${BlockedKeyRow} key=${key.key} consumer=${c.name} blocked=${key} readOnly=${readOnly} flow=${flow} />`)}
            </tbody>
          </table>`
    }
  </article>`;
}
function BlockedKeyRow({ consumer, blocked, readOnly, flow }) {
  const head = blocked.head ?? {};
  const text = (value) => (value === null || value === undefined ? "–" : String(value));
  const act = (action) =>
    flow.start({
      action,
      body: { consumer, key: blocked.key },
      title: action === "retry-key" ? `Retry the head of key ${blocked.key}` : `Skip the head of key ${blocked.key}`,
      verb: action === "retry-key" ? "Retry" : "Skip",
      danger: action === "skip-key",
      detail:
        action === "retry-key"
          ? "The key's head job is delivered again now."
          : "The key's head job is dead-lettered and the jobs behind it go on.",
    });
  return html`<tr data-key=${blocked.key}>
    <td class="mono">${blocked.key}</td>
    <td class="mono">${text(head.id ?? blocked.id)}</td>
    <td>${text(head.state ?? blocked.state)}</td>
    <td class="num">${text(head.attempts ?? blocked.attempt)}</td>
    <td class="num">${text(blocked.waiting)}</td>
    <td class="clip error-text">${text(head.lastError ?? blocked.lastError)}</td>
    ${
      readOnly
        ? null
        : html`<td class="nowrap">
            <button type="button" class="secondary small" data-action="retry-key" onClick=${() => act("retry-key")}>Retry</button>
            <button type="button" class="danger small" data-action="skip-key" onClick=${() => act("skip-key")}>Skip</button>
          </td>`
    }
  </tr>`;
}
function position(c) {
  const at = c.position && typeof c.position === "object" ? /** @type {Record<string, any>} */ (c.position) : c;
  if (c.mode === "replication" && at.ackedLsn) return `LSN ${at.ackedLsn}`;
  if (at.window) return `snapshot ${at.window.snapshot}, at job ${at.window.jobId}`;
  return at.snapshot ? `snapshot ${at.snapshot}` : "–";
}
function MoveDialog({ consumer, onCancel, onSubmit }) {
  const [target, setTarget] = useState("now");
  const [at, setAt] = useState("");
  const [jobId, setJobId] = useState("");
  const [reason, setReason] = useState("");
  const to = target === "time" ? (at ? new Date(at).toISOString() : "") : target === "job" ? jobId.trim() : target;
  return html`<${ConfirmDialog}
    title=${`Move consumer ${consumer}`}
    confirmLabel="Preview the move"
    onCancel=${onCancel}
    onConfirm=${() => to && onSubmit(to, reason.trim())}
  >
    <form class="move-form" onSubmit=${(event) => event.preventDefault()}>
      <label><input type="radio" name="to" value="now" checked=${target === "now"} onChange=${() => setTarget("now")} />
        Now: skip every job not delivered yet</label>
      <label><input type="radio" name="to" value="oldest" checked=${target === "oldest"} onChange=${() => setTarget("oldest")} />
        Oldest: deliver again every job still in the table</label>
      <label><input type="radio" name="to" value="time" checked=${target === "time"} onChange=${() => setTarget("time")} />
        From a time: <input type="datetime-local" step="1" value=${at} onInput=${(e) => {
          setTarget("time");
          setAt(e.target.value);
        }} /></label>
      <label><input type="radio" name="to" value="job" checked=${target === "job"} onChange=${() => setTarget("job")} />
        From a job id: <input type="text" inputmode="numeric" value=${jobId} onInput=${(e) => {
          setTarget("job");
          setJobId(e.target.value);
        }} /></label>
      <label class="block">Reason (recorded with the move)
        <input type="text" name="reason" value=${reason} onInput=${(e) => setReason(e.target.value)} /></label>
    </form>
  <//>`;
}
