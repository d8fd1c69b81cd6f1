// Search results: one row per job, each user-supplied field as text, the id linking to the
// job's page; with checkboxes for bulk actions when changes are allowed.
import { time } from "../format.js";
import { html } from "../html.js";
import { follow, href } from "../router.js";
/** A row's identity: a dead letter is a job id and a consumer (one id may be dead for several). */
export const jobKey = (job) => `${job.consumer ?? ""}\u0000${job.id}`;
/** The job's page, for the consumer of the row (a failed or dead job is one consumer's). */
export function jobHref(job) {
  return `${href("jobs", job.state, job.id)}${job.consumer ? `?consumer=${encodeURIComponent(job.consumer)}` : ""}`;
}
export function JobTable({ jobs, selected, onToggle, onToggleAll }) {
  if (jobs.length === 0) return html`<p class="muted empty" data-empty>No job matches.</p>`;
  const all = selected !== null && jobs.every((job) => selected.has(jobKey(job)));
  return html`<table class="jobs data">
    <thead>
      <tr>
        ${
          selected
            ? html`<th class="check">
                <input type="checkbox" aria-label="Select all" checked=${all} onChange=${onToggleAll} />
              </th>`
            : null
        }
        <th>Id</th><th>State</th><th>Consumer</th><th>Topic</th><th>Key</th><th>Attempt</th>
        <th>Created</th><th>Runs at</th><th>Last error</th><th>Payload</th>
      </tr>
    </thead>
    <tbody>
      ${jobs.map(
        (
          job,
        ) => html`<tr key=${`${job.state}/${jobKey(job)}`} data-job-id=${job.id} data-consumer=${job.consumer ?? ""}>
          ${
            selected
              ? html`<td class="check">
                  <input type="checkbox" aria-label=${`Select job ${job.id}`} checked=${selected.has(jobKey(job))}
                    onChange=${() => onToggle(job)} />
                </td>`
              : null
          }
          <td class="mono"><a href=${jobHref(job)} onClick=${follow}>${job.id}</a></td>
          <td><span class=${`state state-${job.state}`}>${job.state}</span></td>
          <td>${job.consumer ?? "–"}</td>
          <td class="mono">${job.topic ?? "–"}</td>
          <td class="mono">${job.key ?? "–"}</td>
          <td class="num">${job.attempt ?? "–"}</td>
          <td class="nowrap">${time(job.createdAt)}</td>
          <td class="nowrap">${time(job.runAt)}</td>
          <td class="clip error-text" title=${job.lastError ?? ""}>${job.lastError ?? ""}</td>
          <td class="clip mono payload" title=${job.payloadPreview ?? ""}>${job.payloadPreview ?? ""}</td>
        </tr>`,
      )}
    </tbody>
  </table>`;
}
