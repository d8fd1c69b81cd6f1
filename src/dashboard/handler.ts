import { randomBytes } from "node:crypto";
import type pg from "pg";
import { InvalidOptionError } from "../core/errors.js";
import { asLogger, defaultLogger } from "../core/logger.js";
import { listBlockedKeys } from "../keys/blocked-keys.js";
import { resolveSchema } from "../schema/schema-name.js";
import { status } from "../status/status.js";
import { statusToJson } from "../status/status-to-json.js";
import { type ActionName, actionNames, runAction, statusOfError } from "./actions.js";
import { serveAsset, serveIndex } from "./assets.js";
import { HttpError, json, parseJobId, sameSecret, secured } from "./http.js";
import {
  consumerExists,
  describe,
  type JobState,
  jobDetail,
  jobStates,
  listJobs,
  listLimitMax,
  parseFilter,
} from "./jobs.js";
import type { DashboardHandler, DashboardOptions } from "./options.js";
import { Overview, type OverviewJson } from "./overview.js";

// The dashboard's handler (see index.ts): routing, authentication, CSRF checks, security
// headers and the JSON API. The folder of the built UI is a parameter, so that tests serve
// their own.

const cookieName = "poutbox_token";
const maxBody = 1024 * 1024;
const heartbeatInterval = 15_000;
const blockedKeysShown = 100;
/** Event streams open at once, each a connection held open: more are refused (503). */
const maxStreams = 200;
/** Bytes an event stream may hold for a client that does not read them: past that it is ended. */
const maxStreamBacklog = 1024 * 1024;

