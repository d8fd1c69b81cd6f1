import { ReplicationSetupError } from "../core/errors.js";
import { sqlStates } from "../database/sql-state.js";

// SQLSTATEs a walsender connection or command may fail with. invalid_authorization_specification
// is a pg_hba.conf refusal (with or without SSL), an unknown role, a role that may not log in;
// too_many_connections, for walsenders, means max_wal_senders are all taken.
const {
  invalidPassword,
  invalidAuthorizationSpecification: invalidAuthorization,
  insufficientPrivilege,
  tooManyConnections,
  configurationLimitExceeded,
} = sqlStates;

/** Node's codes for a server certificate that the pool's `ssl` settings do not accept. */
const certificateCodes = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "CERT_SIGNATURE_FAILURE",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

const passwordSources =
  "the pool's password option (or password function), its connection string, PGPASSWORD or .pgpass";

/**
 * What an error of a walsender connection means for a consumer: a `ReplicationSetupError`
 * (stop, an operator must change something) when no retry can fix it, or the error itself,
 * to be retried with backoff (the server restarting, a terminated walsender, the network,
 * max_wal_senders all taken, a slot invalidated: the next term reads why from the catalog).
 *
 * Refusals of the connection itself are setup errors too: the walsender connects with the
 * pool's settings, so a password, pg_hba.conf rule or SSL requirement that refuses it will
 * refuse every retry. The message says what failed and what to change; `cause` is the error.
 */
export function replicationError(error: Error, slot?: string): Error {
  const code = (error as { code?: unknown }).code;
  const { message } = error;
  const setup = (text: string) => new ReplicationSetupError(text, { cause: error });
  switch (code) {
    case invalidPassword:
      return setup(`the replication connection was refused (${message}): check the password in ${passwordSources}`);
    case invalidAuthorization:
      return setup(
        `the replication connection was refused (${message}): check the pool's user, and that pg_hba.conf ` +
          "lets it connect to this database with these settings (a logical replication connection matches the " +
          "lines for its database, not the `replication` keyword; `hostssl` lines need `ssl` in the pool)",
      );
    case insufficientPrivilege:
      if (/wal ?sender|replication/i.test(message)) {
        return setup(`the role needs the REPLICATION attribute (ALTER ROLE ... REPLICATION): ${message}`);
      }
      return setup(`the replication connection was refused (${message}): grant the role what the message names`);
    case tooManyConnections:
      if (/max_wal_senders \(currently 0\)/.test(message)) {
        return setup(`${message}: raise max_wal_senders (and restart PostgreSQL); each replication consumer uses one`);
      }
      return error;
    case configurationLimitExceeded:
      return setup(
        `no free replication slot${slot === undefined ? "" : ` for "${slot}"`} (${message}): ` +
          "raise max_replication_slots (and restart) or drop unused slots",
      );
    // An invalidated slot (object_not_in_prerequisite_state, in the server's language) is
    // not decided here: the term ends, and the next one reads the slot's state from the
    // catalog and follows the slotLost option (see resumePoint).
  }
  if (typeof code === "string" && certificateCodes.has(code)) {
    return setup(
      `the replication connection was refused (${message}): the pool's ssl settings do not accept the ` +
        "server's certificate; give the pool the certificate authority that signed it (ssl.ca)",
    );
  }
  // Failures pg finds on the client's side, before the server could refuse anything.
  if (/password must be a (non-empty )?string/i.test(message)) {
    return setup(`the pool gives no usable password (${message}): set one in ${passwordSources}`);
  }
  if (message.startsWith("SASL:")) {
    return setup(`the SCRAM authentication failed (${message}): check the password in ${passwordSources}`);
  }
  if (message === "The server does not support SSL connections") {
    return setup(`${message}, and the pool asks for SSL: turn ssl on in the server, or off in the pool`);
  }
  return error;
}
