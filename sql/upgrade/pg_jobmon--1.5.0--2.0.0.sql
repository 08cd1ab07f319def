-- pg_jobmon 1.5.0 -> 2.0.0, in place: ALTER EXTENSION pg_jobmon UPDATE (one transaction).
--
-- Keeps the tables (same OIDs, every row, the sequences' positions), so views, foreign keys,
-- triggers and functions of your own that use them keep working, and keeps the grants on
-- them. Functions 2.0.0 also has are replaced in place (same OID, same grants: functions of
-- pg_partman or your own that call them by name go on working); the logging functions
-- become the Rust ones of the background connection. 1.5.0's dblink internals
-- (_autonomous_*, auth()) are dropped, and the extension no longer requires dblink (dblink
-- itself stays installed). Added: an index for check_job_status(), 2.0.0's triggers, the
-- job_alert_nagios view, the config-table variants of close/fail/cancel_job, the tracker's
-- tables and functions, and the job history in pg_dump (pg_extension_config_dump).
--
-- Locks: CREATE INDEX on job_log holds a SHARE lock while it reads job_log (logging into
-- job_log waits, reading does not); replacing the triggers (CREATE OR REPLACE TRIGGER)
-- takes SHARE ROW EXCLUSIVE on job_log, job_check_log, job_status_text and
-- dblink_mapping_jobmon; all are held until the update commits.
--
-- Frozen with release 2.0.0: a later schema change ships a script from 2.0.0 instead.

\echo Use "ALTER EXTENSION pg_jobmon UPDATE" to load this file. \quit

-- 2.0.0 uses a dblink_mapping_jobmon row for its background connection as 1.5.0 did, its
-- password included; say once that a password is kept there in plain text, never which.
DO $warn$
BEGIN
    IF EXISTS (SELECT 1 FROM @extschema@.dblink_mapping_jobmon
                WHERE pwd IS NOT NULL AND pwd <> '') THEN
        RAISE WARNING 'pg_jobmon: @extschema@.dblink_mapping_jobmon holds a password in plain text'
            USING DETAIL = 'pg_jobmon 2.0.0 still uses the row for its background connection.',
                  HINT = 'Let the background connection authenticate without a stored password '
                         '(a local peer rule in pg_hba.conf, or a .pgpass file of the server''s OS '
                         'user), then delete the row or set pwd to NULL.';
    END IF;
END
$warn$;

-- 1.5.0's dblink internals.
DROP FUNCTION @extschema@._autonomous_add_job(text, text, integer);
DROP FUNCTION @extschema@._autonomous_add_step(bigint, text);
DROP FUNCTION @extschema@._autonomous_close_job(bigint);
DROP FUNCTION @extschema@._autonomous_fail_job(bigint, integer);
DROP FUNCTION @extschema@._autonomous_update_step(bigint, text, text);
DROP FUNCTION @extschema@.auth();

-- check_job_status() probes it once per configured job (a run since the warning threshold?
-- the last start in the window?) instead of reading the whole window of job_log.
CREATE INDEX job_log_job_name_start_time_idx ON @extschema@.job_log (job_name, start_time);

-- The advisory lock serialises concurrent first inserts, which a plain count would let through
-- (each transaction would see only its own row). BEFORE ROW triggers see the rows already
-- inserted by the same statement, so a multi-row INSERT is caught as well.
CREATE OR REPLACE FUNCTION @extschema@.dblink_limit_trig() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('pg_jobmon'),
                                             pg_catalog.hashtext('dblink_mapping_jobmon'));
    IF EXISTS (SELECT 1 FROM @extschema@.dblink_mapping_jobmon) THEN
        RAISE EXCEPTION 'Only a single row may exist in this table';
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER dblink_limit_trig
    BEFORE INSERT ON @extschema@.dblink_mapping_jobmon
    FOR EACH ROW EXECUTE FUNCTION @extschema@.dblink_limit_trig();


-- A restore runs CREATE EXTENSION (which seeds codes 1-3) before loading the dumped rows. The
-- dump filter below leaves out unchanged seed rows; a seed code whose text the user changed is
-- dumped, and this trigger turns its re-insert into an update of the fresh seed row instead of a
-- duplicate-key failure that would abort loading the whole table.
CREATE OR REPLACE FUNCTION @extschema@.job_status_text_seed_trig() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NEW.alert_code IN (1, 2, 3) THEN
        UPDATE @extschema@.job_status_text
           SET alert_text = NEW.alert_text
         WHERE alert_code = NEW.alert_code;
        IF FOUND THEN
            RETURN NULL;
        END IF;
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER job_status_text_seed_trig
    BEFORE INSERT ON @extschema@.job_status_text
    FOR EACH ROW EXECUTE FUNCTION @extschema@.job_status_text_seed_trig();

-- The pre-0.3 name of job_status_text, still used by 2012-era monitoring queries.
CREATE VIEW @extschema@.job_alert_nagios (error_code, error_text) AS
    SELECT alert_code, alert_text FROM @extschema@.job_status_text;