/** dashboardHandler, serving the UI from `assets` (a folder URL ending in "/"). */
export function createDashboardHandler(pool: pg.Pool, options: DashboardOptions, assets: URL): DashboardHandler {
  if (options === null || typeof options !== "object") throw new InvalidOptionError("options", "expected an object");
  const { schema, quotedSchema } = resolveSchema(options.schema);
  const readOnly = checkBoolean("readOnly", options.readOnly);
  const basePath = checkBasePath(options.basePath);
  const sampleInterval = options.sampleInterval ?? 5000;
  if (!Number.isInteger(sampleInterval) || sampleInterval < 100) {
    throw new InvalidOptionError("sampleInterval", "expected an integer number of milliseconds, at least 100");
  }
  const auth = checkAuth(options.auth);
  const allowedHosts = checkAllowedHosts(options.allowedHosts);
  const logger = asLogger(options.logger ?? defaultLogger);
  const csrfToken = randomBytes(32).toString("base64url");
  const overview = new Overview(pool, schema, quotedSchema, sampleInterval, logger);
  const streams = new Set<() => void>();
  const context = { pool, schema, quotedSchema };
  let closed = false;

  async function route(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (auth === undefined && !hostAllowed(request.headers.get("host") ?? url.host, allowedHosts)) {
      // Without authentication, a Host that is not a loopback name is a page of another site
      // whose name was pointed at this machine (DNS rebinding): refused before anything else.
      throw new HttpError(
        421,
        "refused: without auth the dashboard answers to loopback names only (localhost, 127.0.0.1, [::1]) and those of allowedHosts",
      );
    }
    let path = url.pathname;
    if (basePath !== "") {
      if (path !== basePath && !path.startsWith(`${basePath}/`)) throw new HttpError(404, "not found");
      path = path.slice(basePath.length);
    }
    if (path === "") path = "/";
    const refused = authenticate(request, url, path);
    if (refused) return refused;
    if (!closed) overview.start();
    const method = request.method.toUpperCase();

    if (path.startsWith("/api/actions/")) {
      if (method !== "POST") throw new HttpError(405, "use POST", { allow: "POST" });
      if (readOnly) throw new HttpError(403, "the dashboard is read-only: no action is allowed");
      checkCsrf(request, url);
      const name = path.slice("/api/actions/".length);
      if (!(actionNames as readonly string[]).includes(name)) {
        throw new HttpError(404, `no such action ${describe(name)}; the actions are ${actionNames.join(", ")}`);
      }
      const body = await readJson(request);
      const result = await runAction(context, name as ActionName, body);
      if (result.done) {
        logger.info?.(`dashboard: ${name} done on ${result.count} job(s)`, {
          action: name,
          count: result.count,
          ids: result.ids.slice(0, 20),
        });
      }
      return json(result);
    }
    if (method !== "GET" && method !== "HEAD") throw new HttpError(405, "use GET", { allow: "GET, HEAD" });

    if (path === "/" || path === "/index.html") return serveIndex(assets, basePath);
    if (path.startsWith("/assets/")) return serveAsset(assets, decodeName(path.slice("/assets/".length)));
    switch (path) {
      case "/api/session":
        return json({ schema, readOnly, csrfToken, basePath });
      case "/api/overview":
        return json(await overview.current());
      case "/api/events":
        return events(request);
      case "/api/jobs":
        return json(await jobs(url));
      case "/api/consumers":
        return json(await consumers());
    }
    const detail = /^\/api\/jobs\/([^/]+)\/([^/]+)$/.exec(path);
    if (detail) return jobDetailResponse(decodeName(detail[1] as string), decodeName(detail[2] as string), url);
    throw new HttpError(404, "not found");
  }

  /** undefined when the request may go on; otherwise the answer (401, or the redirect that sets the cookie). */
  function authenticate(request: Request, url: URL, path: string): Response | undefined {
    if (auth === undefined) return undefined;
    const header = request.headers.get("authorization") ?? "";
    if ("token" in auth) {
      const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
      if (bearer !== undefined && sameSecret(bearer, auth.token)) return undefined;
      const cookie = readCookie(request.headers.get("cookie"), cookieName);
      if (cookie !== undefined && sameSecret(cookie, auth.token)) return undefined;
      const given = url.searchParams.get("token");
      if (given !== null && path === "/" && request.method.toUpperCase() === "GET" && sameSecret(given, auth.token)) {
        // The token leaves the address (history, logs) at once; the cookie carries it thereafter.
        const target = new URL(url);
        target.searchParams.delete("token");
        const secure = url.protocol === "https:" || forwardedProto(request) === "https" ? "; Secure" : "";
        return new Response(null, {
          status: 303,
          headers: {
            location: `${target.pathname}${target.search}`,
            "set-cookie": `${cookieName}=${encodeURIComponent(auth.token)}; Path=${basePath || "/"}; HttpOnly; SameSite=Strict${secure}`,
            "cache-control": "no-store",
          },
        });
      }
      return json({ error: "authentication required: a bearer token" }, 401, {
        "www-authenticate": 'Bearer realm="poutbox"',
      });
    }
    const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header)?.[1];
    if (basic !== undefined) {
      const decoded = Buffer.from(basic, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (colon >= 0) {
        const user = sameSecret(decoded.slice(0, colon), auth.basic.username);
        const password = sameSecret(decoded.slice(colon + 1), auth.basic.password);
        if (user && password) return undefined;
      }
    }
    return json({ error: "authentication required" }, 401, { "www-authenticate": 'Basic realm="poutbox"' });
  }

  function checkCsrf(request: Request, url: URL): void {
    const token = request.headers.get("x-poutbox-csrf");
    if (token === null || !sameSecret(token, csrfToken)) {
      throw new HttpError(403, "missing or wrong X-Poutbox-CSRF header (its value is csrfToken of GET /api/session)");
    }
    const type = (request.headers.get("content-type") ?? "").split(";")[0]?.trim().toLowerCase();
    if (type !== "application/json") throw new HttpError(403, "actions take Content-Type: application/json");
    const origin = request.headers.get("origin");
    if (origin !== null && origin !== hostOrigin(request, url) && origin !== forwardedOrigin(request, url)) {
      throw new HttpError(403, "cross-origin request refused");
    }
    if (request.headers.get("sec-fetch-site")?.toLowerCase() === "cross-site") {
      throw new HttpError(403, "cross-site request refused");
    }
  }

  async function jobs(url: URL) {
    const known = new Set(["state", "consumer", "topic", "key", "id", "from", "to", "q", "limit", "before"]);
    const given: Record<string, unknown> = {};
    for (const name of new Set(url.searchParams.keys())) {
      if (!known.has(name))
        throw new HttpError(400, `unknown parameter ${describe(name)}; known: ${[...known].join(", ")}`);
      const values = url.searchParams.getAll(name);
      if (name === "topic") given.topic = values.filter((each) => each !== "");
      else if (values.length > 1) throw new HttpError(400, `${name}: given more than once`);
      else given[name] = values[0];
    }
    if (Array.isArray(given.topic) && given.topic.length === 0) delete given.topic;
    if (given.state === undefined) {
      throw new HttpError(400, `state: required, one of ${jobStates.join(", ")}`);
    }
    const filter = parseFilter(given, "");
    const limitText = (given.limit as string | undefined) || "50";
    const limit = Number(limitText);
    if (!/^\d+$/.test(limitText) || limit < 1 || limit > listLimitMax) {
      throw new HttpError(400, `limit: expected an integer from 1 to ${listLimitMax}, got ${describe(limitText)}`);
    }
    const beforeText = given.before as string | undefined;
    const before = beforeText ? parseJobId(beforeText) : undefined;
    if (beforeText && before === undefined) {
      throw new HttpError(400, `before: expected a job id (a positive integer), got ${describe(beforeText)}`);
    }
    await checkConsumer(filter.state, filter.consumer);
    return listJobs(pool, quotedSchema, filter, { limit, before });
  }

  async function jobDetailResponse(state: string, idText: string, url: URL): Promise<Response> {
    if (!(jobStates as readonly string[]).includes(state)) {
      throw new HttpError(404, `no such state ${describe(state)}; the states are ${jobStates.join(", ")}`);
    }
    const id = parseJobId(idText);
    if (id === undefined)
      throw new HttpError(400, `id: expected a job id (a positive integer), got ${describe(idText)}`);
    for (const name of url.searchParams.keys()) {
      if (name !== "consumer") throw new HttpError(400, `unknown parameter ${describe(name)}; known: consumer`);
    }
    const consumer = url.searchParams.get("consumer") || undefined;
    if (consumer !== undefined && consumer.length > 200) throw new HttpError(400, "consumer: at most 200 characters");
    await checkConsumer(state, consumer);
    const job = await jobDetail(pool, quotedSchema, state as JobState, id, consumer);
    if (!job)
      throw new HttpError(404, `no ${state} job ${id}${consumer === undefined ? "" : ` for consumer "${consumer}"`}`);
    return json({ job });
  }

  /** Pending for a consumer that does not exist would list every job: said instead. */
  async function checkConsumer(state: string, consumer: string | undefined): Promise<void> {
    if (state === "pending" && consumer !== undefined && !(await consumerExists(pool, quotedSchema, consumer))) {
      throw new HttpError(404, `no consumer named ${describe(consumer)} in schema "${schema}"`);
    }
  }

  async function consumers() {
    const read = statusToJson(await status(pool, { schema }));
    const list = [];
    for (const consumer of read.consumers) {
      const keys = await listBlockedKeys(pool, { schema, consumer: consumer.name, limit: blockedKeysShown });
      list.push({
        ...consumer,
        position: { snapshot: consumer.snapshot, window: consumer.window, ackedLsn: consumer.ackedLsn },
        standbys: null,
        blockedKeyCount: consumer.blockedKeys,
        blockedKeys: keys.map((key) => ({
          key: key.key,
          waiting: key.waiting,
          head: {
            id: String(key.head.id),
            state: key.head.state,
            attempts: key.head.attempts,
            lastError: key.head.lastError,
            failedAt: key.head.failedAt.toISOString(),
            nextRetryAt: key.head.nextRetryAt?.toISOString() ?? null,
          },
        })),
      });
    }
    return { at: read.at, consumers: list };
  }

  function events(request: Request): Response {
    if (closed) throw new HttpError(503, "the dashboard is closed");
    if (streams.size >= maxStreams) {
      throw new HttpError(503, `too many event streams open (${maxStreams}); close some dashboards`);
    }
    const encoder = new TextEncoder();
    let cleanup = () => {};
    const body = new ReadableStream<Uint8Array>(
      {
        start(controller) {
          let ended = false;
          const send = (text: string) => {
            if (ended) return;
            try {
              controller.enqueue(encoder.encode(text));
            } catch {
              cleanup();
              return;
            }
            if ((controller.desiredSize ?? 0) < -maxStreamBacklog) {
              // A client that reads nothing: its queue would grow for as long as it stays.
              logger.warn?.("dashboard: an event stream's client reads nothing; it is closed", {
                backlog: -(controller.desiredSize ?? 0),
              });
              cleanup();
              try {
                controller.error(new Error("the client reads nothing"));
              } catch {
                // Already closed.
              }
            }
          };
          const sendOverview = (value: OverviewJson) => send(`event: overview\ndata: ${JSON.stringify(value)}\n\n`);
          const unsubscribe = overview.subscribe(sendOverview);
          const heartbeat = setInterval(() => send(": heartbeat\n\n"), heartbeatInterval);
          heartbeat.unref();
          cleanup = () => {
            if (ended) return;
            ended = true;
            clearInterval(heartbeat);
            unsubscribe();
            streams.delete(cleanup);
            request.signal?.removeEventListener("abort", cleanup);
            try {
              controller.close();
            } catch {
              // Already closed or cancelled.
            }
          };
          streams.add(cleanup);
          request.signal?.addEventListener("abort", cleanup);
          send("retry: 5000\n\n");
          overview.current().then(sendOverview, (error: unknown) => {
            logger.warn?.("dashboard: reading the overview failed", { err: error });
            send(`event: failure\ndata: ${JSON.stringify({ error: "reading the overview failed" })}\n\n`);
          });
        },
        cancel() {
          cleanup();
        },
      },
      new ByteLengthQueuingStrategy({ highWaterMark: 16 * 1024 }),
    );
    return new Response(body, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-accel-buffering": "no",
      },
    });
  }

  const handler = async (request: Request): Promise<Response> => {
    try {
      return secured(await route(request));
    } catch (error) {
      return secured(errorResponse(error));
    }
  };

  function errorResponse(error: unknown): Response {
    if (error instanceof HttpError) return json({ error: error.message }, error.status, error.headers);
    const status = statusOfError(error);
    if (status !== undefined)
      return json({ error: (error as Error).message, code: (error as { code?: string }).code }, status);
    logger.error?.("dashboard: a request failed", { err: error });
    return json({ error: "internal error (the server's log has the reason)" }, 500);
  }

  return Object.assign(handler, {
    close() {
      closed = true;
      overview.close();
      for (const end of [...streams]) end();
    },
  });
}

