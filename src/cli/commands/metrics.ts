import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Command } from "commander";
import type pg from "pg";
import type { MetricsHandler } from "../../metrics/prometheus.js";
import { status } from "../../status/status.js";
import { CommandError, describeError } from "../common/cli-errors.js";
import { type ConnectionOptions, withPool } from "../common/connection.js";
import { close, lineLogger, listen, parsePort } from "../common/http-serve.js";
import { connectionOptions } from "../common/shared-options.js";

interface MetricsCommandOptions extends ConnectionOptions {
  readonly port: number;
  readonly host: string;
}

/** How long a scrape still being answered may hold up the exit after SIGTERM. */

export function defineMetrics(command: Command): void {
  connectionOptions(command)
    .description(
      "serve the outbox's metrics to Prometheus on http://<host>:<port>/metrics, each scrape one read of the " +
        "status, until stopped (SIGTERM or Ctrl-C); needs the package prom-client",
    )
    .requiredOption("--port <n>", "TCP port to listen on (0: a free one, printed)", parsePort)
    .option("--host <address>", "address to listen on (0.0.0.0 or :: for every interface)", "127.0.0.1")
    .action((options: MetricsCommandOptions) => withPool(options, (pool) => serveMetrics(pool, options)));
}

async function serveMetrics(pool: pg.Pool, options: MetricsCommandOptions): Promise<void> {
  const { prometheusHandler } = await loadPrometheus();
  // A wrong URL or schema is said at once, with the exit status of any other command, rather
  // than served as empty scrapes; once serving, a database that goes away is only logged.
  await status(pool, { schema: options.schema });
  const handler = prometheusHandler(pool, { schema: options.schema, logger: lineLogger(options) });
  const server = createServer((request, response) => {
    answer(handler, request, response).catch((error: unknown) => {
      process.stderr.write(`poutbox: metrics: ${describeError(error, undefined)}\n`);
      response.destroy();
    });
  });
  await listen(server, options);
  // After it listens, a server error (out of file descriptors...) is said, not fatal.
  server.on("error", (error) => process.stderr.write(`poutbox: metrics: ${describeError(error, undefined)}\n`));
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(":") ? `[${address}]` : address;
  process.stderr.write(
    `poutbox: serving the metrics of schema "${options.schema}" on http://${host}:${port}/metrics; SIGTERM or Ctrl-C stops it\n`,
  );
  const signal = await new Promise<string>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  process.stderr.write(`poutbox: ${signal}: answering the scrapes in hand, then stopping\n`);
  await close(server);
}

/** prom-client is an optional peer dependency: said plainly when it is not installed. */
async function loadPrometheus(): Promise<typeof import("../../metrics/prometheus.js")> {
  try {
    return await import("../../metrics/prometheus.js");
  } catch (error) {
    const failure = error as { code?: string; message?: string };
    if (failure.code === "ERR_MODULE_NOT_FOUND" && /prom-client/.test(failure.message ?? "")) {
      throw new CommandError("`poutbox metrics` needs the package prom-client: npm install prom-client");
    }
    throw error;
  }
}

/** `/metrics` to the handler, anything else 404; node:http's request and response as the Fetch API's. */
async function answer(handler: MetricsHandler, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const url = new URL(request.url ?? "/", "http://metrics.invalid");
  if (url.pathname !== "/metrics") {
    response
      .writeHead(404, { "content-type": "text/plain; charset=utf-8" })
      .end("not found: the metrics are at /metrics\n");
    return;
  }
  const reply = await handler(new Request(url, { method: request.method ?? "GET" }));
  response.writeHead(reply.status, Object.fromEntries(reply.headers));
  response.end(Buffer.from(await reply.arrayBuffer()));
}
