-- Scenario 8's data (the dashboard at scale): bench.jobs job names (BENCH_JOB_00001...) with
-- bench.runs runs each, spread evenly over the last 60 days (10,000 x 1,000: 10,000,000
-- job_log rows), each run 1 to 120 s long; 1% of runs CRITICAL by a hash of (job, run), the
-- last three runs of the last ten jobs CRITICAL (FAILED_RUN), and the latest run of every
-- 100th job still open. Three steps for each job's five latest runs (job_detail's size does
-- not change a per-run probe of its job_id index); 500 active job_check_config rows with
-- thresholds of a day, and the job_check_log rows the triggers would have left. Triggers
-- are skipped while loading (session_replication_role), and job_log's indexes built after it.
SET session_replication_role = replica;
SET maintenance_work_mem = '256MB';

-- job_log's indexes are dropped for the load and built again after it from their own
-- definitions (a sorted build is many times faster than 10,000,000 inserts into each).
CREATE TEMP TABLE saved_indexes AS
SELECT indexdef FROM pg_catalog.pg_indexes
 WHERE schemaname = 'jobmon' AND tablename = 'job_log' AND indexname <> 'job_log_job_id_pkey';
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT indexname FROM pg_catalog.pg_indexes
              WHERE schemaname = 'jobmon' AND tablename = 'job_log'
                AND indexname <> 'job_log_job_id_pkey'
    LOOP
        EXECUTE format('DROP INDEX jobmon.%I', r.indexname);
    END LOOP;
END
$$;

CREATE FUNCTION pg_temp.bad(n integer, i integer) RETURNS boolean
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT abs(hashint8(n::bigint * 1000003 + i)::bigint) % 100 = 0 $$;

INSERT INTO jobmon.job_log (job_id, owner, job_name, start_time, end_time, status, pid)
SELECT (n - 1)::bigint * r.runs + i, 'bench', 'BENCH_JOB_' || lpad(n::text, 5, '0'), s.start_time,
       CASE WHEN s.open THEN NULL ELSE s.start_time + (1 + (n + i) % 120) * interval '1 second' END,
       CASE WHEN s.open THEN NULL
            WHEN s.failed THEN 'CRITICAL' ELSE 'OK' END,
       2000000000
  FROM (SELECT current_setting('bench.jobs')::integer AS jobs,
               current_setting('bench.runs')::integer AS runs) r
 CROSS JOIN generate_series(1, r.jobs) n
 CROSS JOIN generate_series(1, r.runs) i
 CROSS JOIN LATERAL (
        SELECT now() - interval '60 days' * (r.runs - i + 1)::float8 / r.runs
                   + (n % 600) * interval '1 second' AS start_time,
               i = r.runs AND n % 100 = 0 AS open,
               pg_temp.bad(n, i) OR (n > r.jobs - 10 AND i > r.runs - 3) AS failed) s;

SELECT setval('jobmon.job_log_job_id_seq', (SELECT max(job_id) FROM jobmon.job_log));

DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT indexdef FROM saved_indexes LOOP
        EXECUTE r.indexdef;
    END LOOP;
END
$$;

INSERT INTO jobmon.job_detail (job_id, action, start_time, end_time, elapsed_time, status, message)
SELECT l.job_id, 'step ' || k, l.start_time, l.end_time, 1, coalesce(l.status, 'RUNNING'), 'bench step'
  FROM jobmon.job_log l
 CROSS JOIN generate_series(1, 3) k
 WHERE l.job_id % current_setting('bench.runs')::integer
           > current_setting('bench.runs')::integer - 5
    OR l.job_id % current_setting('bench.runs')::integer = 0;

INSERT INTO jobmon.job_check_config (job_name, warn_threshold, error_threshold, active)
SELECT 'BENCH_JOB_' || lpad(n::text, 5, '0'), interval '1 day', interval '2 days', true
  FROM generate_series(1, 500) n;

-- What the job_log trigger leaves: one row per failed run since the job's last success.
INSERT INTO jobmon.job_check_log (job_id, job_name, alert_code)
SELECT l.job_id, l.job_name, 3
  FROM jobmon.job_log l
  JOIN (SELECT job_name, max(start_time) FILTER (WHERE status = 'OK') AS last_ok
          FROM jobmon.job_log
         GROUP BY job_name) o ON o.job_name = l.job_name
 WHERE l.status = 'CRITICAL'
   AND l.start_time > coalesce(o.last_ok, '-infinity');

SET session_replication_role = DEFAULT;
