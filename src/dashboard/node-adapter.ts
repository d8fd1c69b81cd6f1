import type { IncomingMessage, ServerResponse } from "node:http";

// A Fetch API handler served by node:http (and Express, whose req and res are node:http's):
// the request becomes a Request (its body read up to a limit, its signal aborted when the
// client goes), the Response is written back, streamed, and its body cancelled when the
// connection closes first (an event stream ends so).

/** Bodies larger than this are answered 413 without reaching the handler. */
const maxBody = 1024 * 1024;

/**
 * `(req, res) => void` for `http.createServer()` or Express (`app.use("/outbox", ...)`: the
 * URL is read from `req.originalUrl` when Express set it, so the handler sees the full path).
 */
export function toNodeListener(
  handler: (request: Request) => Promise<Response>,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    serve(handler, req, res).catch(() => {
      if (!res.headersSent) {
        res.writeHead(500, { "content-type": "text/plain; charset=utf-8" }).end("internal error\n");
      } else {
        res.destroy();
      }
    });
  };
}

async function serve(
  handler: (request: Request) => Promise<Response>,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const aborter = new AbortController();
  res.on("close", () => {
    if (!res.writableFinished) aborter.abort();
  });
  const method = (req.method ?? "GET").toUpperCase();
  const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true;
  const host = req.headers.host ?? "localhost";
  const path = (req as { originalUrl?: string }).originalUrl ?? req.url ?? "/";
  // The URL is the scheme, the Host header and the path, each checked: a path such as
  // "//evil.example/api" resolved against a base would name another host, whose origin the
  // handler's Origin check would then compare with.
  let url: URL | undefined;
  if (path.startsWith("/") && !path.startsWith("//") && /^[\w.~:[\]%-]+$/.test(host)) {
    try {
      url = new URL(`${encrypted ? "https" : "http"}://${host}${path}`);
    } catch {
      url = undefined;
    }
  }
  if (url === undefined) {
    res.writeHead(400, { "content-type": "text/plain; charset=utf-8" }).end("bad request\n");
    return;
  }
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const each of value) headers.append(name, each);
    else headers.set(name, value);
  }
  let body: Blob | undefined;
  if (method !== "GET" && method !== "HEAD") {
    const read = await readBody(req as IncomingMessage & { body?: unknown });
    body = read && new Blob([new Uint8Array(read)]);
    if (body === undefined) {
      res.writeHead(413, { "content-type": "text/plain; charset=utf-8", connection: "close" }).end("body too large\n");
      return;
    }
  }
  const request = new Request(url, { method, headers, body, signal: aborter.signal });
  const response = await handler(request);
  const out: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    if (name !== "set-cookie") out[name] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) out["set-cookie"] = cookies;
  res.writeHead(response.status, out);
  if (!response.body || method === "HEAD") {
    await response.body?.cancel();
    res.end();
    return;
  }
  const reader = response.body.getReader();
  // A body that ends in error while the client reads nothing (an event stream that gave up on
  // it) ends the wait for "drain": the next read throws and the connection is destroyed.
  let wake: (() => void) | undefined;
  reader.closed.catch(() => wake?.());
  const stop = () => void reader.cancel().catch(() => {});
  res.on("close", stop);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!res.write(value))
        await new Promise<void>((resolve) => {
          const go = () => {
            res.off("drain", go);
            res.off("close", go);
            resolve();
          };
          res.on("drain", go);
          res.on("close", go);
          wake = go;
        });
      wake = undefined;
      if (res.destroyed) break;
    }
  } finally {
    res.off("close", stop);
    if (res.destroyed) stop();
  }
  res.end();
}

async function readBody(req: IncomingMessage & { body?: unknown }): Promise<Buffer | undefined> {
  // A body parser (express.json()) may have read the body already: its result stands for it.
  if (req.readableEnded && req.body !== undefined) {
    const body = req.body;
    const text = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === "string" ? body : JSON.stringify(body));
    return text.length > maxBody ? undefined : text;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBody) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
