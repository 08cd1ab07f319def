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
    -- When a tracker first polled the source: jobs that never sent anything are judged
    -- from then on.
    created_at timestamp with time zone NOT NULL DEFAULT now(),
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

-- Ends the runs of one batch. p_job_ids: runs that were open before the batch, ended in the
-- order given with an UPDATE each, so job_log's trigger sees them as it sees any job. p_closed
-- (with each run's job name and the alert code of its status): runs the batch opened and
-- ended, which the tracker inserted already ended (no UPDATE of job_log, which costs six index
-- entries per run: the bulk of a batch); their effect on job_check_log is applied here as the
-- trigger would have left it. A job's run that was open before the batch always ends before
-- the runs the batch opened, so doing the UPDATEs first keeps each job's order.
CREATE FUNCTION @extschema@._tracker_end_runs(
    p_job_ids bigint[],
    p_end_times timestamp with time zone[],
    p_codes integer[],
    p_closed bigint[],
    p_closed_names text[],
    p_closed_codes integer[]
) RETURNS void
LANGUAGE plpgsql
SET search_path = @extschema@, pg_temp
AS $$
DECLARE
    v_texts text[];
    v_escalating text[];
    r record;
BEGIN
    IF cardinality(p_job_ids) IS DISTINCT FROM cardinality(p_end_times)
       OR cardinality(p_job_ids) IS DISTINCT FROM cardinality(p_codes)
       OR cardinality(p_closed) IS DISTINCT FROM cardinality(p_closed_names)
       OR cardinality(p_closed) IS DISTINCT FROM cardinality(p_closed_codes) THEN
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

    IF coalesce(cardinality(p_closed), 0) = 0 THEN
        RETURN;
    END IF;
    -- The trigger, run by run: a success (code 1) deletes the job's job_check_log rows, any
    -- other known code adds one. Jobs with an escalation (job_check_config.escalate) get
    -- exactly that, in order, because each insert may escalate (a step, a status change).
    -- For every other job the inserts have no side effect, so what is left of it is what it
    -- had plus all its alerts when none of its runs succeeded, else only the alerts after
    -- its last success: deleting its rows once and inserting those leaves exactly that,
    -- without a statement per run.
    SELECT coalesce(array_agg(c.job_name), '{}')
      INTO v_escalating
      FROM @extschema@.job_check_config c
     WHERE c.escalate IS NOT NULL
       AND c.job_name = ANY (p_closed_names);
    FOR r IN
        SELECT c.job_id, c.name, c.code
          FROM unnest(p_closed, p_closed_names, p_closed_codes) WITH ORDINALITY
               AS c(job_id, name, code, ord)
         WHERE c.name = ANY (v_escalating) AND c.code IS NOT NULL
         ORDER BY c.ord
    LOOP
        IF r.code = 1 THEN
            DELETE FROM @extschema@.job_check_log WHERE job_name = r.name;
        ELSE
            INSERT INTO @extschema@.job_check_log (job_id, job_name, alert_code)
            VALUES (r.job_id, r.name, r.code);
        END IF;
    END LOOP;
    DELETE FROM @extschema@.job_check_log k
     WHERE k.job_name IN (SELECT c.name
                            FROM unnest(p_closed_names, p_closed_codes) AS c(name, code)
                           WHERE c.code = 1 AND NOT c.name = ANY (v_escalating));
    INSERT INTO @extschema@.job_check_log (job_id, job_name, alert_code)
    SELECT c.job_id, c.name, c.code
      FROM unnest(p_closed, p_closed_names, p_closed_codes) WITH ORDINALITY
           AS c(job_id, name, code, ord)
      LEFT JOIN (SELECT o.name, max(o.ord) AS ord
                   FROM unnest(p_closed_names, p_closed_codes) WITH ORDINALITY
                        AS o(name, code, ord)
                  WHERE o.code = 1
                  GROUP BY o.name) ok ON ok.name = c.name
     WHERE c.code <> 1 AND NOT c.name = ANY (v_escalating)
       AND (ok.ord IS NULL OR c.ord > ok.ord)
     ORDER BY c.ord;
END
$$;

-- Adds one batch's steps to job_detail, one row per element in array order (so step ids
-- follow it). job_detail's foreign key trigger checks and locks the run once per row, which
-- is 60% of the cost of a step (measured: 1,000,000 steps of 200,000 runs take 6.4 s with
-- the trigger, 2.6 s without). Here the runs are checked and locked once each, as the
-- trigger would lock them (FOR KEY SHARE), with the constraint's error if one is missing,
-- and the rows are inserted with session_replication_role = replica, which skips the
-- per-row trigger. Setting that needs a superuser: the function runs as its owner, the
-- superuser who created the extension, so only the tracker's role may execute it (see the
-- README's grants). Triggers of your own on job_detail do not fire for tracked steps.
CREATE FUNCTION @extschema@._tracker_add_steps(
    p_job_ids bigint[],
    p_actions text[],
    p_times timestamp with time zone[],
    p_statuses text[],
    p_messages text[]
) RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = @extschema@, pg_temp
SET session_replication_role = replica
AS $$
DECLARE
    v_runs bigint[];
    v_locked bigint;
    v_missing bigint;
