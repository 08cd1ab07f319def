-- The baseline of scenario 3: check_job_status(p_history) as it was before it became
-- index-driven (one range scan of the whole window of job_log, grouped by job_name), loaded
-- into the benchmark database as bench.check_job_status_window. The benchmark times it on
-- the same data and checks that the current function returns exactly the same rows.
CREATE FUNCTION bench.check_job_status_window(p_history interval,
        OUT alert_code integer, OUT alert_status text, OUT job_name text, OUT alert_text text)
    RETURNS SETOF record
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
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
      FROM jobmon.job_check_config c
     WHERE c.active;
    IF p_history < v_longest THEN
        RAISE EXCEPTION 'Input argument must be greater than or equal to the longest threshold in job_check_config table';
    END IF;

    RETURN QUERY
    WITH failed_unconfigured AS (
        -- Jobs nobody configured (active or not) alert after three consecutive bad runs.
        SELECT k.alert_code, 'FAILED_RUN'::text AS alert_status, k.job_name,
               '3 consecutive ' || t.alert_text || ' runs' AS alert_text
          FROM jobmon.job_check_log k
          JOIN jobmon.job_status_text t ON t.alert_code = k.alert_code
         WHERE NOT EXISTS (SELECT 1 FROM jobmon.job_check_config c
                            WHERE c.job_name = k.job_name)
         GROUP BY k.job_name, k.alert_code, t.alert_text
        HAVING count(*) > 2
    ), failed_configured AS (
        SELECT k.alert_code, 'FAILED_RUN'::text, k.job_name,
               count(*) || ' ' || t.alert_text || ' run(s)'
          FROM jobmon.job_check_log k
          JOIN jobmon.job_check_config c ON c.job_name = k.job_name
          JOIN jobmon.job_status_text t ON t.alert_code = k.alert_code
         WHERE c.active
         GROUP BY k.job_name, k.alert_code, t.alert_text, c.sensitivity
        HAVING count(*) > c.sensitivity
    ), recent AS MATERIALIZED (
        -- One range scan of the window for all jobs: bounded by the runs inside the window,
        -- however long the history and however many jobs are configured or missing. (A
        -- per-job lookup either rescans the window for every late job or reads the job's whole
        -- history through the job_name index.)
        SELECT l.job_name, max(l.start_time) AS max_start, max(l.end_time) AS max_end
          FROM jobmon.job_log l
         WHERE l.start_time > now() - p_history
         GROUP BY l.job_name
    ), waiting AS MATERIALIZED (
        SELECT DISTINCT k.pid FROM pg_catalog.pg_locks k WHERE NOT k.granted
    ), live AS MATERIALIZED (
        -- Unfinished runs in the window whose session is still there. Driven by the few
        -- sessions in pg_stat_activity, through the job_log pid index.
        SELECT l.job_name, l.start_time,
               EXISTS (SELECT 1 FROM waiting w WHERE w.pid = l.pid) AS blocked
          FROM pg_catalog.pg_stat_activity a
          JOIN jobmon.job_log l ON l.pid = a.pid
         WHERE l.end_time IS NULL
           AND l.start_time > now() - p_history
           -- backend_start is hidden from roles without pg_read_all_stats.
           AND (a.backend_start IS NULL OR a.backend_start <= l.start_time)
    ), late AS (
        -- Active jobs whose last start in the window is older than the warning threshold, or
        -- that did not start at all within it; RUNNING (as in 1.5.0) once an unfinished run has
        -- lasted the shorter threshold, BLOCKED whenever its session waits for a lock.
        SELECT c.job_name, c.error_threshold, r.max_start, r.max_end,
               EXISTS (SELECT 1 FROM live v
                        WHERE v.job_name = c.job_name AND v.blocked) AS blocked,
               EXISTS (SELECT 1 FROM live v
                        WHERE v.job_name = c.job_name
                          AND now() - v.start_time >= least(c.warn_threshold, c.error_threshold))
                   AS running
          FROM jobmon.job_check_config c
          LEFT JOIN recent r ON r.job_name = c.job_name
         WHERE c.active
           AND (r.max_start IS NULL OR now() - r.max_start > c.warn_threshold)
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
          FROM late m
    )
    SELECT q.alert_code, q.alert_status, q.job_name, q.alert_text
      FROM (SELECT * FROM failed_unconfigured
            UNION ALL
            SELECT * FROM failed_configured
            UNION ALL
            SELECT * FROM missing) q
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

CREATE FUNCTION bench.check_job_status_window(
        OUT alert_code integer, OUT alert_status text, OUT job_name text, OUT alert_text text)
    RETURNS SETOF record
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT s.alert_code, s.alert_status, s.job_name, s.alert_text
      FROM bench.check_job_status_window(
               (SELECT coalesce(greatest(max(c.error_threshold), max(c.warn_threshold)),
                                interval '1 week')
                  FROM jobmon.job_check_config c
                 WHERE c.active)) s;
$$;
