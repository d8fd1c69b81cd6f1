// The dashboard: reads the session (schema, read-only, CSRF token), keeps the overview live,
// and shows the page the address's fragment names.
import { useEffect, useState } from "preact/hooks";
import { loadSession } from "./api.js";
import { Nav } from "./components/nav.js";
import { Notice } from "./components/notice.js";
import { html } from "./html.js";
import { useLiveOverview } from "./live.js";
import { ConsumersPage } from "./pages/consumers.js";
import { JobDetailPage } from "./pages/job-detail.js";
import { JobsPage } from "./pages/jobs.js";
import { OverviewPage } from "./pages/overview.js";
import { follow, useRoute } from "./router.js";
export function App() {
  const [session, setSession] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    loadSession().then(setSession, (failure) => setError(failure.message));
  }, []);
  if (error)
    return html`<main class="main"><${Notice} kind="error" text=${`Cannot open the dashboard: ${error}`} /></main>`;
  if (!session) return html`<p class="loading">Loading the dashboard…</p>`;
  return html`<${Dashboard} session=${session} />`;
}
function Dashboard({ session }) {
  const route = useRoute();
  const live = useLiveOverview();
  const [page = "overview", ...rest] = route.parts;
  const consumers = live.overview?.status.consumers.map((consumer) => consumer.name) ?? [];
  useEffect(() => {
    document.title = `${page[0]?.toUpperCase()}${page.slice(1)} · Poutbox ${session.schema}`;
  }, [page, session.schema]);
  let content;
  if (route.malformed)
    content = html`<${Notice} kind="error" text="Not found: the address is malformed." /><p data-not-found>
        <a href="#/" onClick=${follow}>Overview</a>
      </p>`;
  else if (page === "consumers") content = html`<${ConsumersPage} session=${session} tick=${live.overview?.at} />`;
  else if (page === "jobs" && rest.length >= 2)
    content = html`<${JobDetailPage}
      session=${session}
      state=${rest[0]}
      id=${rest[1]}
      consumer=${route.query.get("consumer") || undefined}
    />`;
  else if (page === "jobs")
    content = html`<${JobsPage} session=${session} query=${route.query} consumers=${consumers} />`;
  else if (live.overview) content = html`<${OverviewPage} overview=${live.overview} />`;
  else content = live.error ? null : html`<p class="muted">Loading…</p>`;
  return html`<${Nav} session=${session} page=${page} live=${live.live} />
    <main class="main">
      ${page === "overview" ? html`<${Notice} kind="error" text=${live.error} />` : null}
      ${content}
    </main>`;
}