BEGIN
    IF cardinality(p_job_ids) IS DISTINCT FROM cardinality(p_actions)
       OR cardinality(p_job_ids) IS DISTINCT FROM cardinality(p_times)
       OR cardinality(p_job_ids) IS DISTINCT FROM cardinality(p_statuses)
       OR cardinality(p_job_ids) IS DISTINCT FROM cardinality(p_messages) THEN
        RAISE EXCEPTION 'arrays of different lengths' USING ERRCODE = '22023';
    END IF;
    SELECT array_agg(DISTINCT r) INTO v_runs FROM unnest(p_job_ids) AS r WHERE r IS NOT NULL;
    SELECT count(*) INTO v_locked
      FROM (SELECT 1 FROM @extschema@.job_log l
             WHERE l.job_id = ANY (v_runs)
               FOR KEY SHARE) AS locked;
    IF v_locked < coalesce(cardinality(v_runs), 0) THEN
        SELECT min(r) INTO v_missing
          FROM unnest(v_runs) AS r
         WHERE NOT EXISTS (SELECT 1 FROM @extschema@.job_log l WHERE l.job_id = r);
        RAISE EXCEPTION 'insert or update on table "job_detail" violates foreign key constraint "job_detail_job_id_fkey"'
              USING ERRCODE = '23503',
                    DETAIL = format('Key (job_id)=(%s) is not present in table "job_log".', v_missing);
    END IF;
    INSERT INTO @extschema@.job_detail
           (job_id, action, start_time, end_time, elapsed_time, status, message)
    SELECT s.job_id, s.action, s.at, s.at, 0, s.status, s.message
      FROM unnest(p_job_ids, p_actions, p_times, p_statuses, p_messages)
           AS s(job_id, action, at, status, message);
END
$$;
REVOKE ALL ON FUNCTION @extschema@._tracker_add_steps(
    bigint[], text[], timestamp with time zone[], text[], text[]) FROM PUBLIC;

-- Message lookups by run: the rule engine reads the messages of each tracked job's latest runs.
CREATE INDEX tracker_message_job_id_idx ON @extschema@.tracker_message (job_id, queued_at);

