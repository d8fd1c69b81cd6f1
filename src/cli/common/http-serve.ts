import { once } from "node:events";
import type { Server } from "node:http";
import { InvalidArgumentError } from "commander";
import type { Logger } from "../../core/logger.js";
import { CommandError, describeError } from "./cli-errors.js";
import { type ConnectionOptions, databaseUrl, describeTarget } from "./connection.js";

// What the commands that serve HTTP until a signal (`metrics`, `dashboard`) share.

/** How long requests in hand may take to finish once the server closes. */
const closeGrace = 5_000;

/** `--port`: 0 to 65535 (0: a free one). */
export function parsePort(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value > 65_535)
    throw new InvalidArgumentError(`expected a port from 0 to 65535, got "${text}"`);
  return value;
}

/** Listens on `host:port`; an address in use or not this machine's is a CommandError. */
export async function listen(server: Server, options: { readonly port: number; readonly host: string }): Promise<void> {
  server.listen(options.port, options.host);
  try {
    await once(server, "listening");
  } catch (error) {
    throw new CommandError(
      `cannot listen on ${options.host}:${options.port}: ${(error as Error)?.message || String(error)}`,
    );
  }
}

/** Stops accepting, lets the requests in hand finish (idle keep-alive connections are closed at once), then cuts the rest. */
export async function close(server: Server): Promise<void> {
  if (!server.listening) return;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), closeGrace);
  try {
    await closed;
  } finally {
    clearTimeout(timer);
  }
}

/** Each message one line on stderr, as the CLI's errors are; an error field said in one line, without a stack. */
export function lineLogger(options: ConnectionOptions): Logger {
  const target = describeTarget(databaseUrl(options));
  const write = (message: string, fields?: Record<string, unknown>) => {
    const reason = fields?.err === undefined ? "" : `: ${describeError(fields.err, target)}`;
    process.stderr.write(`poutbox: ${message}${reason}\n`);
  };
  return { info: write, warn: write, error: write };
}
