import type pg from "pg";
import { ReplicationSetupError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { replicationClient } from "../database/replication-client.js";
import { ReplicationConnection } from "../replication/replication-connection.js";
import { replicationError } from "./replication-error.js";

/**
 * Opens one walsender connection the way a replication consumer will, runs IDENTIFY_SYSTEM (a
 * cheap command only a walsender answers) and closes it, so that a refusal no retry can fix (a
 * wrong or missing password, a pg_hba.conf rule, SSL the pool does not use, a role without
 * REPLICATION) fails start() at once with a `ReplicationSetupError` saying what to change.
 *
 * Anything else (the server restarting, every max_wal_senders in use by other consumers) is
 * only logged: a running consumer retries those, and a standby may not need a walsender for
 * a long time.
 */
export async function checkReplicationConnection(pool: pg.Pool, logger: Logger): Promise<void> {
  let connection: ReplicationConnection;
  try {
    connection = await ReplicationConnection.open(replicationClient(pool));
  } catch (error) {
    return refusal(error as Error, logger);
  }
  // An error event with no listener would end the process (the server may go away meanwhile).
  connection.onError(() => {});
  try {
    await connection.command("IDENTIFY_SYSTEM");
  } catch (error) {
    return refusal(error as Error, logger);
  } finally {
    await connection.close();
  }
}

function refusal(error: Error, logger: Logger): void {
  const classified = replicationError(error);
  if (classified instanceof ReplicationSetupError) throw classified;
  logger.warn?.("could not check the replication connection at start; the consumer retries when it leads", {
    err: error,
  });
}