-- Unlike 1.5.0, the job history is dumped too, and so are the sequences, so that a restored
-- database neither loses its history nor hands out job and step ids that already exist.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.job_log', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.job_log_job_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.job_detail', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.job_detail_step_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.job_check_log', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.job_check_config', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.dblink_mapping_jobmon', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.job_status_text',
    $$WHERE (alert_code, alert_text) NOT IN ((1, 'OK'), (2, 'WARNING'), (3, 'CRITICAL'))$$);

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

-- The logging functions: the Rust ones (the background connection) replace 1.5.0's.
CREATE OR REPLACE FUNCTION @extschema@._set_job_status("p_job_id" bigint, "p_status" TEXT) RETURNS void
    VOLATILE PARALLEL UNSAFE
    SET search_path TO pg_catalog, pg_temp
    LANGUAGE c
    AS 'MODULE_PATHNAME', '_set_job_status_wrapper';

CREATE OR REPLACE FUNCTION @extschema@.add_job("p_job_name" TEXT) RETURNS bigint
    VOLATILE PARALLEL UNSAFE
    SET search_path TO pg_catalog, pg_temp
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'add_job_wrapper';

CREATE OR REPLACE FUNCTION @extschema@.add_step("p_job_id" bigint, "p_action" TEXT) RETURNS bigint
    VOLATILE PARALLEL UNSAFE
    SET search_path TO pg_catalog, pg_temp
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'add_step_wrapper';

CREATE OR REPLACE FUNCTION @extschema@.close_job("p_job_id" bigint) RETURNS void
    VOLATILE PARALLEL UNSAFE
    SET search_path TO pg_catalog, pg_temp
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'close_job_wrapper';

CREATE OR REPLACE FUNCTION @extschema@.fail_job("p_job_id" bigint, "p_fail_level" INT DEFAULT 3) RETURNS void
    VOLATILE PARALLEL UNSAFE
    SET search_path TO pg_catalog, pg_temp
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'fail_job_wrapper';

CREATE OR REPLACE FUNCTION @extschema@.update_step("p_step_id" bigint, "p_status" TEXT, "p_message" TEXT) RETURNS void
    VOLATILE PARALLEL UNSAFE
    SET search_path TO pg_catalog, pg_temp
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'update_step_wrapper';

-- SQL-level logging functions built on the Rust ones (add_job, add_step, update_step, close_job,
-- fail_job, _set_job_status), whose writes commit on their own: the config-table variants of
-- close/fail/cancel, cancel_job, sql_step, sql_job and job_log_clear. Runs after the Rust functions.

/*
 * Status text for p_alert_code from a user's table of (alert_code, alert_text); the pre-0.3
 * column names (error_code, error_text), as in the job_alert_nagios view, are accepted too.
 * The name is resolved as a regclass with the caller's search_path (p_search_path), as 1.5.0
 * users wrote it; it only reaches SQL text as the regclass's own quoted output.
 */
CREATE OR REPLACE FUNCTION @extschema@._config_alert_text(p_config_table text, p_alert_code integer,
                                               p_search_path text)
    RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    v_pinned    text := current_setting('search_path');
    v_table     regclass;
    v_code_col  name;
    v_text_col  name;
    v_text      text;
BEGIN
    IF p_config_table IS NULL THEN
        RAISE EXCEPTION 'p_config_table must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;

    -- On an error the block's subtransaction also undoes the search_path switch.
    BEGIN
        PERFORM set_config('search_path', p_search_path, true);
        v_table := p_config_table::regclass;
        PERFORM set_config('search_path', v_pinned, true);
    EXCEPTION WHEN OTHERS THEN
        RAISE EXCEPTION 'config table % is not an existing table name', quote_literal(p_config_table)
            USING ERRCODE = 'undefined_table',
                  DETAIL = SQLERRM,
                  HINT = 'Pass the name (schema-qualified, or found on your search_path) of a table with columns (alert_code, alert_text), e.g. ''@extschema@.job_status_text''.';
    END;

    IF NOT EXISTS (SELECT 1 FROM pg_class c
                    WHERE c.oid = v_table AND c.relkind IN ('r', 'p', 'v', 'm', 'f')) THEN
        RAISE EXCEPTION 'config table % is not a table or view', v_table::text
            USING ERRCODE = 'wrong_object_type';
    END IF;

    SELECT p.code_col, p.text_col INTO v_code_col, v_text_col
      FROM (VALUES (1, 'alert_code'::name, 'alert_text'::name),
                   (2, 'error_code'::name, 'error_text'::name)) p (pref, code_col, text_col)
     WHERE EXISTS (SELECT 1 FROM pg_attribute a
                    WHERE a.attrelid = v_table AND a.attname = p.code_col
                      AND a.attnum > 0 AND NOT a.attisdropped)
       AND EXISTS (SELECT 1 FROM pg_attribute a
                    WHERE a.attrelid = v_table AND a.attname = p.text_col
                      AND a.attnum > 0 AND NOT a.attisdropped)
     ORDER BY p.pref
     LIMIT 1;
    IF v_code_col IS NULL THEN
        RAISE EXCEPTION 'config table % has no columns (alert_code, alert_text)', v_table::text
            USING ERRCODE = 'undefined_column';
    END IF;

    EXECUTE format('SELECT %I::text FROM %s WHERE %I = $1', v_text_col, v_table, v_code_col)
       INTO v_text
      USING p_alert_code;
    IF v_text IS NULL THEN
        RAISE EXCEPTION 'config table % has no text for alert code %', v_table::text, p_alert_code
            USING ERRCODE = 'no_data_found';
    END IF;
    RETURN v_text;
