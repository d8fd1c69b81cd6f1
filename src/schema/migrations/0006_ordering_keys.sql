-- Ordering keys: jobs that share a key are delivered in order by consumers created with
-- `ordering: "key"`, and a failing job holds back only the later jobs of its own key. And a
-- job's own retry policy.

-- The key a job was enqueued with (1-255 characters), or NULL. Copied wherever the job goes.
ALTER TABLE {{schema}}.immediate   ADD COLUMN key text;
ALTER TABLE {{schema}}.scheduled   ADD COLUMN key text;
ALTER TABLE {{schema}}.failed      ADD COLUMN key text;
ALTER TABLE {{schema}}.dead_letter ADD COLUMN key text;

-- The job's own retry policy given at enqueue, `{"maxAttempts": n, "backoff": {...}}` with the
-- fields given, over the consumer's and its topic's; NULL: theirs. Copied wherever the job goes.
ALTER TABLE {{schema}}.immediate   ADD COLUMN retry json;
ALTER TABLE {{schema}}.scheduled   ADD COLUMN retry json;
ALTER TABLE {{schema}}.failed      ADD COLUMN retry json;
ALTER TABLE {{schema}}.dead_letter ADD COLUMN retry json;

-- For an ordered consumer, its rows in `failed` with one key form that key's queue, in
-- `queued` order; while a key has a queue, the consumer's new jobs of that key join its end
-- instead of being delivered. key_state says what each row is:
--   retry       the head, failed, delivered again at next_retry_at;
--   waiting     behind the head, not yet tried (or not since it joined), delivered once it is
--               the head;
--   delivering  the head, moved back into immediate and not yet handled;
--   dead        the head, dead-lettered: the key stays blocked until an operator requeues or
--               skips it.
-- NULL for rows outside any queue (unordered consumers, jobs without a key): those are retried
-- on their own, as before. promoted_xid is the transaction that last moved the head back into
-- immediate: a delivery of the job from that transaction is the head's; any other delivery of
-- it (a duplicate of its first row, which at-least-once delivery allows) is not.
CREATE SEQUENCE {{schema}}.key_queue_seq AS bigint;
ALTER TABLE {{schema}}.failed
  ADD COLUMN key_state    text CHECK (key_state IN ('retry', 'waiting', 'delivering', 'dead')),
  ADD COLUMN queued       bigint NOT NULL DEFAULT nextval('{{schema}}.key_queue_seq'),
  ADD COLUMN promoted_xid xid8;

CREATE INDEX failed_key_queue_idx ON {{schema}}.failed (consumer, key, queued) WHERE key_state IS NOT NULL;

-- The SQL enqueue takes a key and a retry policy too. Dropped and created again: a new parameter is a new
-- signature, and keeping both would make every call that names only the old ones ambiguous.
DROP FUNCTION {{schema}}.enqueue(json, text, json, timestamptz, boolean);

CREATE FUNCTION {{schema}}.enqueue(
  payload json,
  topic   text        DEFAULT NULL,
  headers json        DEFAULT NULL,
  run_at  timestamptz DEFAULT NULL,
  notify  boolean     DEFAULT false,
  key     text        DEFAULT NULL,
  retry   json        DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
  job_id bigint;
BEGIN
  IF payload IS NULL THEN
    RAISE EXCEPTION 'poutbox.enqueue: payload is NULL; pass ''null''::json for a JSON null'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF topic IS NOT NULL AND length(topic) NOT BETWEEN 1 AND 255 THEN
    RAISE EXCEPTION 'poutbox.enqueue: topic must be 1 to 255 characters, got %', length(topic)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF key IS NOT NULL AND length(key) NOT BETWEEN 1 AND 255 THEN
    RAISE EXCEPTION 'poutbox.enqueue: key must be 1 to 255 characters, got %', length(key)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF retry IS NOT NULL AND (
    json_typeof(retry) <> 'object'
    OR (retry -> 'maxAttempts') IS NOT NULL AND (
      json_typeof(retry -> 'maxAttempts') <> 'number' OR (retry ->> 'maxAttempts')::numeric NOT BETWEEN 1 AND 1000000
      OR (retry ->> 'maxAttempts')::numeric <> trunc((retry ->> 'maxAttempts')::numeric))
    OR (retry -> 'backoff') IS NOT NULL AND json_typeof(retry -> 'backoff') <> 'object'
  ) THEN
    RAISE EXCEPTION 'poutbox.enqueue: retry must be a JSON object such as {"maxAttempts": 10, "backoff": {"base": 1000}}, with maxAttempts an integer from 1 to 1000000, got %', retry
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF headers IS NOT NULL AND (
    json_typeof(headers) <> 'object'
    OR EXISTS (SELECT 1 FROM json_each(headers) AS header WHERE json_typeof(header.value) <> 'string')
  ) THEN
    RAISE EXCEPTION 'poutbox.enqueue: headers must be a JSON object of string values, got %', headers
      USING ERRCODE = 'invalid_parameter_value';
  END IF;

  IF run_at IS NULL THEN
    INSERT INTO {{schema}}.immediate (topic, payload, headers, key, retry)
    VALUES (enqueue.topic, enqueue.payload, enqueue.headers, enqueue.key, enqueue.retry)
    RETURNING id INTO job_id;
    -- Scheduled jobs wake nobody: the promoter moves them when due, as for the Client.
    IF notify THEN
      PERFORM pg_notify('{{wake_channel}}', '');
    END IF;
  ELSE
    INSERT INTO {{schema}}.scheduled (topic, payload, headers, run_at, key, retry)
    VALUES (enqueue.topic, enqueue.payload, enqueue.headers, enqueue.run_at, enqueue.key, enqueue.retry)
    RETURNING id INTO job_id;
  END IF;
  RETURN job_id;
END
$$;
