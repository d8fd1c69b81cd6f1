-- Idempotency keys. While the job an idempotency key names is pending, another enqueue with
-- that key returns the job's id and writes nothing; once it is no longer pending, the next
-- enqueue with the key takes the key over for a new job.
CREATE TABLE {{schema}}.idempotency_keys (
  key            text        PRIMARY KEY,
  job_id         bigint      NOT NULL,
  -- The last transaction that put the job before consumers: its enqueue, or the promoter's
  -- move of it into immediate (a scheduled job come due, a retry). The job is pending until
  -- every consumer has passed this transaction.
  transaction_id xid8        NOT NULL DEFAULT pg_current_xact_id(),
  created_at     timestamptz NOT NULL DEFAULT now()
);

-- The promoter finds the keys of the jobs it moves by job id.
CREATE INDEX idempotency_keys_job_id_idx ON {{schema}}.idempotency_keys (job_id);

-- Whether the job `job_id`, last put before consumers by the transaction `job_xid`, is pending:
-- no consumer is registered yet; or it waits in scheduled; or a consumer holds it for a retry
-- (a dead head of a key queue is not pending, the rows waiting behind it are) or holds its
-- outcome until a write of it succeeds (held_outcomes); or some consumer has not passed
-- `job_xid` (its progress snapshot does not show it done, and neither does the window in hand
-- up to its position). Progress that is no proof (never recorded, or recorded ahead of this
-- server: a restored or copied database) counts as not passed, and so does a transaction id
-- this server has not reached. PL/pgSQL, not SQL: it keeps its plans for the session, where a
-- SQL function called from enqueue is planned again at every call.
CREATE FUNCTION {{schema}}.job_pending(job_id bigint, job_xid xid8) RETURNS boolean
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  RETURN job_pending.job_xid >= pg_snapshot_xmax(pg_current_snapshot())
      OR NOT EXISTS (SELECT 1 FROM {{schema}}.consumers)
      OR EXISTS (SELECT 1 FROM {{schema}}.scheduled s WHERE s.id = job_pending.job_id)
      OR EXISTS (
           SELECT 1 FROM {{schema}}.consumers c
           JOIN {{schema}}.failed f ON f.consumer = c.name AND f.id = job_pending.job_id
           WHERE f.key_state IS DISTINCT FROM 'dead')
      OR EXISTS (
           SELECT 1 FROM {{schema}}.consumers c, jsonb_to_recordset(c.held_outcomes) AS h(id bigint)
           WHERE c.held_outcomes IS NOT NULL AND h.id = job_pending.job_id)
      OR EXISTS (
           SELECT 1 FROM {{schema}}.consumers c
           WHERE c.snapshot IS NULL
              OR pg_snapshot_xmax(c.snapshot) > pg_snapshot_xmax(pg_current_snapshot())
              OR NOT (pg_visible_in_snapshot(job_pending.job_xid, c.snapshot)
                      OR c.window_snapshot IS NOT NULL AND c.position_xid IS NOT NULL
                         AND pg_visible_in_snapshot(job_pending.job_xid, c.window_snapshot)
                         AND (job_pending.job_xid, job_pending.job_id) <= (c.position_xid, c.position_id)));
END
$$;

DROP FUNCTION {{schema}}.enqueue(json, text, json, timestamptz, boolean, text, json);

CREATE FUNCTION {{schema}}.enqueue(
  payload         json,
  topic           text        DEFAULT NULL,
  headers         json        DEFAULT NULL,
  run_at          timestamptz DEFAULT NULL,
  notify          boolean     DEFAULT false,
  key             text        DEFAULT NULL,
  retry           json        DEFAULT NULL,
  idempotency_key text        DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
  job_id   bigint;
  held_id  bigint;
  held_xid xid8;
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
  IF idempotency_key IS NOT NULL AND length(idempotency_key) NOT BETWEEN 1 AND 255 THEN
    RAISE EXCEPTION 'poutbox.enqueue: idempotency_key must be 1 to 255 characters, got %', length(idempotency_key)
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

  IF idempotency_key IS NOT NULL THEN
    -- Each statement below reads what is committed when it starts (under READ COMMITTED), and
    -- the INSERT waits for a transaction holding the same key uncommitted, so two enqueues of
    -- one key never both write. A duplicate is found by the first SELECT: it takes no lock
    -- and draws no id, so it writes nothing. The loop goes round only when another
    -- transaction changed the key's row between two statements.
    FOR attempt IN 1..20 LOOP
      SELECT k.job_id, k.transaction_id INTO held_id, held_xid
      FROM {{schema}}.idempotency_keys k WHERE k.key = enqueue.idempotency_key;
      IF held_id IS NULL THEN
        INSERT INTO {{schema}}.idempotency_keys AS k (key, job_id)
        VALUES (enqueue.idempotency_key, nextval('{{schema}}.job_id_seq'))
        ON CONFLICT ON CONSTRAINT idempotency_keys_pkey DO NOTHING
        RETURNING k.job_id INTO job_id;
      ELSIF {{schema}}.job_pending(held_id, held_xid) THEN
        RETURN held_id;
      ELSE
        UPDATE {{schema}}.idempotency_keys k
        SET job_id = nextval('{{schema}}.job_id_seq'), transaction_id = pg_current_xact_id(), created_at = now()
        WHERE k.key = enqueue.idempotency_key AND k.job_id = held_id
        RETURNING k.job_id INTO job_id;
      END IF;
      EXIT WHEN job_id IS NOT NULL;
    END LOOP;
    IF job_id IS NULL THEN
      RAISE EXCEPTION 'poutbox.enqueue: idempotency key % kept changing under concurrent enqueues; try again', idempotency_key
        USING ERRCODE = 'serialization_failure';
    END IF;
  ELSE
    job_id := nextval('{{schema}}.job_id_seq');
  END IF;

  IF run_at IS NULL THEN
    INSERT INTO {{schema}}.immediate (id, topic, payload, headers, key, retry)
    VALUES (job_id, enqueue.topic, enqueue.payload, enqueue.headers, enqueue.key, enqueue.retry);
    -- Scheduled jobs wake nobody: the promoter moves them when due, as for the Client.
    IF notify THEN
      PERFORM pg_notify('{{wake_channel}}', '');
    END IF;
  ELSE
    INSERT INTO {{schema}}.scheduled (id, topic, payload, headers, run_at, key, retry)
    VALUES (job_id, enqueue.topic, enqueue.payload, enqueue.headers, enqueue.run_at, enqueue.key, enqueue.retry);
  END IF;
  RETURN job_id;
END
$$;
