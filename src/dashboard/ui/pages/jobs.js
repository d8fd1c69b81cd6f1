// Jobs: search by state, consumer, topic, key, id, time range and payload text; page through the
// results; requeue, purge or cancel the selected jobs or every job that matches, each after a
// preview of how many it touches and a confirmation.
import { useEffect, useState } from "preact/hooks";
import { filterQuery, searchJobs } from "../api.js";
import { useActionFlow } from "../components/action-flow.js";
import { JobTable, jobKey } from "../components/job-table.js";
import { Notice } from "../components/notice.js";
import { html } from "../html.js";
import { navigate } from "../router.js";
import { jobStates } from "../types.js";

const filterFields = ["consumer", "topic", "key", "id", "from", "to", "q"];
/** The actions that apply to jobs in a state. */
export const actionsFor = {
  pending: [],
  scheduled: [{ action: "cancel", verb: "Cancel", danger: true }],
  failed: [],
  dead: [
    { action: "requeue", verb: "Requeue" },
    { action: "purge", verb: "Purge", danger: true },
  ],
};
export function filterFromQuery(query) {
  const state = query.get("state");
  const filter = { state: jobStates.includes(state) ? state : "dead" };
  for (const field of filterFields) {
    const value = query.get(field);
    if (value) filter[field] = value;
  }
  return filter;
}
export function JobsPage({ session, query, consumers }) {
  const filter = filterFromQuery(query);
  const searchKey = filterQuery(filter);
  const [jobs, setJobs] = useState(null);
  const [next, setNext] = useState(null);
  const [error, setError] = useState(null);
  const [loading, setLoading] = useState(false);
  const [selected, setSelected] = useState(new Set());
  const [reloads, setReloads] = useState(0);
  const run = async (before) => {
    if (filter.state === "pending" && !filter.consumer) {
      setJobs([]);
      setNext(null);
      setError("Pending jobs are per consumer: choose a consumer.");
      return;
    }
    setLoading(true);
    try {
      const page = await searchJobs(filter, before);
      setJobs((current) => (before && current ? [...current, ...page.jobs] : [...page.jobs]));
      setNext(page.next ?? null);
      setError(null);
    } catch (failure) {
      setError(failure.message);
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    setSelected(new Set());
    setJobs(null);
    void run();
  }, [searchKey, reloads]);
  const flow = useActionFlow(() => setReloads((n) => n + 1));
  const actions = session.readOnly ? [] : actionsFor[filter.state];
  const startBulk = (action, verb, danger, picked) => {
    const { state: _state, ...rest } = filter;
    const body = !picked
      ? { filter: { ...rest, state: filter.state } }
      : filter.state === "scheduled"
        ? { ids: picked.map((job) => job.id) }
        : { jobs: picked.map((job) => ({ consumer: job.consumer, id: job.id })) };
    const request = {
      action,
      body,
      title: picked ? `${verb} the selected ${filter.state} jobs` : `${verb} every ${filter.state} job that matches`,
      verb,
      danger,
    };
    return flow.start(request);
  };
  return html`<section class="page jobs" data-page="jobs">
    <${SearchForm} key=${searchKey} filter=${filter} consumers=${consumers} />
    <${Notice} kind="error" text=${error ?? flow.error} onClose=${flow.error ? flow.dismiss : undefined} />
    <${Notice} kind="done" text=${flow.message} onClose=${flow.dismiss} />
    ${
      actions.length > 0 && jobs && jobs.length > 0
        ? html`<div class="bulk" data-bulk>
            ${actions.map(
              ({ action, verb, danger }) => html`
                <button type="button" class=${danger ? "danger" : "primary"} data-bulk-action=${action}
                  data-scope="selected" disabled=${selected.size === 0 || flow.busy}
                  onClick=${() =>
                    startBulk(
                      action,
                      verb,
                      danger,
                      (jobs ?? []).filter((job) => selected.has(jobKey(job))),
                    )}>
                  ${verb} selected (${selected.size})
                </button>
                <button type="button" class=${danger ? "danger outline" : "secondary"} data-bulk-action=${action}
                  data-scope="all" disabled=${flow.busy} onClick=${() => startBulk(action, verb, danger, null)}>
                  ${verb} all matching…
                </button>`,
            )}
          </div>`
        : null
    }
    ${
      jobs === null
        ? html`<p class="muted">Searching…</p>`
        : html`<${JobTable}
            jobs=${jobs}
            selected=${actions.length > 0 ? selected : null}
            onToggle=${(job) =>
              setSelected((current) => {
                const copy = new Set(current);
                if (!copy.delete(jobKey(job))) copy.add(jobKey(job));
                return copy;
              })}
            onToggleAll=${() => setSelected((current) => (jobs.every((job) => current.has(jobKey(job))) ? new Set() : new Set(jobs.map(jobKey))))}
          />`
    }
    ${
      next
        ? html`<p><button type="button" class="secondary" disabled=${loading} onClick=${() => run(next)} data-more>
            ${loading ? "Loading…" : "Load more"}
          </button></p>`
        : null
    }
    ${flow.dialog}
  </section>`;
}
// Uncontrolled inputs (defaultValue): what is typed survives the re-renders of live updates; a
// new search (a new address) makes the form anew, through its key.
function SearchForm({ filter, consumers }) {
  const submit = (event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const fields = {};
    for (const [name, value] of form) {
      if (typeof value !== "string" || value.trim() === "") continue;
      fields[name] = name === "from" || name === "to" ? new Date(value).toISOString() : value.trim();
    }
    navigate(`#/jobs?${new URLSearchParams(fields).toString()}`);
  };
  const local = (iso) => (iso ? toLocalInput(iso) : "");
  return html`<form class="search" onSubmit=${submit} role="search" aria-label="Search jobs">
    <label>State
      <select name="state">
        ${jobStates.map((state) => html`<option value=${state} selected=${filter.state === state}>${state}</option>`)}
      </select>
    </label>
    <label>Consumer
      <input name="consumer" list="consumer-names" defaultValue=${filter.consumer ?? ""} autocomplete="off" />
      <datalist id="consumer-names">${consumers.map((name) => html`<option value=${name}></option>`)}</datalist>
    </label>
    <label>Topic <input name="topic" defaultValue=${filter.topic ?? ""} /></label>
    <label>Key <input name="key" defaultValue=${filter.key ?? ""} /></label>
    <label>Job id <input name="id" defaultValue=${filter.id ?? ""} inputmode="numeric" /></label>
    <label>Created from <input name="from" type="datetime-local" step="1" defaultValue=${local(filter.from)} /></label>
    <label>to <input name="to" type="datetime-local" step="1" defaultValue=${local(filter.to)} /></label>
    <label class="wide">Payload contains <input name="q" type="search" defaultValue=${filter.q ?? ""} /></label>
    <button type="submit" class="primary">Search</button>
  </form>`;
}
/** An ISO time as a datetime-local input's value, in the browser's time zone. */
function toLocalInput(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const shifted = new Date(date.getTime() - date.getTimezoneOffset() * 60_000);
  return shifted.toISOString().slice(0, 19);
}
