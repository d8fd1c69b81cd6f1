import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import parsePrometheusTextFormat, { type PrometheusFamily } from "parse-prometheus-text-format";

/** A scrape, parsed: each family by name, each sample's value by its labels (`a=1,b=2`, sorted). */
export interface Scrape {
  readonly status: number;
  readonly contentType: string | null;
  readonly families: ReadonlyMap<string, PrometheusFamily>;
  /** The values of family `name`, by label text; undefined when the family is not served at all. */
  values(name: string): Record<string, number> | undefined;
}

/** Scrapes `url` with a real fetch and parses the body as Prometheus's text format. */
export async function scrape(url: string): Promise<Scrape> {
  const response = await fetch(url);
  const text = await response.text();
  const families = new Map(
    response.ok ? parsePrometheusTextFormat(text).map((family) => [family.name, family] as const) : [],
  );
  return {
    status: response.status,
    contentType: response.headers.get("content-type"),
    families,
    values(name) {
      const family = families.get(name);
      if (!family) return undefined;
      return Object.fromEntries(family.metrics.map((sample) => [labelText(sample.labels ?? {}), Number(sample.value)]));
    },
  };
}

export function labelText(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => `${name}=${value}`)
    .join(",");
}

/** Serves a Fetch API handler with node:http on a free port of 127.0.0.1, at every path. */
export async function serveHandler(
  handler: (request: Request) => Promise<Response>,
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer(async (request, response) => {
    const reply = await handler(new Request(`http://127.0.0.1${request.url}`, { method: request.method }));
    response.writeHead(reply.status, Object.fromEntries(reply.headers));
    response.end(Buffer.from(await reply.arrayBuffer()));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
