import type pg from "pg";
import { assetsFolder } from "./assets.js";
import { createDashboardHandler } from "./handler.js";
import type { DashboardHandler, DashboardOptions } from "./options.js";

// `poutbox/dashboard`: the server of the operators' web dashboard, as one Fetch API handler
// (Request in, Response out) that fits node:http (toNodeListener), Hono, Next.js route
// handlers, Express and Fastify. It serves the built UI (dist/dashboard/assets/) and a JSON
// API under basePath; everything it sends that came from the database is JSON data, never
// HTML.
//
// GET  /                          index.html (its <base href> set to basePath + "/")
// GET  /assets/<name>             the UI's files
// GET  /api/session               { schema, readOnly, csrfToken, basePath }
// GET  /api/overview              { at, status, series }
// GET  /api/events                text/event-stream: `overview` events, a heartbeat every 15 s
// GET  /api/jobs?state=...        { jobs, next }
// GET  /api/jobs/<state>/<id>     { job } (?consumer= picks a failed or dead job's consumer)
// GET  /api/consumers             { at, consumers }
// POST /api/actions/<action>      requeue, purge, cancel, retry-key, skip-key, move

export { type ActionName, type ActionResult, actionNames } from "./actions.js";
export { type JobDetailJson, type JobRowJson, type JobState, jobStates } from "./jobs.js";
export { toNodeListener } from "./node-adapter.js";
export type { DashboardHandler, DashboardOptions } from "./options.js";
export type { ConsumerSample, OverviewJson, Sample } from "./overview.js";

/**
 * The dashboard's server: serves the UI from the built assets and the JSON API under
 * `basePath`. Expose it only with `auth` (or behind a proxy that authenticates), and with
 * `readOnly` where operators should only look. `close()` stops its sampling and ends its event
 * streams.
 *
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * import { dashboardHandler, toNodeListener } from "poutbox/dashboard";
 * const dashboard = dashboardHandler(pool, { auth: { token: process.env.DASHBOARD_TOKEN! } });
 * createServer(toNodeListener(dashboard)).listen(8080, "127.0.0.1");
 * ```
 */
export function dashboardHandler(pool: pg.Pool, options: DashboardOptions = {}): DashboardHandler {
  return createDashboardHandler(pool, options, assetsFolder());
}
