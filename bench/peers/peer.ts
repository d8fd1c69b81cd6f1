import type pg from "pg";

export const peerNames = ["pg-boss", "graphile-worker"] as const;

export type PeerName = (typeof peerNames)[number];

/** The queue (pg-boss) or task identifier (graphile-worker) every benchmark job goes to. */
export const peerQueue = "bench";

/** What the benchmark does with another job queue, to measure it beside Poutbox. */
export interface Peer {
  readonly name: PeerName;
  /** Enqueues one job on the caller's connection, inside its transaction. */
  enqueueInTransaction(tx: pg.PoolClient, payload: object): Promise<void>;
  /** Enqueues many jobs with the peer's bulk call. */
  enqueueMany(payloads: readonly object[]): Promise<void>;
  /** Deletes every job, so the next measurement starts from an empty queue. */
  clear(): Promise<void>;
  /** Stops the peer and removes its schema. */
  close(): Promise<void>;
}
