-- SQL-level logging functions built on the Rust ones (add_job, add_step, update_step, close_job,
-- fail_job, _set_job_status), whose writes commit on their own: the config-table variants of
-- close/fail/cancel, cancel_job, sql_step, sql_job and job_log_clear. Runs after the Rust functions.

/*
 * Status text for p_alert_code from a user's table of (alert_code, alert_text); the pre-0.3
 * column names (error_code, error_text), as in the job_alert_nagios view, are accepted too.
 * The name is resolved as a regclass with the caller's search_path (p_search_path), as 1.5.0
 * users wrote it; it only reaches SQL text as the regclass's own quoted output.
 */
CREATE FUNCTION @extschema@._config_alert_text(p_config_table text, p_alert_code integer,
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
CREATE FUNCTION @extschema@.close_job(p_job_id bigint, p_config_table text) RETURNS void
    LANGUAGE sql
    AS $$
    SELECT @extschema@._set_job_status(p_job_id,
               @extschema@._config_alert_text(p_config_table, 1, pg_catalog.current_setting('search_path')));
$$;

CREATE FUNCTION @extschema@.fail_job(p_job_id bigint, p_config_table text) RETURNS void
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
CREATE FUNCTION @extschema@._cancel_job_step(p_job_id bigint, p_step_status text) RETURNS void
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

CREATE FUNCTION @extschema@.cancel_job(p_job_id bigint) RETURNS boolean
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

CREATE FUNCTION @extschema@._cancel_job_with_status(p_job_id bigint, p_status text)
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
CREATE FUNCTION @extschema@.cancel_job(p_job_id bigint, p_config_table text) RETURNS boolean
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
CREATE FUNCTION @extschema@._sql_step(p_job_id bigint, p_action text, p_sql text,
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

CREATE FUNCTION @extschema@.sql_step(p_job_id bigint, p_action text, p_sql text)
    RETURNS boolean
    LANGUAGE sql
    AS $$
    SELECT @extschema@._sql_step(p_job_id, p_action, p_sql,
                                 pg_catalog.current_setting('search_path'));
$$;

CREATE FUNCTION @extschema@._sql_job(p_job_name text, p_sql text, p_search_path text)
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

CREATE FUNCTION @extschema@.sql_job(p_job_name text, p_sql text) RETURNS text
    LANGUAGE sql
    AS $$
    SELECT @extschema@._sql_job(p_job_name, p_sql, pg_catalog.current_setting('search_path'));
$$;


/*
 * Deletes job_log rows (and, by cascade, their job_detail rows and tracker messages) that
 * started at or before now() - p_interval, logging the purge as a job of its own. The rows
 * go in batches of 1,000 runs, each committed on its own through the background connection,
 * so no lock is held for longer than one batch however many millions there are; a purge
 * that is interrupted keeps the batches it committed, and the caller's rollback does not
 * bring them back (1.5.0 deleted in one statement of the caller's transaction).
 */
CREATE FUNCTION @extschema@.job_log_clear(p_interval interval) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    v_boundary  timestamptz;
    v_job_id    bigint;
    v_step_id   bigint;
    v_rowcount  bigint;
    v_batch     bigint;
    v_after     timestamptz := '-infinity';
    c_batch_size CONSTANT integer := 1000;
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

        -- Never this purge's own job: with p_interval <= 0 it would qualify. A batch short
        -- of the limit means nothing older is left.
        v_rowcount := 0;
        LOOP
            SELECT b.deleted, coalesce(b.last_start, v_after) INTO v_batch, v_after
              FROM @extschema@._job_log_clear_batch(v_boundary, v_job_id, c_batch_size, v_after) b;
            v_rowcount := v_rowcount + v_batch;
            EXIT WHEN v_batch < c_batch_size;
        END LOOP;

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
