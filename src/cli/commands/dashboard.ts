import { createServer } from "node:http";
import { type AddressInfo, isIPv4, isIPv6 } from "node:net";
import { type Command, InvalidArgumentError, Option } from "commander";
import type pg from "pg";
import { type DashboardOptions, dashboardHandler } from "../../dashboard/index.js";
import { toNodeListener } from "../../dashboard/node-adapter.js";
import { status } from "../../status/status.js";
import { describeError, UsageError } from "../common/cli-errors.js";
import { type ConnectionOptions, withPool } from "../common/connection.js";
import { close, lineLogger, listen, parsePort } from "../common/http-serve.js";
import { connectionOptions } from "../common/shared-options.js";

interface DashboardCommandOptions extends ConnectionOptions {
  readonly port: number;
  readonly host: string;
  readonly readOnly?: boolean;
  readonly token?: string;
  readonly basic?: { username: string; password: string };
  readonly basePath?: string;
}

/** How long the requests in hand may hold up the exit after SIGTERM. */

export function defineDashboard(command: Command): void {
  connectionOptions(command)
    .description(
      "serve the operators' web dashboard (overview, job search, dead letters, consumers, actions) on " +
        "http://<host>:<port>/, until stopped (SIGTERM or Ctrl-C); anything but a loopback address needs --token or --basic",
    )
    .option("--port <n>", "TCP port to listen on (0: a free one, printed)", parsePort, 8080)
    .option(
      "--host <address>",
      "address to listen on; not a loopback address only with --token or --basic",
      "127.0.0.1",
    )
    .option("--read-only", "refuse every action (requeue, purge, cancel, key retry or skip, move)")
    .addOption(
      new Option(
        "--token <token>",
        "require this bearer token (browsers: open the printed address with ?token=<token> once)",
      )
        .env("POUTBOX_DASHBOARD_TOKEN")
        .conflicts("basic"),
    )
    .option("--basic <user:password>", "require HTTP Basic authentication with this user and password", parseBasic)
    .option("--base-path <path>", "serve under this path, such as /outbox (behind a proxy that keeps it)")
    .action((options: DashboardCommandOptions) => {
      const handlerOptions = checkExposure(options);
      return withPool(options, (pool) => serveDashboard(pool, options, handlerOptions));
    });
}

function parseBasic(text: string): { username: string; password: string } {
  const colon = text.indexOf(":");
  if (colon < 1 || colon === text.length - 1) {
    throw new InvalidArgumentError("expected user:password, both non-empty");
  }
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** 127.0.0.0/8, ::1 (and ::ffff:127.x.x.x) and localhost: reachable from this machine only. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  if (bare === "localhost") return true;
  if (isIPv4(bare)) return bare.startsWith("127.");
  if (isIPv6(bare)) {
    if (bare === "::1" || /^(0{1,4}:){7}0{0,3}1$/.test(bare)) return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(bare)?.[1];
    return mapped?.startsWith("127.") === true;
  }
  return false;
}

/** The host of a Host header, without its port. */
function hostName(header: string): string {
  const bracketed = /^(\[[^\]]*\])(:\d+)?$/.exec(header);
  if (bracketed) return bracketed[1] as string;
  return header.replace(/:\d+$/, "");
}

/** The handler's options; a dashboard reachable from other machines without authentication is refused (exit status 2). */
function checkExposure(options: DashboardCommandOptions): DashboardOptions {
  if (options.token !== undefined && options.basic !== undefined) {
    throw new UsageError("give --token or --basic, not both");
  }
  if (options.token !== undefined && (options.token.length === 0 || /[\s;,]/.test(options.token))) {
    throw new UsageError("--token: expected a non-empty token without spaces, commas or semicolons");
  }
  const auth = options.token !== undefined ? { token: options.token } : options.basic && { basic: options.basic };
  if (!auth && !isLoopback(options.host)) {
    throw new UsageError(
      `refusing to serve the dashboard on ${options.host} without authentication: anyone who reaches it could ` +
        "requeue, purge or move; pass --token <token> (or POUTBOX_DASHBOARD_TOKEN) or --basic <user:password>, " +
        "or listen on a loopback address (127.0.0.1, ::1, localhost)",
    );
  }
  return { schema: options.schema, readOnly: options.readOnly === true, auth, basePath: options.basePath };
}

async function serveDashboard(
  pool: pg.Pool,
  options: DashboardCommandOptions,
  handlerOptions: DashboardOptions,
): Promise<void> {
  // A wrong URL or schema is said at once, with the exit status of any other command.
  await status(pool, { schema: options.schema });
  const handler = dashboardHandler(pool, { ...handlerOptions, logger: lineLogger(options) });
  const listener = toNodeListener(handler);
  const open = handlerOptions.auth === undefined;
  const server = createServer((request, response) => {
    // Without authentication the dashboard listens on a loopback address only; a Host that is
    // not a loopback name is a page of another site whose name was pointed at this machine
    // (DNS rebinding), refused before it reaches the dashboard.
    if (open && !isLoopback(hostName(request.headers.host ?? ""))) {
      response
        .writeHead(421, { "content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff" })
        .end(
          "refused: without --token or --basic the dashboard answers to loopback names only (localhost, 127.0.0.1, [::1])\n",
        );
      return;
    }
    listener(request, response);
  });
  try {
    await listen(server, options);
    server.on("error", (error) => process.stderr.write(`poutbox: dashboard: ${describeError(error, undefined)}\n`));
    const { address, port } = server.address() as AddressInfo;
    const host = address.includes(":") ? `[${address}]` : address;
    const url = `http://${host}:${port}${handlerOptions.basePath?.replace(/\/$/, "") ?? ""}/`;
    const access = options.token !== undefined ? " (open it with ?token=<your token> once)" : "";
    process.stdout.write(`${url}\n`);
    process.stderr.write(
      `poutbox: serving the dashboard of schema "${options.schema}"${handlerOptions.readOnly ? ", read-only," : ""} ` +
        `on ${url}${access}; SIGTERM or Ctrl-C stops it\n`,
    );
    const signal = await new Promise<string>((resolve) => {
      process.once("SIGTERM", () => resolve("SIGTERM"));
      process.once("SIGINT", () => resolve("SIGINT"));
    });
    process.stderr.write(`poutbox: ${signal}: answering the requests in hand, then stopping\n`);
  } finally {
    handler.close();
    await close(server);
  }
}
