export class ApiError extends Error {
  status;
  constructor(status, message) {
    super(message);
    this.status = status;
    this.name = "ApiError";
  }
}
let csrfToken = "";
async function request(path, init = {}) {
  const response = await fetch(path, { credentials: "same-origin", ...init });
  const text = await response.text();
  let body;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    const message =
      body && typeof body === "object" && "error" in body ? String(body.error) : text || response.statusText;
    throw new ApiError(response.status, `${response.status}: ${message}`);
  }
  return body;
}
export async function loadSession() {
  const session = await request("api/session");
  csrfToken = session.csrfToken;
  return session;
}
export const loadOverview = () => request("api/overview");
export const loadConsumers = () => request("api/consumers");
/** The search's query string: the filter's non-empty fields, then the page's limit and cursor. */
export function filterQuery(filter, extra = {}) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries({ ...filter, ...extra })) {
    if (typeof value === "string" && value.trim() !== "") query.set(name, value.trim());
  }
  return query.toString();
}
export const searchJobs = (filter, before) => request(`api/jobs?${filterQuery(filter, { limit: "50", before })}`);
export const loadJob = (state, id, consumer) =>
  request(
    `api/jobs/${encodeURIComponent(state)}/${encodeURIComponent(id)}${consumer ? `?consumer=${encodeURIComponent(consumer)}` : ""}`,
  );
export function postAction(action, body) {
  return request(`api/actions/${action}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Poutbox-CSRF": csrfToken },
    body: JSON.stringify(body),
  });
}
