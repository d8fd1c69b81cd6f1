// The header: the pages, the schema, whether changes are allowed and whether updates are live.
import { html } from "../html.js";
import { follow, href } from "../router.js";

const pages = [
  ["overview", "Overview"],
  ["consumers", "Consumers"],
  ["jobs", "Jobs"],
];
export function Nav({ session, page, live }) {
  return html`<header class="top">
    <span class="brand">Poutbox</span>
    <nav>
      ${pages.map(
        ([name, label]) => html`<a href=${href(name)} onClick=${follow} class=${page === name ? "active" : ""}
            aria-current=${page === name ? "page" : undefined}>${label}</a>`,
      )}
    </nav>
    <span class="spacer"></span>
    <span class="schema" title="Schema">${session.schema}</span>
    ${session.readOnly ? html`<span class="badge badge-readonly" data-read-only>read-only</span>` : null}
    <span class=${live ? "badge badge-live" : "badge badge-offline"} title="Live updates (Server-Sent Events)">
      ${live ? "live" : "offline"}
    </span>
  </header>`;
}