/**
 * The scheme a proxy that terminates TLS says the browser used (X-Forwarded-Proto). A page of
 * another site cannot set that header on a request to this one (it is not a simple header, and
 * no CORS preflight is ever answered), so it only ever names the origin the proxy serves.
 */
function forwardedProto(request: Request): string | undefined {
  const proto = request.headers.get("x-forwarded-proto")?.split(",")[0]?.trim().toLowerCase();
  return proto === "http" || proto === "https" ? proto : undefined;
}

/** The origin of the request's Host header (what a browser's Origin names), or the URL's. */
function hostOrigin(request: Request, url: URL): string {
  const host = request.headers.get("host");
  if (host === null) return url.origin;
  try {
    return new URL(`${url.protocol}//${host}`).origin;
  } catch {
    return "null";
  }
}

/** The host name of a Host header (without its port; an IPv6 address without brackets), lower case. */
function hostName(host: string): string {
  const value = host.trim().toLowerCase();
  if (value.startsWith("[")) return value.slice(1, value.indexOf("]") < 0 ? undefined : value.indexOf("]"));
  const colon = value.lastIndexOf(":");
  return colon < 0 ? value : value.slice(0, colon);
}

function hostAllowed(host: string, allowed: readonly string[]): boolean {
  const name = hostName(host);
  if (name === "localhost" || name.endsWith(".localhost") || name === "::1") return true;
  if (name === "0:0:0:0:0:0:0:1" || /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name)) return true;
  const full = host.trim().toLowerCase();
  return allowed.some((each) => each === name || each === full);
}