END
$$;

/*
 * The p_config_table variants are SQL wrappers without a pinned search_path so that the table
 * name is found as the caller would find it; everything they call is pinned.
 */
CREATE OR REPLACE FUNCTION @extschema@.close_job(p_job_id bigint, p_config_table text) RETURNS void
    LANGUAGE sql
    AS $$
    SELECT @extschema@._set_job_status(p_job_id,
               @extschema@._config_alert_text(p_config_table, 1, pg_catalog.current_setting('search_path')));
$$;

CREATE OR REPLACE FUNCTION @extschema@.fail_job(p_job_id bigint, p_config_table text) RETURNS void
    LANGUAGE sql
    AS $$
    SELECT @extschema@._set_job_status(p_job_id,
               @extschema@._config_alert_text(p_config_table, 3, pg_catalog.current_setting('search_path')));
$$;


/*
 * The part of cancel_job shared by both variants: interrupt the job's session and mark the job's
 * last step (or, when it has none, a new one, since 1.5.0 then recorded nothing at all).
 * Only an unfinished job's session is signalled, and only if it predates the job: otherwise the
 * pid may belong to a later job of the same session or to an unrelated, newer session.
 */
CREATE OR REPLACE FUNCTION @extschema@._cancel_job_step(p_job_id bigint, p_step_status text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    v_pid           integer;
    v_start_time    timestamptz;
    v_end_time      timestamptz;
    v_step_id       bigint;
BEGIN
    IF p_job_id IS NULL THEN
        RAISE EXCEPTION 'p_job_id must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;

    SELECT l.pid, l.start_time, l.end_time INTO v_pid, v_start_time, v_end_time
      FROM @extschema@.job_log l
     WHERE l.job_id = p_job_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'job id % does not exist in @extschema@.job_log', p_job_id
            USING ERRCODE = 'no_data_found';
    END IF;

    -- Signalling our own backend would cancel this very call.
    IF v_end_time IS NULL AND v_pid <> pg_backend_pid() AND EXISTS (
            SELECT 1 FROM pg_stat_activity a
             WHERE a.pid = v_pid
               AND (a.backend_start IS NULL OR a.backend_start <= v_start_time)) THEN
        PERFORM pg_cancel_backend(v_pid);
    END IF;

    SELECT max(d.step_id) INTO v_step_id
      FROM @extschema@.job_detail d
     WHERE d.job_id = p_job_id;
    IF v_step_id IS NULL THEN
        v_step_id := @extschema@.add_step(p_job_id, 'Cancel job');
    END IF;
    PERFORM @extschema@.update_step(v_step_id, p_step_status,
        'Manually cancelled via call to @extschema@.cancel_job() by ' || current_user);
END
$$;

CREATE OR REPLACE FUNCTION @extschema@.cancel_job(p_job_id bigint) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    v_status    text;
BEGIN
    SELECT t.alert_text INTO v_status
      FROM @extschema@.job_status_text t
     WHERE t.alert_code = 3;
    IF v_status IS NULL THEN
        RAISE EXCEPTION 'alert code 3 is missing from @extschema@.job_status_text'
            USING ERRCODE = 'no_data_found';
    END IF;

    PERFORM @extschema@._cancel_job_step(p_job_id, v_status);
    PERFORM @extschema@.fail_job(p_job_id, 3);
    RETURN true;
END
$$;

CREATE OR REPLACE FUNCTION @extschema@._cancel_job_with_status(p_job_id bigint, p_status text)
    RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    PERFORM @extschema@._cancel_job_step(p_job_id, p_status);
    PERFORM @extschema@._set_job_status(p_job_id, p_status);
    RETURN true;
END
$$;

-- The status text is resolved (as an argument) before anything is cancelled, so a bad table
-- name cancels nothing.
CREATE OR REPLACE FUNCTION @extschema@.cancel_job(p_job_id bigint, p_config_table text) RETURNS boolean
    LANGUAGE sql
    AS $$
    SELECT @extschema@._cancel_job_with_status(p_job_id,
               @extschema@._config_alert_text(p_config_table, 3, pg_catalog.current_setting('search_path')));
$$;


/*
 * sql_step / sql_job run the caller's SQL, which must resolve names as the caller would. The
 * public functions are therefore thin SQL wrappers without a pinned search_path that hand the
 * caller's search_path to a pinned internal function; that one switches to it only around the
 * EXECUTE. A failing statement is rolled back (with the exception block's subtransaction), the
 * failure is logged, and the caller gets a result instead of an error, as in 1.5.0.
 */
CREATE OR REPLACE FUNCTION @extschema@._sql_step(p_job_id bigint, p_action text, p_sql text,
                                      p_search_path text) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    v_pinned    text := current_setting('search_path');
    v_step_id   bigint;
    v_numrows   bigint;
BEGIN
    IF p_sql IS NULL THEN
        RAISE EXCEPTION 'p_sql must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;

    -- Outside the exception block: a job that does not exist is the caller's error to see.
    v_step_id := @extschema@.add_step(p_job_id, p_action);

    BEGIN
        PERFORM set_config('search_path', p_search_path, true);
        EXECUTE p_sql;
        GET DIAGNOSTICS v_numrows = ROW_COUNT;
        PERFORM set_config('search_path', v_pinned, true);
    EXCEPTION WHEN OTHERS THEN
        PERFORM set_config('search_path', v_pinned, true);
        PERFORM @extschema@.update_step(v_step_id, 'CRITICAL',
                                        'ERROR: ' || coalesce(SQLERRM, 'unknown'));
        RETURN false;
    END;

    PERFORM @extschema@.update_step(v_step_id, 'OK', 'Rows affected: ' || v_numrows);
    -- 1.5.0 closes the whole job after a successful sql_step; callers rely on it.
    PERFORM @extschema@.close_job(p_job_id);
    RETURN true;
END
$$;

CREATE OR REPLACE FUNCTION @extschema@.sql_step(p_job_id bigint, p_action text, p_sql text)
    RETURNS boolean
    LANGUAGE sql
    AS $$
    SELECT @extschema@._sql_step(p_job_id, p_action, p_sql,
                                 pg_catalog.current_setting('search_path'));
$$;

CREATE OR REPLACE FUNCTION @extschema@._sql_job(p_job_name text, p_sql text, p_search_path text)
    RETURNS text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    v_pinned    text := current_setting('search_path');
    v_job_id    bigint;
    v_step_id   bigint;
    v_numrows   bigint;
BEGIN
    IF p_sql IS NULL THEN
        RAISE EXCEPTION 'p_sql must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;

    v_job_id := @extschema@.add_job(p_job_name);

    -- Transaction-scoped, so it is released with the caller's transaction and with the block
    -- below if the statement fails; no explicit unlock path can be missed.
    IF NOT pg_try_advisory_xact_lock(hashtext('sql_log'), hashtext(p_job_name)) THEN
        -- 1.5.0 meant to log this and return, but referenced an undeclared variable and ended up
        -- in its error path. Do what it meant: the overlap is not a failure of this job.
        v_step_id := @extschema@.add_step(v_job_id,
                         'Obtaining advisory lock for job: ' || upper(p_job_name));
        PERFORM @extschema@.update_step(v_step_id, 'OK',
                                        'Found concurrent job. Exiting gracefully');
        PERFORM @extschema@.close_job(v_job_id);
        RETURN 'Concurrent job found. Obtaining advisory lock FAILED for job: ' || upper(p_job_name);
    END IF;

    BEGIN
        v_step_id := @extschema@.add_step(v_job_id, 'Running sql: ' || quote_literal(p_sql));
        PERFORM set_config('search_path', p_search_path, true);
        EXECUTE p_sql;
        GET DIAGNOSTICS v_numrows = ROW_COUNT;
        PERFORM set_config('search_path', v_pinned, true);
        PERFORM @extschema@.update_step(v_step_id, 'OK', 'Rows affected: ' || v_numrows);
        PERFORM @extschema@.close_job(v_job_id);
    EXCEPTION WHEN OTHERS THEN
        PERFORM set_config('search_path', v_pinned, true);
        IF v_step_id IS NULL THEN
            v_step_id := @extschema@.add_step(v_job_id, 'EXCEPTION before first step logged');
        END IF;
        PERFORM @extschema@.update_step(v_step_id, 'CRITICAL',
                                        'ERROR: ' || coalesce(SQLERRM, 'unknown'));
        PERFORM @extschema@.fail_job(v_job_id);
        RETURN 'Job ID ' || v_job_id || ' failed. See job_detail table for more details';
    END;

    RETURN 'Job logged with job id: ' || v_job_id;
END
$$;

CREATE OR REPLACE FUNCTION @extschema@.sql_job(p_job_name text, p_sql text) RETURNS text
    LANGUAGE sql
    AS $$
    SELECT @extschema@._sql_job(p_job_name, p_sql, pg_catalog.current_setting('search_path'));
$$;


/*
 * Deletes job_log rows (and, by cascade, their job_detail rows) that started before
 * now() - p_interval, logging the purge as a job of its own. The deletion is part of the
 * caller's transaction; only the log of it is autonomous.
 */
CREATE OR REPLACE FUNCTION @extschema@.job_log_clear(p_interval interval) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    v_boundary  timestamptz;
    v_job_id    bigint;
    v_step_id   bigint;
    v_rowcount  bigint;
BEGIN
    IF p_interval IS NULL THEN
        RAISE EXCEPTION 'p_interval must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;

    v_boundary := now() - p_interval;
    v_job_id := @extschema@.add_job('Purging pg_jobmon job logs older than ' || v_boundary);

    BEGIN
        v_step_id := @extschema@.add_step(v_job_id,
                         'Purging pg_jobmon job logs older than ' || v_boundary);

        -- Never this purge's own job: with p_interval <= 0 it would qualify, and deleting it
        -- here would leave the background session waiting on our row lock to log the result.
        DELETE FROM @extschema@.job_log
         WHERE start_time <= v_boundary
           AND job_id <> v_job_id;
        GET DIAGNOSTICS v_rowcount = ROW_COUNT;

        IF v_rowcount > 0 THEN
            RAISE NOTICE 'Deleted % rows from job_log and associated rows in job_detail', v_rowcount;
            PERFORM @extschema@.update_step(v_step_id, 'OK',
                'Deleted ' || v_rowcount || ' rows from job_log and associated rows in job_detail');
        ELSE
            RAISE NOTICE 'No jobs logged older than %', v_boundary;
            PERFORM @extschema@.update_step(v_step_id, 'OK',
                'No jobs logged older than ' || v_boundary);
        END IF;
        PERFORM @extschema@.close_job(v_job_id);
    EXCEPTION WHEN OTHERS THEN
        IF v_step_id IS NULL THEN
            v_step_id := @extschema@.add_step(v_job_id, 'EXCEPTION before first step logged');
        END IF;
        PERFORM @extschema@.update_step(v_step_id, 'CRITICAL',
                                        'ERROR: ' || coalesce(SQLERRM, 'unknown'));
        PERFORM @extschema@.fail_job(v_job_id);
        RAISE;
    END;
END
$$;

-- Monitoring: the triggers that turn job outcomes into job_check_log rows (with escalation),
-- check_job_status() for Nagios/Checkmk, and the show_* helpers. Runs last at CREATE EXTENSION.
-- Read-only parts use no temp tables, so they also work on a hot standby.

-- The alert bookkeeping of both triggers runs with the extension owner's rights
-- (SECURITY DEFINER): callers need rights on job_log and job_detail only, as with 1.5.0,
-- whose triggers ran as its dblink user.

-- Fires only when the status actually changes, so re-closing or re-failing a job does not
-- count its single run twice.
CREATE OR REPLACE FUNCTION @extschema@.job_monitor() RETURNS trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    v_alert_code    integer;
BEGIN
    -- min(): with custom codes sharing a text, the lower code decides (so 1 keeps meaning success).
    SELECT min(t.alert_code) INTO v_alert_code
      FROM @extschema@.job_status_text t
     WHERE t.alert_text = NEW.status;

    IF v_alert_code = 1 THEN
        DELETE FROM @extschema@.job_check_log WHERE job_name = NEW.job_name;
    ELSIF v_alert_code IS NOT NULL THEN
        INSERT INTO @extschema@.job_check_log (job_id, job_name, alert_code)
        VALUES (NEW.job_id, NEW.job_name, v_alert_code);
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER trg_job_monitor
    AFTER UPDATE ON @extschema@.job_log
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION @extschema@.job_monitor();


-- Escalation (job_check_config.escalate): once a job has alerted `escalate` times at its current
-- highest level, the new alert goes one level up, to at most the highest code in job_status_text.
-- Later alerts never drop below the level already reached. It runs inside the session that
-- updated job_log (for the logging functions: the background session, whose transaction is
-- already the autonomous one), so the escalation is recorded with plain SQL.
CREATE OR REPLACE FUNCTION @extschema@.job_check_log_escalate_trig() RETURNS trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    v_escalate      integer;
    v_top_code      integer;
    v_top_count     bigint;
    v_count         bigint := 0;
    v_max_code      integer;
BEGIN
    SELECT c.escalate INTO v_escalate
      FROM @extschema@.job_check_config c
     WHERE c.job_name = NEW.job_name;
    IF v_escalate IS NULL THEN
        RETURN NEW;
    END IF;

    -- A restore loads job_check_log before job_log (and the rows are already escalated):
    -- escalating them again would alter them, and the step below would break the foreign key.
    IF NOT EXISTS (SELECT 1 FROM @extschema@.job_log l WHERE l.job_id = NEW.job_id) THEN
        RETURN NEW;
    END IF;

    SELECT k.alert_code, count(*) INTO v_top_code, v_top_count
      FROM @extschema@.job_check_log k
     WHERE k.job_name = NEW.job_name
     GROUP BY k.alert_code
     ORDER BY k.alert_code DESC
     LIMIT 1;

    -- Count only alerts at the level this one ends up on: 1.5.0 compared the count at the
    -- highest logged level even when the new alert was higher, escalating it too early; and it
    -- never escalated the first alert, even with escalate = 1.
    IF v_top_code >= NEW.alert_code THEN
        NEW.alert_code := v_top_code;
        v_count := v_top_count;
    END IF;

    IF v_count + 1 >= v_escalate THEN
        SELECT max(t.alert_code) INTO v_max_code FROM @extschema@.job_status_text t;
        IF NEW.alert_code < v_max_code THEN
            NEW.alert_code := NEW.alert_code + 1;

            INSERT INTO @extschema@.job_detail
                (job_id, action, start_time, end_time, elapsed_time, status, message)
            VALUES (NEW.job_id, 'ALERT ESCALATION', now(), now(), 0, 'ESCALATE',
                    format('Job has alerted at level %s in excess of the escalate value configured '
                           'for this job (%s). Alert code value has been escalated to: %s',
                           NEW.alert_code - 1, v_escalate, NEW.alert_code));

            -- 'ESCALATED' is not in job_status_text, so the job_log trigger ignores this update.
            UPDATE @extschema@.job_log SET status = 'ESCALATED' WHERE job_id = NEW.job_id;
        END IF;
    END IF;

    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER job_check_log_escalate_trig
    BEFORE INSERT ON @extschema@.job_check_log
    FOR EACH ROW EXECUTE FUNCTION @extschema@.job_check_log_escalate_trig();


/*
 * check_job_status(p_history): one row per problem, or a single OK row.
 * p_history bounds how far back job_log is read; it must cover the longest active threshold.
 *
 * The cost follows the configuration, not job_log: the alert counts come from job_check_log
 * (one row per failed run since the job's last success, so small); each active configured job
 * costs one short probe of the (job_name, start_time) index for a run since its warning
 * threshold; only the few jobs without one read further (last start, last end, running,
 * blocked). Every read of job_log is such a per-job LATERAL probe, so the plan does not depend
 * on p_history: it is planned once per session (force_generic_plan) instead of on every call,
 * which would cost as much as running it. JIT is off: the planner prices the late-job reads as
 * if most jobs were late, which crosses jit_above_cost on large tables, and compiling then
 * costs tens of milliseconds.
 *
 * Jobs tracked by jobmon-tracker (tracker_job_state) are reported by their evaluated state
 * alone: a row per job that is not OK, alert_status its state (WARNING -> code 2, CRITICAL
 * and UNKNOWN -> 3), and the 1.5.0 checks skip them so no job appears twice. A tracker whose
 * heartbeat (tracker_instance) is older than its bound is one more CRITICAL row. Without a
 * tracker both tables are empty and the output is exactly 1.5.0's.
 */
CREATE OR REPLACE FUNCTION @extschema@.check_job_status(p_history interval,
        OUT alert_code integer, OUT alert_status text, OUT job_name text, OUT alert_text text)
    RETURNS SETOF record
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    SET jit = off
    SET plan_cache_mode = force_generic_plan
    AS $$
DECLARE
    v_longest   interval;
BEGIN
    IF p_history IS NULL THEN
        RAISE EXCEPTION 'p_history must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;

    -- Inactive entries do not count: a disabled job with a long threshold must not break the check.
    SELECT greatest(max(c.error_threshold), max(c.warn_threshold)) INTO v_longest
      FROM @extschema@.job_check_config c
     WHERE c.active;
    IF p_history < v_longest THEN
        RAISE EXCEPTION 'Input argument must be greater than or equal to the longest threshold in job_check_config table';
    END IF;

    RETURN QUERY
    WITH tracked AS MATERIALIZED (
        -- Jobs jobmon-tracker evaluates (and trackers that stopped evaluating). Their state
        -- is their one row here, so the checks below leave them out. Empty without a tracker.
        SELECT * FROM @extschema@._tracker_alerts()
    ), failed_unconfigured AS (
        -- Jobs nobody configured (active or not) alert after three consecutive bad runs.
        SELECT k.alert_code, 'FAILED_RUN'::text AS alert_status, k.job_name,
               '3 consecutive ' || t.alert_text || ' runs' AS alert_text
          FROM @extschema@.job_check_log k
          JOIN @extschema@.job_status_text t ON t.alert_code = k.alert_code
         WHERE NOT EXISTS (SELECT 1 FROM @extschema@.job_check_config c
                            WHERE c.job_name = k.job_name)
           AND NOT EXISTS (SELECT 1 FROM tracked x WHERE x.job_name = k.job_name)
         GROUP BY k.job_name, k.alert_code, t.alert_text
        HAVING count(*) > 2
    ), failed_configured AS (
        SELECT k.alert_code, 'FAILED_RUN'::text, k.job_name,
               count(*) || ' ' || t.alert_text || ' run(s)'
          FROM @extschema@.job_check_log k
          JOIN @extschema@.job_check_config c ON c.job_name = k.job_name
          JOIN @extschema@.job_status_text t ON t.alert_code = k.alert_code
         WHERE c.active
           AND NOT EXISTS (SELECT 1 FROM tracked x WHERE x.job_name = k.job_name)
         GROUP BY k.job_name, k.alert_code, t.alert_text, c.sensitivity
        HAVING count(*) > c.sensitivity
    ), waiting AS MATERIALIZED (
        SELECT DISTINCT k.pid FROM pg_catalog.pg_locks k WHERE NOT k.granted
    ), live AS MATERIALIZED (
        -- The sessions connected now, and whether each waits for a lock. Read only when some
        -- job is late.
        SELECT a.pid, a.backend_start,
               EXISTS (SELECT 1 FROM waiting w WHERE w.pid = a.pid) AS blocked
          FROM pg_catalog.pg_stat_activity a
    ), suspects AS MATERIALIZED (
        -- Active jobs without a run since their warning threshold: the candidates for being
        -- late, nearly always few. A short index range per job (a B-tree scan reads every matching
        -- entry on its leaf page, so a probe bounded only by the window would read up to a page
        -- of the job's runs), and LATERAL so that the planner cannot turn it into a hash join
        -- over the whole window. Inexact at the edges (calendar arithmetic in the bound, 30-day
        -- months in the comparison): a job let through here is decided by `late`.
        SELECT c.job_name, c.warn_threshold, c.error_threshold
          FROM @extschema@.job_check_config c
          LEFT JOIN LATERAL (SELECT true AS found
                               FROM @extschema@.job_log l
                              WHERE l.job_name = c.job_name
                                AND l.start_time > now() - p_history
                                AND l.start_time >= now() - c.warn_threshold
                                AND now() - l.start_time <= c.warn_threshold
                              LIMIT 1) recent ON true
         WHERE c.active
           AND recent.found IS NULL
           AND NOT EXISTS (SELECT 1 FROM tracked x WHERE x.job_name = c.job_name)
    ), late AS (
        -- Of those, the ones whose last start in the window is older than the warning
        -- threshold, or that did not start at all within it.
        SELECT m.job_name, m.warn_threshold, m.error_threshold, r.max_start
          FROM suspects m
          LEFT JOIN LATERAL (SELECT l.start_time AS max_start
                               FROM @extschema@.job_log l
                              WHERE l.job_name = m.job_name
                                AND l.start_time > now() - p_history
                              ORDER BY l.start_time DESC
                              LIMIT 1) r ON true
         WHERE r.max_start IS NULL OR now() - r.max_start > m.warn_threshold
    ), late_runs AS (
        -- Only the late jobs read their runs in the window: for the last end (which need not be
        -- the last start's: an earlier, longer run may have ended later) and for unfinished runs
        -- whose session is still there. RUNNING (as in 1.5.0) once such a run has lasted the
        -- shorter threshold, BLOCKED whenever its session waits for a lock.
        SELECT m.job_name, m.error_threshold, m.max_start, x.max_end,
               coalesce(x.blocked, false) AS blocked, coalesce(x.running, false) AS running
          FROM late m
         CROSS JOIN LATERAL (
                SELECT max(l.end_time) AS max_end,
                       bool_or(v.blocked) AS blocked,
                       bool_or(now() - l.start_time >= least(m.warn_threshold, m.error_threshold))
                           FILTER (WHERE v.pid IS NOT NULL) AS running
                  FROM @extschema@.job_log l
                  -- A live pid only counts if its session predates the run: pids are reused,
                  -- and 1.5.0 took any live pid at face value. backend_start is hidden from
                  -- roles without pg_read_all_stats.
                  LEFT JOIN live v
                         ON v.pid = l.pid
                        AND l.end_time IS NULL
                        AND (v.backend_start IS NULL OR v.backend_start <= l.start_time)
                 WHERE l.job_name = m.job_name
                   AND l.start_time > now() - p_history) x
    ), missing AS (
        SELECT CASE
                   WHEN m.max_start IS NULL THEN 3
                   WHEN now() - m.max_start > m.error_threshold THEN 3
                   ELSE 2
               END AS alert_code,
               CASE
                   WHEN m.blocked THEN 'BLOCKED'
                   WHEN m.running THEN 'RUNNING'
                   ELSE 'MISSING'
               END AS alert_status,
               m.job_name,
               CASE
                   WHEN m.blocked THEN
                       'Another transaction has a lock that blocking this job from completing'
                   WHEN m.running THEN
                       coalesce('Currently running. Last completed run: ' || m.max_end,
                                'Currently running. Job has not had a completed run within configured monitoring time period.')
                   ELSE
                       coalesce('Last completed run: ' || m.max_end,
                                'Has not completed a run since highest configured monitoring time period')
               END AS alert_text
          FROM late_runs m
    )
    SELECT q.alert_code, q.alert_status, q.job_name, q.alert_text
      FROM (SELECT * FROM failed_unconfigured
            UNION ALL
            SELECT * FROM failed_configured
            UNION ALL
            SELECT * FROM missing
            UNION ALL
            SELECT * FROM tracked x WHERE x.alert_code > 1) q
     ORDER BY q.alert_code DESC, q.job_name, q.alert_status;

    IF NOT FOUND THEN
        alert_code := 1;
        alert_status := 'OK';
        job_name := NULL;
        alert_text := 'All jobs run successfully';
        RETURN NEXT;
    END IF;
END
$$;

-- Looks back as far as the longest active threshold; with nothing configured one week is enough
-- for the three-consecutive-failures rule, which does not depend on the window.
CREATE OR REPLACE FUNCTION @extschema@.check_job_status(
        OUT alert_code integer, OUT alert_status text, OUT job_name text, OUT alert_text text)
    RETURNS SETOF record
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT s.alert_code, s.alert_status, s.job_name, s.alert_text
      FROM @extschema@.check_job_status(
               (SELECT coalesce(greatest(max(c.error_threshold), max(c.warn_threshold)),
                                interval '1 week')
                  FROM @extschema@.job_check_config c
                 WHERE c.active)) s;
$$;


-- The show_* helpers: job names are upper-cased like add_job() does, newest jobs first.

CREATE OR REPLACE FUNCTION @extschema@.show_job(p_name text, p_limit integer DEFAULT 10)
    RETURNS SETOF @extschema@.job_log
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT j.job_id, j.owner, j.job_name, j.start_time, j.end_time, j.status, j.pid
      FROM @extschema@.job_log j
     WHERE j.job_name = upper(p_name)
     ORDER BY j.job_id DESC
     LIMIT p_limit;
$$;

-- p_name is a regular expression, as in 1.5.0.
CREATE OR REPLACE FUNCTION @extschema@.show_job_like(p_name text, p_limit integer DEFAULT 10)
    RETURNS SETOF @extschema@.job_log
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT j.job_id, j.owner, j.job_name, j.start_time, j.end_time, j.status, j.pid
      FROM @extschema@.job_log j
     WHERE j.job_name ~ upper(p_name)
     ORDER BY j.job_id DESC
     LIMIT p_limit;
$$;

CREATE OR REPLACE FUNCTION @extschema@.show_job_status(p_status text, p_limit integer DEFAULT 10)
    RETURNS SETOF @extschema@.job_log
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT j.job_id, j.owner, j.job_name, j.start_time, j.end_time, j.status, j.pid
      FROM @extschema@.job_log j
     WHERE j.status = p_status
     ORDER BY j.job_id DESC
     LIMIT p_limit;
$$;

CREATE OR REPLACE FUNCTION @extschema@.show_job_status(p_name text, p_status text, p_limit integer DEFAULT 10)
    RETURNS SETOF @extschema@.job_log
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT j.job_id, j.owner, j.job_name, j.start_time, j.end_time, j.status, j.pid
      FROM @extschema@.job_log j
     WHERE j.job_name = upper(p_name)
       AND j.status = p_status
     ORDER BY j.job_id DESC
     LIMIT p_limit;
$$;

CREATE OR REPLACE FUNCTION @extschema@.show_detail(p_id bigint)
    RETURNS SETOF @extschema@.job_detail
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT d.job_id, d.step_id, d.action, d.start_time, d.end_time, d.elapsed_time,
           d.status, d.message
      FROM @extschema@.job_detail d
     WHERE d.job_id = p_id
     ORDER BY d.step_id;
$$;

-- The steps of the p_limit most recent runs of the job, newest run first, steps in order.
CREATE OR REPLACE FUNCTION @extschema@.show_detail(p_name text, p_limit integer DEFAULT 1)
    RETURNS SETOF @extschema@.job_detail
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT d.job_id, d.step_id, d.action, d.start_time, d.end_time, d.elapsed_time,
           d.status, d.message
      FROM (SELECT j.job_id
              FROM @extschema@.job_log j
             WHERE j.job_name = upper(p_name)
             ORDER BY j.job_id DESC
             LIMIT p_limit) r
      JOIN @extschema@.job_detail d ON d.job_id = r.job_id
     ORDER BY d.job_id DESC, d.step_id;
$$;

-- Unfinished jobs whose session is still busy. The session must predate the job (pids are
-- reused); state and backend_start are NULL for sessions the caller may not inspect, and such
-- sessions are listed rather than hidden.
CREATE OR REPLACE FUNCTION @extschema@.show_running(p_limit integer DEFAULT 10)
    RETURNS SETOF @extschema@.job_log
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT j.job_id, j.owner, j.job_name, j.start_time, j.end_time, j.status, j.pid
      FROM @extschema@.job_log j
      JOIN pg_catalog.pg_stat_activity a ON a.pid = j.pid
     WHERE j.status IS NULL
       AND j.end_time IS NULL
       AND a.state IS DISTINCT FROM 'idle'
       AND (a.backend_start IS NULL OR a.backend_start <= j.start_time)
     ORDER BY j.job_id DESC
     LIMIT p_limit;
$$;
