import type pg from "pg";
import type { Queryable } from "./queryable.js";

/** The query form that `pg` Pools, Clients and PoolClients accept besides (text, values). */
export interface QueryConfigurable {
  query(config: {
    readonly text: string;
    readonly values?: unknown[];
    readonly name?: string;
    readonly types?: unknown;
  }): Promise<{ rows: unknown[] }>;
}

/**
 * A `pg` Client or PoolClient (it has connection parameters) or Pool (it makes Clients): the
 * connections that take `query({ name, text, values, types })`.
 */
export function isNodePostgres(db: Queryable): db is Queryable & QueryConfigurable {
  const candidate = db as { connectionParameters?: unknown; Client?: unknown; connect?: unknown };
  return (
    (typeof candidate.connectionParameters === "object" && candidate.connectionParameters !== null) ||
    (typeof candidate.Client === "function" && typeof candidate.connect === "function")
  );
}

/**
 * A `pg` Pool (it makes Clients and counts them): each query runs on a connection of its own,
 * outside any transaction of ours, and its callback form of connect() hands a connection over
 * in the turn that made it (see connectListening).
 */
export function isNodePostgresPool(db: unknown): db is pg.Pool {
  const candidate = db as { Client?: unknown; connect?: unknown };
  return typeof candidate.Client === "function" && typeof candidate.connect === "function" && "totalCount" in candidate;
}
