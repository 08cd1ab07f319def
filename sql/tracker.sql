-- jobmon-tracker's tables: the messages it read from queue files on source hosts, and one
-- cursor per source. The cursor is updated in the same transaction as the messages and the
-- job_log/job_detail rows they lead to, which is what makes ingest exactly-once.

-- One row per configured source. (generation, last_id, last_fingerprint) is the cursor: the
-- last message stored, with a hash of its content so that a queue whose ids started again
-- (emptied, or recreated) is noticed; each such restart begins a new generation.
-- lease_owner/lease_until let several trackers share the sources: only the holder reads.
CREATE TABLE @extschema@.tracker_source (
    source text NOT NULL,
    generation bigint NOT NULL DEFAULT 1,
    last_id bigint,
    last_fingerprint bigint,
    lease_owner text,
    lease_until timestamp with time zone,
    messages_stored bigint NOT NULL DEFAULT 0,
    messages_rejected bigint NOT NULL DEFAULT 0,
    last_read_at timestamp with time zone,
    last_error text,
    last_error_at timestamp with time zone,
    CONSTRAINT tracker_source_pkey PRIMARY KEY (source),
    CONSTRAINT tracker_source_cursor_check CHECK ((last_id IS NULL) = (last_fingerprint IS NULL))
);

-- Every message read, exactly once: used ones with the run (job_log.job_id) they went to,
-- unusable ones with reject_reason set and not applied. Field values are text; when a value
-- could not be stored exactly (bytes that are not UTF-8, NUL bytes, blobs, numbers where
-- text was expected) `raw` holds the whole row as read, in `jobmon-tracker queue read` form.
CREATE TABLE @extschema@.tracker_message (
    source text NOT NULL,
    generation bigint NOT NULL,
    queue_id bigint NOT NULL,
    queued_at timestamp with time zone,
    instance text,
    job text,
    event text,
    message text,
    raw bytea,
    reject_reason text,
    job_id bigint,
    stored_at timestamp with time zone NOT NULL DEFAULT now(),
    CONSTRAINT tracker_message_pkey PRIMARY KEY (source, generation, queue_id)
);
CREATE INDEX tracker_message_rejected_idx ON @extschema@.tracker_message (stored_at)
    WHERE reject_reason IS NOT NULL;

SELECT pg_catalog.pg_extension_config_dump('@extschema@.tracker_source', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tracker_message', '');

-- Ends runs in the order given, so the job_log trigger sees successes and failures of one
-- job in the order they happened (its failure counts are "consecutive").
CREATE FUNCTION @extschema@._tracker_end_runs(
    p_job_ids bigint[],
    p_end_times timestamp with time zone[],
    p_codes integer[]
) RETURNS void
LANGUAGE plpgsql
SET search_path = @extschema@, pg_temp
AS $$
DECLARE
    v_texts text[];
BEGIN
    IF cardinality(p_job_ids) IS DISTINCT FROM cardinality(p_end_times)
       OR cardinality(p_job_ids) IS DISTINCT FROM cardinality(p_codes) THEN
        RAISE EXCEPTION 'arrays of different lengths' USING ERRCODE = '22023';
    END IF;
    SELECT array_agg(t.alert_text ORDER BY c.ord)
      INTO v_texts
      FROM unnest(p_codes) WITH ORDINALITY AS c(code, ord)
      LEFT JOIN @extschema@.job_status_text t ON t.alert_code = c.code;
    FOR i IN 1 .. coalesce(cardinality(p_job_ids), 0) LOOP
        UPDATE @extschema@.job_log
           SET end_time = p_end_times[i], status = coalesce(v_texts[i], 'CRITICAL')
         WHERE job_id = p_job_ids[i];
    END LOOP;
END
$$;
