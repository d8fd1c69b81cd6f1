-- Safeguards for databases that are restored, copied or rearranged by an operator, and the
-- time a job was first enqueued.

ALTER TABLE {{schema}}.consumers
  -- The cluster (pg_control_system().system_identifier) and timeline a consumer's progress was
  -- recorded on. Transaction ids and WAL positions mean nothing on another cluster: a leader
  -- refuses to resume from progress recorded elsewhere (see docs/operations.md).
  ADD COLUMN system_identifier text,
  ADD COLUMN timeline          integer,
  -- Outcomes of handled jobs (a retry or a dead letter) whose write failed: kept here, with
  -- the batch's progress, until a retry writes them, so one refused write neither loses the
  -- job nor holds the other jobs back. A JSON array; NULL when there are none.
  ADD COLUMN held_outcomes     jsonb;

-- When a job was first enqueued. In immediate, NULL means created_at: a job's first delivery
-- writes nothing more; retries and promoted scheduled jobs carry their original time.
ALTER TABLE {{schema}}.immediate   ADD COLUMN enqueued_at timestamptz;
ALTER TABLE {{schema}}.failed      ADD COLUMN enqueued_at timestamptz;
ALTER TABLE {{schema}}.dead_letter ADD COLUMN enqueued_at timestamptz;

-- What operators did to consumers' positions (moveConsumer, `poutbox consumer move`): who,
-- when, from where, to where.
CREATE TABLE {{schema}}.consumer_moves (
  id        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  consumer  text        NOT NULL,
  moved_at  timestamptz NOT NULL DEFAULT now(),
  moved_by  text        NOT NULL DEFAULT current_user,
  target    text        NOT NULL,
  reason    text,
  previous  jsonb       NOT NULL,
  position  jsonb       NOT NULL
);

CREATE INDEX consumer_moves_consumer_idx ON {{schema}}.consumer_moves (consumer, moved_at);

-- Partitions of immediate that the library made carry this comment; maintenance treats any
-- other partition as attached by an operator (see docs/operations.md). Every partition there
-- is now was made by an earlier version, or by the first migration (the default partition).
DO $$
DECLARE
  part regclass;
BEGIN
  FOR part IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = '{{schema}}.immediate'::regclass LOOP
    EXECUTE format('COMMENT ON TABLE %s IS %L', part, 'poutbox partition');
  END LOOP;
END
$$;
