-- Replication consumers. acked_lsn (from 0001) is the end of the last transaction whose every
-- job is done. A transaction can be split across handler batches; these record how far into
-- the next one the consumer got, so a restart skips what was done instead of delivering a
-- possibly huge transaction again from its first job.
ALTER TABLE {{schema}}.consumers
  ADD COLUMN partial_lsn   pg_lsn,
  ADD COLUMN partial_count integer;