function checkAllowedHosts(value: unknown): string[] {
  if (value === undefined) return [];
  if (
    !Array.isArray(value) ||
    value.some((each) => typeof each !== "string" || !/^(\[[0-9a-f:.]+\]|[a-z0-9._-]+)(:\d+)?$/i.test(each))
  ) {
    throw new InvalidOptionError(
      "allowedHosts",
      'expected host names, such as ["outbox.internal"] (a name, or name:port)',
    );
  }
  return value.map((each: string) => {
    const lower = each.toLowerCase();
    return lower.startsWith("[") && !lower.includes("]:") ? lower.slice(1, -1) : lower;
  });
}

/** The request's own origin as the browser sees it behind such a proxy, or undefined. */
function forwardedOrigin(request: Request, url: URL): string | undefined {
  const proto = forwardedProto(request);
  if (proto === undefined) return undefined;
  const defaultPort = proto === "https" ? "443" : "80";
  const port = url.port === "" || url.port === defaultPort ? "" : `:${url.port}`;
  return `${proto}://${url.hostname}${port}`;
}

async function readJson(request: Request): Promise<unknown> {
  const length = Number(request.headers.get("content-length") ?? "0");
  if (length > maxBody) throw new HttpError(413, `the body is over ${maxBody} bytes`);
  const text = await request.text();
  if (text.length > maxBody) throw new HttpError(413, `the body is over ${maxBody} bytes`);
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, "the body is not valid JSON");
  }
}

