-- Scenarios 1 and 2: the baselines a logging call is compared with, in schema bench.
-- bench.target holds the connection string of this database (filled by the program): the
-- 1.5.0 mechanism opens a new dblink connection with it on every call, the persistent
-- variant once per session.
CREATE EXTENSION dblink SCHEMA public;
CREATE SCHEMA bench;
CREATE TABLE bench.target (connstr text NOT NULL);

-- The 1.5.0 mechanism: one new connection per call (dblink with a connection string connects,
-- runs the statement, which commits there, and disconnects), the statement built as text.
CREATE FUNCTION bench.add_step_1_5(p_job_id bigint, p_action text) RETURNS text
    LANGUAGE sql
    AS $$
    SELECT public.dblink_exec((SELECT t.connstr FROM bench.target t),
               format('INSERT INTO jobmon.job_detail (job_id, action, start_time) VALUES (%s, %L, now())',
                      p_job_id, p_action));
$$;

CREATE FUNCTION bench.update_step_1_5(p_step_id bigint, p_status text, p_message text) RETURNS text
    LANGUAGE sql
    AS $$
    SELECT public.dblink_exec((SELECT t.connstr FROM bench.target t),
               format('UPDATE jobmon.job_detail SET end_time = now(), '
                      'elapsed_time = date_part(''epoch'', now() - start_time)::real, '
                      'status = %L, message = %L WHERE step_id = %s',
                      p_status, p_message, p_step_id));
$$;

CREATE FUNCTION bench.add_job_1_5(p_job_name text) RETURNS bigint
    LANGUAGE sql
    AS $$
    SELECT r.job_id
      FROM public.dblink((SELECT t.connstr FROM bench.target t),
               format('INSERT INTO jobmon.job_log (owner, job_name, start_time, pid) '
                      'VALUES (%L, upper(%L), now(), %s) RETURNING job_id',
                      current_user, p_job_name, pg_backend_pid())) AS r (job_id bigint);
$$;

CREATE FUNCTION bench.add_step_returning_1_5(p_job_id bigint, p_action text) RETURNS bigint
    LANGUAGE sql
    AS $$
    SELECT r.step_id
      FROM public.dblink((SELECT t.connstr FROM bench.target t),
               format('INSERT INTO jobmon.job_detail (job_id, action, start_time) '
                      'VALUES (%s, %L, now()) RETURNING step_id',
                      p_job_id, p_action)) AS r (step_id bigint);
$$;

CREATE FUNCTION bench.close_job_1_5(p_job_id bigint) RETURNS text
    LANGUAGE sql
    AS $$
    SELECT public.dblink_exec((SELECT t.connstr FROM bench.target t),
               format('UPDATE jobmon.job_log SET end_time = now(), status = ''OK'' WHERE job_id = %s',
                      p_job_id));
$$;

-- dblink with one named connection per session, opened by the session's first call.
CREATE FUNCTION bench.add_step_kept(p_job_id bigint, p_action text) RETURNS text
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF public.dblink_get_connections() IS NULL THEN
        PERFORM public.dblink_connect('jobmon_bench', (SELECT t.connstr FROM bench.target t));
    END IF;
    RETURN public.dblink_exec('jobmon_bench',
               format('INSERT INTO jobmon.job_detail (job_id, action, start_time) VALUES (%s, %L, now())',
                      p_job_id, p_action));
END
$$;

-- The job the calls log their steps under, and the steps update_step picks from at random.
INSERT INTO jobmon.job_log (job_id, owner, job_name, start_time, pid)
VALUES (1, current_user, 'BENCH CALLS', now(), pg_backend_pid());
SELECT setval('jobmon.job_log_job_id_seq', 1);
INSERT INTO jobmon.job_detail (job_id, step_id, action, start_time)
SELECT 1, s, 'bench step', now() FROM generate_series(1, 100000) s;
SELECT setval('jobmon.job_detail_step_id_seq', 100000);
VACUUM ANALYZE jobmon.job_log;
VACUUM ANALYZE jobmon.job_detail;