-- Trackers that evaluate jobs against this database, with their heartbeat. Once a tracker has
-- a row here, check_job_status() reports it CRITICAL when evaluated_at is older than
-- stale_after. Delete the row of a tracker that is retired (its jobs' states go with it).
CREATE TABLE @extschema@.tracker_instance (
    tracker text NOT NULL,
    stale_after interval NOT NULL,
    registered_at timestamp with time zone NOT NULL DEFAULT now(),
    evaluated_at timestamp with time zone NOT NULL,
    jobs integer NOT NULL DEFAULT 0,
    CONSTRAINT tracker_instance_pkey PRIMARY KEY (tracker)
);

-- The state of each tracked job (job_log name `JOB__ENV`) at its tracker's latest evaluation.
-- check_job_status() reports the ones that are not OK. marked_job_id is the job_log row that
-- was marked when the job became TIMEOUT or DELAYED (so history shows it).
CREATE TABLE @extschema@.tracker_job_state (
    job_name text NOT NULL,
    job text NOT NULL,
    env text NOT NULL,
    tracker text NOT NULL,
    state text NOT NULL,
    reason text NOT NULL,
    since timestamp with time zone NOT NULL,
    alert_text text NOT NULL,
    last_start timestamp with time zone,
    last_success timestamp with time zone,
    changed_at timestamp with time zone NOT NULL DEFAULT now(),
    marked_job_id bigint,
    CONSTRAINT tracker_job_state_pkey PRIMARY KEY (job_name),
    CONSTRAINT tracker_job_state_tracker_fkey FOREIGN KEY (tracker)
        REFERENCES @extschema@.tracker_instance (tracker) ON DELETE CASCADE,
    CONSTRAINT tracker_job_state_state_check
        CHECK (state IN ('OK', 'WARNING', 'CRITICAL', 'UNKNOWN'))
);
CREATE INDEX tracker_job_state_tracker_idx ON @extschema@.tracker_job_state (tracker);

SELECT pg_catalog.pg_extension_config_dump('@extschema@.tracker_instance', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tracker_job_state', '');

-- One evaluation of tracker p_tracker: its heartbeat, every job's state (one array element per
-- job), and a mark in job_log for each job that has just become TIMEOUT (a CRITICAL step in its
-- open run, whose status becomes TIMEOUT until the run ends, and which then ends CRITICAL
-- whatever its last message says: it broke its limit) or DELAYED (a closed run with
-- status DELAYED and a CRITICAL step saying what was missed). A job is marked once per
-- episode: the stored state is the memory, in the same transaction, so a restarted tracker
-- does not mark it again. States of jobs this tracker no longer evaluates are removed.
-- Returns how many jobs were marked.
CREATE FUNCTION @extschema@._tracker_store_states(
    p_tracker text,
    p_stale_after interval,
    p_names text[],
    p_jobs text[],
    p_envs text[],
    p_owners text[],
    p_states text[],
    p_reasons text[],
    p_since timestamp with time zone[],
    p_texts text[],
    p_last_start timestamp with time zone[],
    p_last_success timestamp with time zone[]
) RETURNS integer
LANGUAGE plpgsql
SET search_path = @extschema@, pg_temp
AS $$
DECLARE
    v_n integer := coalesce(cardinality(p_names), 0);
    v_job_id bigint;
    v_mark_names text[] := '{}';
    v_mark_ids bigint[] := '{}';
    r record;
BEGIN
    IF v_n <> coalesce(cardinality(p_jobs), 0) OR v_n <> coalesce(cardinality(p_envs), 0)
       OR v_n <> coalesce(cardinality(p_owners), 0) OR v_n <> coalesce(cardinality(p_states), 0)
       OR v_n <> coalesce(cardinality(p_reasons), 0) OR v_n <> coalesce(cardinality(p_since), 0)
       OR v_n <> coalesce(cardinality(p_texts), 0) OR v_n <> coalesce(cardinality(p_last_start), 0)
       OR v_n <> coalesce(cardinality(p_last_success), 0) THEN
        RAISE EXCEPTION 'arrays of different lengths' USING ERRCODE = '22023';
    END IF;
    -- Trackers evaluating the same jobs take turns, so a change is marked once.
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('jobmon-tracker states'));

    INSERT INTO tracker_instance AS t (tracker, stale_after, evaluated_at, jobs)
    VALUES (p_tracker, p_stale_after, now(), v_n)
    ON CONFLICT (tracker) DO UPDATE
       SET stale_after = excluded.stale_after, evaluated_at = excluded.evaluated_at,
           jobs = excluded.jobs;

    FOR r IN
        SELECT i.*
          FROM unnest(p_names, p_owners, p_reasons, p_since, p_texts)
               AS i(job_name, owner, reason, since, alert_text)
          LEFT JOIN tracker_job_state s ON s.job_name = i.job_name
         WHERE i.reason IN ('TIMEOUT', 'DELAYED')
           AND s.reason IS DISTINCT FROM i.reason
    LOOP
        v_job_id := NULL;
        IF r.reason = 'TIMEOUT' THEN
            SELECT l.job_id INTO v_job_id
              FROM job_log l
             WHERE l.job_name = r.job_name
               AND l.end_time IS NULL
               AND (r.owner IS NULL OR l.owner = r.owner)
             ORDER BY l.start_time DESC
             LIMIT 1;
            IF v_job_id IS NOT NULL THEN
                UPDATE job_log SET status = 'TIMEOUT' WHERE job_id = v_job_id;
            END IF;
        END IF;
        IF v_job_id IS NULL THEN
            -- DELAYED, or a TIMEOUT whose run is not in job_log: a closed run records it.
            INSERT INTO job_log (owner, job_name, start_time, end_time, status, pid)
            VALUES (coalesce(r.owner, p_tracker), r.job_name, r.since, r.since, r.reason, 0)
            RETURNING job_id INTO v_job_id;
        END IF;
        INSERT INTO job_detail (job_id, action, start_time, end_time, elapsed_time, status, message)
        VALUES (v_job_id, r.reason, r.since, r.since, 0, 'CRITICAL',
                r.alert_text || ' (marked by jobmon-tracker ' || p_tracker || ')');
        v_mark_names := v_mark_names || r.job_name;
        v_mark_ids := v_mark_ids || v_job_id;
    END LOOP;

    INSERT INTO tracker_job_state AS s
           (job_name, job, env, tracker, state, reason, since, alert_text, last_start,
            last_success)
    SELECT * FROM unnest(p_names, p_jobs, p_envs, array_fill(p_tracker, ARRAY[v_n]), p_states,
                         p_reasons, p_since, p_texts, p_last_start, p_last_success)
    ON CONFLICT (job_name) DO UPDATE
       SET job = excluded.job, env = excluded.env, tracker = excluded.tracker,
           state = excluded.state, reason = excluded.reason, since = excluded.since,
           alert_text = excluded.alert_text, last_start = excluded.last_start,
           last_success = excluded.last_success,
           changed_at = CASE WHEN (s.state, s.reason) IS DISTINCT FROM (excluded.state, excluded.reason)
                             THEN now() ELSE s.changed_at END
     WHERE (s.job, s.env, s.tracker, s.state, s.reason, s.since, s.alert_text, s.last_start,
            s.last_success)
           IS DISTINCT FROM
           (excluded.job, excluded.env, excluded.tracker, excluded.state, excluded.reason,
            excluded.since, excluded.alert_text, excluded.last_start, excluded.last_success);

    UPDATE tracker_job_state s
       SET marked_job_id = m.job_id
      FROM unnest(v_mark_names, v_mark_ids) AS m(job_name, job_id)
     WHERE s.job_name = m.job_name;

    DELETE FROM tracker_job_state s
     WHERE s.tracker = p_tracker
       AND s.job_name <> ALL (p_names);
    RETURN cardinality(v_mark_ids);
