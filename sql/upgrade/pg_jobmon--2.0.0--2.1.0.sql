-- pg_jobmon 2.0.0 -> 2.1.0, in place: ALTER EXTENSION pg_jobmon UPDATE (one transaction).
--
-- Bounded history: job_log_clear deletes in batches, each committed on its own, and
-- deleting runs deletes their tracker messages (a statement trigger on job_log). Messages
-- of runs deleted before this update stay until the tracker's retention purges them in
-- batches (README: Retention), so the update itself reads no table and takes only the
-- SHARE ROW EXCLUSIVE lock of CREATE TRIGGER on job_log, for the few milliseconds it
-- runs: readers go on, log writes wait that long.

\echo Use "ALTER EXTENSION pg_jobmon UPDATE" to load this file. \quit

-- One batch of job_log_clear through the background connection (pg_jobmon/src/logging.rs).
CREATE FUNCTION @extschema@._job_log_clear_batch(
    "p_boundary" timestamp with time zone,
    "p_keep_job_id" bigint,
    "p_batch_size" INT,
    "p_after" timestamp with time zone
) RETURNS TABLE (
    "deleted" bigint,
    "last_start" timestamp with time zone
)
    VOLATILE PARALLEL UNSAFE
    SET search_path TO pg_catalog, pg_temp
    LANGUAGE c
    AS 'MODULE_PATHNAME', '_job_log_clear_batch_wrapper';

/*
 * Deletes job_log rows (and, by cascade, their job_detail rows and tracker messages) that
 * started at or before now() - p_interval, logging the purge as a job of its own. The rows
 * go in batches of 1,000 runs, each committed on its own through the background connection,
 * so no lock is held for longer than one batch however many millions there are; a purge
 * that is interrupted keeps the batches it committed, and the caller's rollback does not
 * bring them back (1.5.0 deleted in one statement of the caller's transaction).
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
