-- Monitoring: the triggers that turn job outcomes into job_check_log rows (with escalation),
-- check_job_status() for Nagios/Checkmk, and the show_* helpers. Runs last at CREATE EXTENSION.
-- Read-only parts use no temp tables, so they also work on a hot standby.

-- The alert bookkeeping of both triggers runs with the extension owner's rights
-- (SECURITY DEFINER): callers need rights on job_log and job_detail only, as with 1.5.0,
-- whose triggers ran as its dblink user.

-- Fires only when the status actually changes, so re-closing or re-failing a job does not
-- count its single run twice.
CREATE FUNCTION @extschema@.job_monitor() RETURNS trigger
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

CREATE TRIGGER trg_job_monitor
    AFTER UPDATE ON @extschema@.job_log
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION @extschema@.job_monitor();


-- Escalation (job_check_config.escalate): once a job has alerted `escalate` times at its current
-- highest level, the new alert goes one level up, to at most the highest code in job_status_text.
-- Later alerts never drop below the level already reached. It runs inside the session that
-- updated job_log (for the logging functions: the background session, whose transaction is
-- already the autonomous one), so the escalation is recorded with plain SQL.
CREATE FUNCTION @extschema@.job_check_log_escalate_trig() RETURNS trigger
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

CREATE TRIGGER job_check_log_escalate_trig
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
CREATE FUNCTION @extschema@.check_job_status(p_history interval,
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
CREATE FUNCTION @extschema@.check_job_status(
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

CREATE FUNCTION @extschema@.show_job(p_name text, p_limit integer DEFAULT 10)
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
CREATE FUNCTION @extschema@.show_job_like(p_name text, p_limit integer DEFAULT 10)
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

CREATE FUNCTION @extschema@.show_job_status(p_status text, p_limit integer DEFAULT 10)
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

CREATE FUNCTION @extschema@.show_job_status(p_name text, p_status text, p_limit integer DEFAULT 10)
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

CREATE FUNCTION @extschema@.show_detail(p_id bigint)
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
CREATE FUNCTION @extschema@.show_detail(p_name text, p_limit integer DEFAULT 1)
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
CREATE FUNCTION @extschema@.show_running(p_limit integer DEFAULT 10)
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
