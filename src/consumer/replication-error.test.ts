// Which walsender errors stop a consumer and which are retried, on the errors pg raises. The
// messages are PostgreSQL's and pg's own; test/pool-config.test.ts gets the real ones.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ReplicationSetupError, SlotLostError } from "../core/errors.js";
import { replicationError } from "./replication-error.js";

function pgError(message: string, code?: string): Error {
  return Object.assign(new Error(message), code === undefined ? {} : { code });
}

describe("replicationError", () => {
  const setup: [string, Error, RegExp][] = [
    ["a wrong password", pgError('password authentication failed for user "app"', "28P01"), /check the password/],
    ["an empty password", pgError("empty password returned by client", "28P01"), /check the password/],
    [
      "a pg_hba.conf refusal",
      pgError('no pg_hba.conf entry for host "127.0.0.1", user "app", database "d", no encryption', "28000"),
      /pg_hba\.conf/,
    ],
    ["an unknown role", pgError('role "nobody" does not exist', "28000"), /check the pool's user/],
    [
      "no REPLICATION (PostgreSQL 15)",
      pgError("must be superuser or replication role to start walsender", "42501"),
      /REPLICATION attribute/,
    ],
    ["no REPLICATION (PostgreSQL 16+)", pgError("permission denied to start WAL sender", "42501"), /REPLICATION/],
    ["no CONNECT", pgError('permission denied for database "d"', "42501"), /grant the role/],
    [
      "a password function's non-string",
      new TypeError("Password must be a string"),
      /gives no usable password.*PGPASSWORD/,
    ],
    [
      "no password (SCRAM)",
      pgError("SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string"),
      /gives no usable password/,
    ],
    [
      "an empty password (SCRAM)",
      pgError("SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a non-empty string"),
      /gives no usable password/,
    ],
    [
      "a server signature that does not match",
      pgError("SASL: SCRAM-SERVER-FINAL-MESSAGE: server signature does not match"),
      /SCRAM authentication failed/,
    ],
    ["a server without SSL", pgError("The server does not support SSL connections"), /turn ssl on in the server/],
    ["an untrusted certificate", pgError("self-signed certificate", "DEPTH_ZERO_SELF_SIGNED_CERT"), /ssl\.ca/],
    [
      "max_wal_senders = 0",
      pgError("number of requested standby connections exceeds max_wal_senders (currently 0)", "53300"),
      /raise max_wal_senders/,
    ],
    ["no free slot", pgError("all replication slots are in use", "53400"), /no free replication slot for "s"/],
  ];
  for (const [what, error, message] of setup) {
    it(`stops on ${what}, saying what to change and keeping the cause`, () => {
      const classified = replicationError(error, "s");
      assert.ok(classified instanceof ReplicationSetupError, `${what}: ${classified.message}`);
      assert.equal(classified.code, "REPLICATION_SETUP");
      assert.match(classified.message, message);
      assert.ok(classified.message.includes(error.message), "the original message is in it");
      assert.equal(classified.cause, error);
    });
  }

  const transient: [string, Error][] = [
    ["a refused connection", pgError("connect ECONNREFUSED 127.0.0.1:5432", "ECONNREFUSED")],
    ["a reset connection", pgError("read ECONNRESET", "ECONNRESET")],
    ["a connection timeout", pgError("timeout expired")],
    ["a connection cut", pgError("Connection terminated unexpectedly")],
    ["a terminated walsender", pgError("terminating connection due to administrator command", "57P01")],
    ["a crash shutdown", pgError("terminating connection because of crash of another server process", "57P02")],
    ["a server starting up", pgError("the database system is starting up", "57P03")],
    [
      "every max_wal_senders in use",
      pgError("number of requested standby connections exceeds max_wal_senders (currently 10)", "53300"),
    ],
    ["too many clients", pgError("sorry, too many clients already", "53300")],
    ["a slot in use", pgError('replication slot "s" is active for PID 42', "55006")],
    ["a password function that failed", new Error("secrets service unavailable")],
  ];
  for (const [what, error] of transient) {
    it(`retries ${what}: the error as it is`, () => {
      assert.equal(replicationError(error, "s"), error);
    });
  }

  it("leaves an invalidated slot to the next term, in any language: the error as it is", () => {
    // The next term reads the slot's state from pg_replication_slots, which no lc_messages
    // translates, and follows the slotLost option; the message is never matched.
    for (const message of [
      'can no longer get changes from replication slot "s"',
      "kann keine Änderungen mehr aus Replikations-Slot »s« lesen",
    ]) {
      const error = pgError(message, "55000");
      assert.equal(replicationError(error, "s"), error);
      assert.ok(!(replicationError(error, "s") instanceof SlotLostError));
    }
  });

  it("says no free slot without a name when none is given", () => {
    assert.match(
      replicationError(pgError("all replication slots are in use", "53400")).message,
      /^no free replication slot \(/,
    );
  });
});
