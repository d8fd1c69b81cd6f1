-- The outbox tables. `{{schema}}` is replaced by the configured schema name, already
-- validated as a plain identifier and double-quoted by the migrator.

-- One sequence for every job id: a job keeps its id from scheduled to immediate to failed to
-- dead_letter, so two different jobs can never be confused after a retry.
CREATE SEQUENCE {{schema}}.job_id_seq AS bigint;

-- Jobs ready for delivery. Append-only: rows are never updated or deleted (no dead tuples);
-- whole partitions are dropped once every consumer has passed them.
CREATE TABLE {{schema}}.immediate (
  id             bigint      NOT NULL DEFAULT nextval('{{schema}}.job_id_seq'),
  topic          text,
  -- json, not jsonb: stored byte for byte as serialised, no re-parse into a binary form on the
  -- hot path, and any string JSON can carry (jsonb rejects \u0000) round-trips.
  payload        json        NOT NULL,
  headers        json,
  -- Deliveries already attempted (0 for a new job); a retry comes back with attempt > 0.
  attempt        integer     NOT NULL DEFAULT 0,
  -- NULL: for every consumer. Set: a retry that belongs to that consumer alone.
  consumer       text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  -- The inserting transaction: progress is tracked by snapshots of these ids.
  transaction_id xid8        NOT NULL DEFAULT pg_current_xact_id()
) PARTITION BY RANGE (created_at);

CREATE INDEX immediate_transaction_id_id_idx ON {{schema}}.immediate (transaction_id, id);

-- Catch-all partition, so an insert never fails for want of a partition (before maintenance
-- has created any, or when it runs late).
CREATE TABLE {{schema}}.immediate_default PARTITION OF {{schema}}.immediate DEFAULT;

-- Jobs to deliver at or after run_at; the promoter moves due rows into immediate.
CREATE TABLE {{schema}}.scheduled (
  id         bigint      PRIMARY KEY DEFAULT nextval('{{schema}}.job_id_seq'),
  topic      text,
  payload    json        NOT NULL,
  headers    json,
  run_at     timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX scheduled_run_at_idx ON {{schema}}.scheduled (run_at);

-- Jobs a consumer failed and will retry after next_retry_at. Consumers with different names
-- each get every job, so a failure belongs to one consumer.
CREATE TABLE {{schema}}.failed (
  id            bigint      NOT NULL,
  consumer      text        NOT NULL,
  topic         text,
  payload       json        NOT NULL,
  headers       json,
  -- Deliveries attempted so far, this failure included.
  attempt       integer     NOT NULL,
  last_error    text        NOT NULL,
  created_at    timestamptz NOT NULL,
  failed_at     timestamptz NOT NULL DEFAULT now(),
  next_retry_at timestamptz NOT NULL,
  PRIMARY KEY (consumer, id)
);

CREATE INDEX failed_next_retry_at_idx ON {{schema}}.failed (next_retry_at);

-- Jobs that used up their attempts, kept for an operator to list, requeue or purge.
CREATE TABLE {{schema}}.dead_letter (
  id         bigint      NOT NULL,
  consumer   text        NOT NULL,
  topic      text,
  payload    json        NOT NULL,
  headers    json,
  attempts   integer     NOT NULL,
  last_error text        NOT NULL,
  created_at timestamptz NOT NULL,
  failed_at  timestamptz NOT NULL,
  dead_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, id)
);

CREATE INDEX dead_letter_dead_at_idx ON {{schema}}.dead_letter (dead_at);

-- One row per consumer name: where it is and who leads it.
CREATE TABLE {{schema}}.consumers (
  name         text        PRIMARY KEY,
  mode         text        NOT NULL CHECK (mode IN ('polling', 'replication')),
  -- Progress: every job whose transaction is visible in this snapshot is done...
  snapshot     pg_snapshot,
  -- ...and so is every job of the next window up to this (transaction_id, id).
  position_xid xid8,
  position_id  bigint,
  -- Replication: the last flush position acknowledged to the server.
  acked_lsn    pg_lsn,
  -- Fencing: bumped by each new leader; progress writes check it.
  leader_epoch bigint      NOT NULL DEFAULT 0,
  leader_id    text,
  heartbeat_at timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
