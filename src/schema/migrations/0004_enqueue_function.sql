-- Enqueue from SQL, in the caller's own transaction: from a trigger, a migration, a psql
-- session, or any client Poutbox has no adapter for. The same tables, id sequence and checks
-- as Client.enqueue: a job is immediate unless run_at is given (then it waits in scheduled,
-- even when run_at has passed), topic is 1-255 characters, headers is a JSON object of
-- string values, and notify wakes consumers created with `listen: true`.
--
--   SELECT {{schema}}.enqueue('{"orderId": 42}', topic => 'order.created');
--
-- The payload is json, like the tables: a jsonb value needs `::json` (or build it with
-- json_build_object / to_json). There is deliberately no jsonb overload: with one, a plain
-- string literal would match both and every untyped call would fail as ambiguous.
CREATE FUNCTION {{schema}}.enqueue(
  payload json,
  topic   text        DEFAULT NULL,
  headers json        DEFAULT NULL,
  run_at  timestamptz DEFAULT NULL,
  notify  boolean     DEFAULT false
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
  IF headers IS NOT NULL AND (
    json_typeof(headers) <> 'object'
    OR EXISTS (SELECT 1 FROM json_each(headers) AS header WHERE json_typeof(header.value) <> 'string')
  ) THEN
    RAISE EXCEPTION 'poutbox.enqueue: headers must be a JSON object of string values, got %', headers
      USING ERRCODE = 'invalid_parameter_value';
  END IF;

  IF run_at IS NULL THEN
    INSERT INTO {{schema}}.immediate (topic, payload, headers)
    VALUES (enqueue.topic, enqueue.payload, enqueue.headers)
    RETURNING id INTO job_id;
    -- Scheduled jobs wake nobody: the promoter moves them when due, as for the Client.
    IF notify THEN
      PERFORM pg_notify('{{wake_channel}}', '');
    END IF;
  ELSE
    INSERT INTO {{schema}}.scheduled (topic, payload, headers, run_at)
    VALUES (enqueue.topic, enqueue.payload, enqueue.headers, enqueue.run_at)
    RETURNING id INTO job_id;
  END IF;
  RETURN job_id;
END
$$;