END
$$;

-- The rows check_job_status() adds for tracked jobs: every tracked job (code 1 when OK, so
-- the caller can leave its name out of the 1.5.0 checks) and every tracker whose heartbeat is
-- older than its bound. SECURITY DEFINER: a monitoring role needs no rights on the tracker's
-- tables, so existing 1.5.0 grants keep working.
CREATE FUNCTION @extschema@._tracker_alerts(
    OUT alert_code integer, OUT alert_status text, OUT job_name text, OUT alert_text text)
RETURNS SETOF record
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = @extschema@, pg_temp
AS $$
    SELECT CASE s.state WHEN 'OK' THEN 1 WHEN 'WARNING' THEN 2 ELSE 3 END,
           s.state, s.job_name, s.alert_text
      FROM tracker_job_state s
    UNION ALL
    SELECT 3, 'CRITICAL', 'jobmon-tracker ' || t.tracker,
           'jobmon-tracker ' || t.tracker || ' has not evaluated its ' || t.jobs
           || ' job(s) since ' || date_trunc('second', t.evaluated_at) || ' (allowed: ' || t.stale_after
           || '); the states shown for them may be out of date'
      FROM tracker_instance t
     WHERE now() - t.evaluated_at > t.stale_after
$$;

-- Deleting runs deletes their tracker messages (job_log_clear, or a DELETE of your own). A
-- trigger, not a foreign key on tracker_message.job_id: a foreign key would check and lock
-- the run for every message the tracker stores (the per-row cost _tracker_add_steps avoids
-- for job_detail), and 2.0.0 databases may hold messages of runs deleted before 2.1.0,
-- which a foreign key would refuse. Once per statement, with the deleted runs as a
-- transition table, so a batch of runs costs one index probe per run. Messages left by
-- deletes this does not see (TRUNCATE, session_replication_role = replica) are purged by
-- the tracker's retention (README: Retention). SECURITY DEFINER: whoever may delete runs
-- needs no rights on the tracker's tables.
CREATE FUNCTION @extschema@._tracker_forget_runs() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = @extschema@, pg_temp
AS $$
BEGIN
    DELETE FROM @extschema@.tracker_message m
     WHERE m.job_id = ANY (ARRAY(SELECT g.job_id FROM gone g));
    RETURN NULL;
END
$$;
CREATE TRIGGER job_log_forget_tracker_messages_trig
    AFTER DELETE ON @extschema@.job_log
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT
    EXECUTE FUNCTION @extschema@._tracker_forget_runs();
