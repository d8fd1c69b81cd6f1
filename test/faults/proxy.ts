import { createConnection, createServer, type Server, type Socket } from "node:net";

interface Link {
  readonly client: Socket;
  readonly server: Socket;
}

/**
 * A TCP proxy in front of PostgreSQL (or a broker), so a scenario can break the network between a
 * consumer (or producer) and the server without touching either: cut every connection at
 * once, black-hole them (bytes are swallowed and sockets stay open, as across a dead
 * router: both ends see a half-open connection), or cut a connection right after the client
 * sent COMMIT, before the server's answer comes back.
 */
export class FaultProxy {
  readonly #server: Server;
  readonly #links = new Set<Link>();
  #blackholed = false;
  #cutAfterCommit = 0;
  /** Connections cut right after a COMMIT went through. */
  commitsCut = 0;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(targetPort: number, targetHost = "127.0.0.1"): Promise<FaultProxy> {
    const server = createServer();
    const proxy = new FaultProxy(server);
    server.on("connection", (client) => proxy.#accept(client, targetHost, targetPort));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return proxy;
  }

  get port(): number {
    const address = this.#server.address();
    if (!address || typeof address !== "object") throw new Error("proxy not listening");
    return address.port;
  }

  /** `url` with its host and port replaced by the proxy's. */
  url(url: string): string {
    const parsed = new URL(url);
    parsed.hostname = "127.0.0.1";
    parsed.port = String(this.port);
    return parsed.toString();
  }

  /** Connections open through the proxy. */
  get connections(): number {
    return this.#links.size;
  }

  /** Resets every connection through the proxy, both ways. */
  cut(): number {
    const count = this.#links.size;
    for (const link of this.#links) this.#close(link);
    return count;
  }

  /** From now on, bytes in either direction are dropped and nobody is told. */
  blackhole(): void {
    this.#blackholed = true;
  }

  heal(): void {
    this.#blackholed = false;
  }

  /** The next `count` connections that send a COMMIT are cut just after it is forwarded. */
  cutAfterCommit(count: number): void {
    this.#cutAfterCommit = count;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket, targetHost: string, targetPort: number): void {
    const server = createConnection({ host: targetHost, port: targetPort });
    const link = { client, server };
    this.#links.add(link);
    client.on("data", (chunk: Buffer) => {
      if (this.#blackholed) return;
      server.write(chunk);
      // A simple-protocol Query message: 'Q', length, "COMMIT\0".
      if (this.#cutAfterCommit > 0 && chunk[0] === 0x51 && chunk.includes("COMMIT")) {
        this.#cutAfterCommit--;
        this.commitsCut++;
        // Let the bytes reach the server, then drop the connection before any answer.
        server.end(() => this.#close(link));
        client.destroy();
      }
    });
    server.on("data", (chunk: Buffer) => {
      if (!this.#blackholed) client.write(chunk);
    });
    const close = () => this.#close(link);
    client.on("error", close).on("close", close);
    server.on("error", close).on("close", close);
  }

  #close(link: Link): void {
    this.#links.delete(link);
    link.client.destroy();
    link.server.destroy();
  }
}
