-- Scenario 3's data, set-based: bench.jobs job names (BENCH_JOB_0001...) with bench.runs runs
-- each, spread evenly over the last 30 days (1,000 x 1,000 runs, one of each job every 43
-- minutes, less those of the jobs that stopped: 999,005 job_log rows), 3 steps per run, 550
-- configurations of which 500 active, and the job_check_log rows the triggers would have
-- left. Outcomes are fixed by a hash of (job, run), so every run of the benchmark gets the
-- same data:
--   * 1.5% of runs CRITICAL, 0.5% WARNING, 0.1% never finished (a dead session);
--   * jobs 0991-1000 (not configured) failed their last 3 runs: FAILED_RUN;
--   * jobs 0461-0470 (configured) failed their last run: FAILED_RUN (0465 tolerates one);
--   * jobs 0471-0478 are still running their last run, from sessions that are gone;
--   * jobs 0479-0480 are running right now, from the live session bench.live_pid, with a
--     one-second warning threshold: RUNNING;
--   * jobs 0481-0500 stopped running 15 minutes to 100 hours ago: MISSING (warning or
--     critical, some with no run in the window) once later than their threshold.
-- Warning thresholds are 1 to 12 hours, error thresholds twice that, so the default history
-- of check_job_status() is 24 hours and '3 days' is a valid argument.
-- Triggers and foreign keys are skipped while loading (session_replication_role); the alert
-- rows are derived at the end instead.
SET session_replication_role = replica;

CREATE FUNCTION pg_temp.outcome(n integer, i integer) RETURNS integer
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT (abs(hashint8(n::bigint * 1000003 + i)::bigint) % 10000)::integer $$;

INSERT INTO jobmon.job_log (job_id, owner, job_name, start_time, end_time, status, pid)
SELECT row_number() OVER (ORDER BY r.start_time, r.n), 'bench', r.job_name, r.start_time,
       CASE WHEN r.running THEN NULL ELSE r.start_time + (1 + r.h % 120) * interval '1 second' END,
       CASE WHEN r.running THEN NULL ELSE r.status END,
       CASE WHEN r.live THEN current_setting('bench.live_pid')::integer
            -- Above any pid_max, so never the pid of a live session.
            ELSE 5000000 + (r.n * 7919 + r.i) % 100000 END
  FROM (SELECT s.n, s.i, s.h,
               'BENCH_JOB_' || lpad(s.n::text, 4, '0') AS job_name,
               CASE WHEN s.live THEN s.t0
                    ELSE s.t0 - interval '30 days'
                         + (s.i - 1 + (s.n - 1) / s.jobs::numeric) * (interval '30 days' / s.runs)
               END AS start_time,
               CASE WHEN s.n BETWEEN s.jobs - 9 AND s.jobs - 5 AND s.i > s.runs - 3 THEN 'CRITICAL'
                    WHEN s.n > s.jobs - 5 AND s.i > s.runs - 3 THEN 'WARNING'
                    WHEN s.n BETWEEN 461 AND 465 AND s.i = s.runs THEN 'CRITICAL'
                    WHEN s.n BETWEEN 466 AND 470 AND s.i = s.runs THEN 'WARNING'
                    WHEN s.h < 150 THEN 'CRITICAL'
                    WHEN s.h < 200 THEN 'WARNING'
                    ELSE 'OK'
               END AS status,
               s.live OR (s.n BETWEEN 471 AND 478 AND s.i = s.runs)
                   OR (s.h BETWEEN 200 AND 209 AND s.i < s.runs) AS running,
               s.live
          FROM (SELECT n, i, pg_temp.outcome(n, i) AS h, now() AS t0,
                       current_setting('bench.jobs')::integer AS jobs,
                       current_setting('bench.runs')::integer AS runs,
                       n IN (479, 480) AND i = current_setting('bench.runs')::integer AS live
                  FROM generate_series(1, current_setting('bench.jobs')::integer) n,
                       generate_series(1, current_setting('bench.runs')::integer) i) s) r
 -- Jobs 0481-0500 stopped (n - 480)^2 * 15 minutes ago.
 WHERE NOT (r.n BETWEEN 481 AND 500
            AND r.start_time > now() - (r.n - 480) ^ 2 * interval '15 minutes');
SELECT setval('jobmon.job_log_job_id_seq', (SELECT max(job_id) FROM jobmon.job_log));

-- Three steps per run, splitting its duration; the last step of an unfinished run is open.
INSERT INTO jobmon.job_detail (job_id, step_id, action, start_time, end_time, elapsed_time,
                               status, message)
SELECT l.job_id, (l.job_id - 1) * 3 + s.k, 'step ' || s.k,
       l.start_time + (s.k - 1) * d.part,
       CASE WHEN l.end_time IS NULL AND s.k = 3 THEN NULL ELSE l.start_time + s.k * d.part END,
       CASE WHEN l.end_time IS NULL AND s.k = 3 THEN NULL
            ELSE extract(epoch FROM d.part)::real END,
       CASE WHEN s.k < 3 THEN 'OK' ELSE l.status END,
       CASE WHEN l.end_time IS NULL AND s.k = 3 THEN NULL
            ELSE 'Rows affected: ' || (l.job_id % 1000) END
  FROM jobmon.job_log l
 CROSS JOIN generate_series(1, 3) s (k)
 CROSS JOIN LATERAL (SELECT (coalesce(l.end_time, l.start_time + interval '30 seconds')
                             - l.start_time) / 3 AS part) d;
SELECT setval('jobmon.job_detail_step_id_seq', (SELECT max(step_id) FROM jobmon.job_detail));

INSERT INTO jobmon.job_check_config (job_name, warn_threshold, error_threshold, active,
                                     sensitivity)
SELECT 'BENCH_JOB_' || lpad(n::text, 4, '0'),
       CASE WHEN n IN (479, 480) THEN interval '1 second' ELSE (1 + n % 12) * interval '1 hour' END,
       CASE WHEN n IN (479, 480) THEN interval '1 hour' ELSE (2 + 2 * (n % 12)) * interval '1 hour' END,
       n <= 500,
       CASE WHEN n = 465 THEN 1 ELSE 0 END
  FROM generate_series(1, 550) n;

-- What trg_job_monitor leaves: every failed run since the job's last successful one.
INSERT INTO jobmon.job_check_log (job_id, job_name, alert_code)
SELECT l.job_id, l.job_name, t.alert_code
  FROM jobmon.job_log l
  JOIN jobmon.job_status_text t ON t.alert_text = l.status AND t.alert_code > 1
  LEFT JOIN (SELECT o.job_name, max(o.start_time) AS last_ok
               FROM jobmon.job_log o
              WHERE o.status = 'OK'
              GROUP BY o.job_name) s ON s.job_name = l.job_name
 WHERE l.start_time > coalesce(s.last_ok, '-infinity');

RESET session_replication_role;
