// One job: its payload, headers, attempts, last error and trace id, each shown as text; and the
// actions its state allows (requeue, purge, cancel), previewed and confirmed.
import { useEffect, useState } from "preact/hooks";
import { loadJob } from "../api.js";
import { useActionFlow } from "../components/action-flow.js";
import { Notice } from "../components/notice.js";
import { json, time } from "../format.js";
import { html } from "../html.js";
import { follow, href } from "../router.js";
import { actionsFor } from "./jobs.js";
export function JobDetailPage({ session, state, id, consumer }) {
  const [job, setJob] = useState(null);
  const [error, setError] = useState(null);
  const [reloads, setReloads] = useState(0);
  useEffect(() => {
    loadJob(state, id, consumer).then(
      (answer) => {
        setJob(answer.job);
        setError(null);
      },
      (failure) => {
        setJob(null);
        setError(failure.message);
      },
    );
  }, [state, id, consumer, reloads]);
  const flow = useActionFlow(() => setReloads((n) => n + 1));
  const actions = session.readOnly ? [] : (actionsFor[state] ?? []);
  return html`<section class="page job" data-page="job">
    <p><a href=${`${href("jobs")}?state=${encodeURIComponent(state)}`} onClick=${follow}>← ${state} jobs</a></p>
    <${Notice} kind="error" text=${flow.error ?? (flow.message ? null : error)} onClose=${flow.error ? flow.dismiss : undefined} />
    <${Notice} kind="done" text=${flow.message} onClose=${flow.dismiss} />
    <header class="card-head">
      <h2>Job <span class="mono">${id}</span></h2>
      <span class=${`state state-${state}`}>${state}</span>
      <span class="spacer"></span>
      ${
        job
          ? actions.map(
              ({
                action,
                verb,
                danger,
              }) => html`<button type="button" class=${danger ? "danger" : "primary"} data-action=${action}
                  disabled=${flow.busy}
                  onClick=${() =>
                    flow.start({
                      action,
                      // A dead letter is this consumer's: the same id dead for another stays.
                      body: job.consumer ? { ids: [id], consumer: job.consumer } : { ids: [id] },
                      title: `${verb} job ${id}${job.consumer ? ` of ${job.consumer}` : ""}`,
                      verb,
                      danger,
                    })}>
                  ${verb}
                </button>`,
            )
          : null
      }
    </header>
    ${
      job
        ? html`<dl class="facts">
              <dt>Consumer</dt><dd>${job.consumer ?? "–"}</dd>
              <dt>Topic</dt><dd class="mono" data-field="topic">${job.topic ?? "–"}</dd>
              <dt>Key</dt><dd class="mono" data-field="key">${job.key ?? "–"}</dd>
              <dt>Attempt</dt><dd>${job.attempt ?? "–"}</dd>
              <dt>Created</dt><dd>${time(job.createdAt)}</dd>
              <dt>Runs at</dt><dd>${time(job.runAt)}</dd>
              <dt>Trace id</dt><dd class="mono" data-field="trace-id">${job.traceId ?? "–"}</dd>
            </dl>
            <h3>Payload</h3>
            <pre class="code" data-field="payload">${json(job.payload)}</pre>
            <h3>Headers</h3>
            <pre class="code" data-field="headers">${job.headers ? json(job.headers) : "–"}</pre>
            <h3>Last error</h3>
            <pre class="code error-text" data-field="last-error">${job.lastError ?? "–"}</pre>
            <h3>Attempts</h3>
            <pre class="code" data-field="attempts">${json(job.attempts)}</pre>`
        : error
          ? null
          : html`<p class="muted">Loading…</p>`
    }
    ${flow.dialog}
  </section>`;
}
