import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "../../src/testing/local-server.js";
import { waitFor } from "../support/wait-for.js";

const run = promisify(execFile);

/**
 * A broker server of the suite's own, on a free port with its data in a folder of its own, so
 * that a scenario can kill it (SIGKILL) and start it again over the same data without touching
 * the machine's brokers, which other work may be using.
 */
export interface PrivateBroker {
  readonly kind: "nats" | "rabbitmq" | "redis" | "mqtt";
  readonly port: number;
  /** Starts it and waits until it takes connections. */
  start(): Promise<void>;
  /** SIGKILL: no shutdown, whatever it had not written is gone as in a crash. */
  kill(): Promise<void>;
  /** Kills it for good and removes its data. */
  remove(): Promise<void>;
}

async function listening(port: number, what: string): Promise<void> {
  await waitFor(
    () =>
      new Promise<boolean>((resolve) => {
        const socket = createConnection({ host: "127.0.0.1", port });
        socket.once("connect", () => {
          socket.destroy();
          resolve(true);
        });
        socket.once("error", () => resolve(false));
      }),
    { timeout: 60_000, interval: 100, what: `${what} to listen on ${port}` },
  );
}

/** A broker that runs as a child process of the suite (NATS, Redis, Mosquitto). */
class ChildBroker implements PrivateBroker {
  readonly kind: "nats" | "redis" | "mqtt";
  readonly port: number;
  readonly #dir: string;
  readonly #command: (dir: string, port: number) => [string, string[]];
  #child: ChildProcess | undefined;

  constructor(
    kind: "nats" | "redis" | "mqtt",
    port: number,
    command: (dir: string, port: number) => [string, string[]],
  ) {
    this.kind = kind;
    this.port = port;
    this.#dir = mkdtempSync(join(tmpdir(), `poutbox-${kind}-`));
    this.#command = command;
  }

  async start(): Promise<void> {
    const [file, args] = this.#command(this.#dir, this.port);
    this.#child = spawn(file, args, { stdio: "ignore" });
    await listening(this.port, this.kind);
  }

  async kill(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const closed = new Promise((resolve) => child.once("close", resolve));
    child.kill("SIGKILL");
    await closed;
  }

  async remove(): Promise<void> {
    await this.kill();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/**
 * A RabbitMQ node of its own (`rabbitmq-server -detached` under a node name, ports and folders
 * of the suite's); it runs as the rabbitmq user, so its folder is theirs. About 9 s to start.
 */
class RabbitmqNode implements PrivateBroker {
  readonly kind = "rabbitmq" as const;
  readonly port: number;
  readonly #dir: string;
  readonly #node: string;
  readonly #env: NodeJS.ProcessEnv;

  constructor(port: number, distributionPort: number) {
    this.port = port;
    this.#dir = mkdtempSync(join(tmpdir(), "poutbox-rabbitmq-"));
    this.#node = `poutbox-faults-${port}@localhost`;
    writeFileSync(join(this.#dir, "enabled_plugins"), "[].\n");
    writeFileSync(join(this.#dir, "rabbitmq.conf"), `listeners.tcp.default = ${port}\n`);
    chmodSync(this.#dir, 0o755);
    this.#env = {
      ...process.env,
      RABBITMQ_NODENAME: this.#node,
      RABBITMQ_NODE_PORT: String(port),
      RABBITMQ_DIST_PORT: String(distributionPort),
      RABBITMQ_MNESIA_BASE: join(this.#dir, "mnesia"),
      RABBITMQ_LOG_BASE: join(this.#dir, "log"),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(this.#dir, "enabled_plugins"),
      RABBITMQ_CONFIG_FILE: join(this.#dir, "rabbitmq.conf"),
    };
    try {
      const { uid, gid } = rabbitmqUser();
      chownSync(this.#dir, uid, gid);
    } catch {
      // Not root, or no rabbitmq user: the node runs as we do and the folder is ours already.
    }
  }

  async start(): Promise<void> {
    await run("rabbitmq-server", ["-detached"], { env: this.#env });
    await listening(this.port, "rabbitmq");
  }

  async kill(): Promise<void> {
    const pid = await this.#pid();
    if (pid === undefined) return;
    process.kill(pid, "SIGKILL");
    await waitFor(
      () => {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          return true;
        }
      },
      { timeout: 15_000, interval: 50, what: "the RabbitMQ node to die" },
    );
  }

  async remove(): Promise<void> {
    await this.kill();
    rmSync(this.#dir, { recursive: true, force: true });
  }

  async #pid(): Promise<number | undefined> {
    try {
      const { stdout } = await run("rabbitmqctl", ["-n", this.#node, "eval", "os:getpid()."], {
        env: this.#env,
        timeout: 15_000,
      });
      const pid = Number(stdout.trim().replaceAll('"', ""));
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }
}

function rabbitmqUser(): { uid: number; gid: number } {
  const uid = Number(execFileSync("id", ["-u", "rabbitmq"]).toString().trim());
  const gid = Number(execFileSync("id", ["-g", "rabbitmq"]).toString().trim());
  return { uid, gid };
}

const started = new Map<PrivateBroker["kind"], Promise<PrivateBroker>>();

/** The suite's broker of `kind`, started on first use; `removeBrokers()` ends them all. */
export function privateBroker(kind: PrivateBroker["kind"]): Promise<PrivateBroker> {
  let broker = started.get(kind);
  if (!broker) {
    broker = (async () => {
      const port = await freePort();
      const created =
        kind === "nats"
          ? new ChildBroker("nats", port, (dir, at) => [
              "nats-server",
              ["-a", "127.0.0.1", "-p", String(at), "-js", "-sd", dir],
            ])
          : kind === "redis"
            ? new ChildBroker("redis", port, (dir, at) => [
                "redis-server",
                // Every write reaches the append-only file before Redis answers it, so a SIGKILL
                // loses nothing acknowledged. That takes `appendfsync always`: with the default
                // (everysec) Redis postpones the file write while a background fsync is still
                // running, and answers meanwhile. Once here, with the default, 8 of 2,250 jobs
                // (as many as keys, which are published one at a time) were missing after a kill.
                [
                  ...["--port", String(at), "--bind", "127.0.0.1", "--dir", dir, "--save", ""],
                  ...["--appendonly", "yes", "--appendfsync", "always"],
                ],
              ])
            : kind === "mqtt"
              ? new ChildBroker("mqtt", port, (_, at) => ["mosquitto", ["-p", String(at)]])
              : new RabbitmqNode(port, await freePort());
      await created.start();
      return created;
    })();
    started.set(kind, broker);
  }
  return broker;
}

export async function removeBrokers(): Promise<void> {
  const all = [...started.values()];
  started.clear();
  await Promise.all(all.map(async (each) => (await each.catch(() => undefined))?.remove()));
}