function decodeName(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new HttpError(400, "malformed path");
  }
}

function readCookie(header: string | null, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const index = part.indexOf("=");
    if (index < 0 || part.slice(0, index).trim() !== name) continue;
    try {
      return decodeURIComponent(part.slice(index + 1).trim());
    } catch {
      return undefined;
    }
  }
  return undefined;
}

function checkBoolean(name: string, value: unknown): boolean {
  if (value !== undefined && typeof value !== "boolean") throw new InvalidOptionError(name, "expected a boolean");
  return value === true;
}

function checkBasePath(value: unknown): string {
  if (value === undefined || value === "" || value === "/") return "";
  if (typeof value !== "string" || !/^(\/[\w.~-]+)+\/?$/.test(value) || /\/\.\.?(\/|$)/.test(value)) {
    throw new InvalidOptionError("basePath", 'expected a path such as "/outbox" (letters, digits, ".", "_", "~", "-")');
  }
  return value.replace(/\/$/, "");
}

type Auth = { readonly token: string } | { readonly basic: { readonly username: string; readonly password: string } };

function checkAuth(value: unknown): Auth | undefined {
  if (value === undefined) return undefined;
  const given = value as Record<string, unknown> | null;
  if (given !== null && typeof given === "object" && "token" in given) {
    if (typeof given.token !== "string" || given.token.length < 1 || /[\s;,]/.test(given.token)) {
      throw new InvalidOptionError("auth.token", "expected a non-empty string without spaces, commas or semicolons");
    }
    return { token: given.token };
  }
  const basic =
    given !== null && typeof given === "object" ? (given.basic as Record<string, unknown> | undefined) : undefined;
  if (basic !== null && typeof basic === "object") {
    if (typeof basic.username !== "string" || basic.username.length === 0 || basic.username.includes(":")) {
      throw new InvalidOptionError("auth.basic.username", "expected a non-empty string without a colon");
    }
    if (typeof basic.password !== "string" || basic.password.length === 0) {
      throw new InvalidOptionError("auth.basic.password", "expected a non-empty string");
    }
    return { basic: { username: basic.username, password: basic.password } };
  }
  throw new InvalidOptionError("auth", "expected { token } or { basic: { username, password } }");
}
