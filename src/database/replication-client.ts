import pg from "pg";

/**
 * Settings pinned on a walsender session, after whatever the pool's own `options` say.
 * pgoutput prints every column value with the walsender session's output functions, and a
 * role or database may carry settings of its own (`ALTER ROLE app SET DateStyle = 'SQL, DMY'`
 * turned replicated times into Invalid Dates); pg decodes text as UTF-8 only.
 */
export const pinnedReplicationSettings: Readonly<Record<string, string>> = {
  DateStyle: "ISO",
  TimeZone: "UTC",
  IntervalStyle: "postgres",
  extra_float_digits: "3",
  bytea_output: "hex",
  client_encoding: "UTF8",
};

/** What pg resolved from a client's configuration, read when it connects. */
interface ConnectionParameters {
  options?: string;
  replication?: string;
}

/**
 * A new, unconnected client made the way `pool` makes its own: with the pool's client class
 * and every option it was given, `settings` added. A spread (`{ ...pool.options }`) is not
 * enough: pg-pool keeps `password` (a string or a function) as a property that is not
 * enumerable, so a spread drops it and the copy connects with no password at all.
 */
export function clientLikePool(pool: pg.Pool, settings: pg.ClientConfig = {}): pg.Client {
  const options = (pool as { options?: object }).options ?? {};
  const config = Object.defineProperties({}, Object.getOwnPropertyDescriptors(options)) as pg.ClientConfig;
  for (const [name, value] of Object.entries(settings)) {
    Object.defineProperty(config, name, { value, enumerable: true, writable: true, configurable: true });
  }
  const Client = poolClientClass(pool);
  return new Client(config);
}

/**
 * A new, unconnected walsender client (`replication=database`) that connects exactly as the
 * pool's clients do (connection string, discrete options, password function, ssl, stream
 * factory, the PG* environment and .pgpass), with `pinnedReplicationSettings` appended to the
 * startup `options`.
 */
export function replicationClient(pool: pg.Pool): pg.Client {
  const client = clientLikePool(pool, { replication: "database", client_encoding: "UTF8" } as pg.ClientConfig);
  // pg resolves the startup parameters in its constructor: a connection string's own
  // `options` (or `replication`) override the config's, and PGOPTIONS applies when the config
  // has none. So the resolved values are what must change; getStartupConf() reads them at
  // connect.
  const parameters = (client as unknown as { connectionParameters: ConnectionParameters }).connectionParameters;
  parameters.replication = "database";
  parameters.options = withPinnedSettings(parameters.options);
  return client;
}

/**
 * `options` (the startup parameter: command-line switches for the server session) with
 * `-c name=value` for each pinned setting after it, so that ours win over the same names in
 * it. Switches are separated by spaces (a backslash escapes one); the pinned values have
 * neither.
 */
export function withPinnedSettings(options: string | undefined): string {
  const pinned = Object.entries(pinnedReplicationSettings).map(([name, value]) => `-c ${name}=${value}`);
  return [options?.trim() ? options : undefined, ...pinned].filter((part) => part !== undefined).join(" ");
}

/**
 * The class the pool makes its clients with (`pool.Client`: pg's Client, or the `Client`
 * option) when it is pg's Client or a subclass of it, since the replication code drives pg's
 * connection directly; pg's Client for anything else (pg-native, say).
 */
function poolClientClass(pool: pg.Pool): typeof pg.Client {
  const candidate = (pool as { Client?: unknown }).Client;
  if (typeof candidate === "function" && (candidate === pg.Client || candidate.prototype instanceof pg.Client)) {
    return candidate as typeof pg.Client;
  }
  return pg.Client;
}
