-- The dashboard's overview: every job (the job names in job_log, found by a skip scan of
-- the job_name index, one probe per name instead of reading every row, and the jobs the
-- tracker evaluates), its state (the tracker's for tracked jobs, else check_job_status()'s
-- worst alert for it, else OK), the counts per state before the state filter, and the latest
-- run of each job on the page only (one backward probe of the (job_name, start_time) index).
-- $1 name filter (case-insensitive substring; '' for all), $2 state ('' for all), $3 page
-- size, $4 offset. Worst states first, then by name.
WITH RECURSIVE names(job_name) AS (
    (SELECT l.job_name FROM @extschema@.job_log l ORDER BY l.job_name LIMIT 1)
    UNION ALL
    SELECT (SELECT l.job_name FROM @extschema@.job_log l
             WHERE l.job_name > n.job_name
             ORDER BY l.job_name LIMIT 1)
      FROM names n
     WHERE n.job_name IS NOT NULL
), alerts AS MATERIALIZED (
    SELECT s.job_name, max(s.alert_code) AS code,
           string_agg(s.alert_status || ': ' || s.alert_text, '; '
                      ORDER BY s.alert_code DESC, s.alert_status) AS text
      FROM @extschema@.check_job_status() s
     WHERE s.job_name IS NOT NULL
     GROUP BY s.job_name
), jobs AS (
    SELECT coalesce(n.job_name, t.job_name) AS job_name, t.state AS tracked_state,
           t.alert_text AS tracked_text, t.since
      FROM (SELECT job_name FROM names WHERE job_name IS NOT NULL) n
      FULL JOIN @extschema@.tracker_job_state t ON t.job_name = n.job_name
), judged AS (
    SELECT j.job_name, j.tracked_state IS NOT NULL AS tracked, j.since,
           coalesce(j.tracked_state,
                    CASE a.code WHEN 3 THEN 'CRITICAL' WHEN 2 THEN 'WARNING' ELSE 'OK' END) AS state,
           coalesce(j.tracked_text, a.text, '') AS state_text
      FROM jobs j
      LEFT JOIN alerts a ON a.job_name = j.job_name
     WHERE $1::text = '' OR strpos(upper(j.job_name), upper($1::text)) > 0
), counted AS (
    SELECT d.*,
           count(*) FILTER (WHERE d.state = 'OK') OVER () AS n_ok,
           count(*) FILTER (WHERE d.state = 'WARNING') OVER () AS n_warning,
           count(*) FILTER (WHERE d.state = 'CRITICAL') OVER () AS n_critical,
           count(*) FILTER (WHERE d.state = 'UNKNOWN') OVER () AS n_unknown
      FROM judged d
), page AS (
    SELECT c.*, count(*) OVER () AS total,
           CASE c.state WHEN 'CRITICAL' THEN 0 WHEN 'UNKNOWN' THEN 1 WHEN 'WARNING' THEN 2 ELSE 3 END AS rank
      FROM counted c
     WHERE $2::text = '' OR c.state = $2::text
     ORDER BY rank, c.job_name
     LIMIT $3::bigint OFFSET $4::bigint
)
SELECT p.job_name, p.tracked, p.state, p.state_text, p.since, p.total,
       p.n_ok, p.n_warning, p.n_critical, p.n_unknown,
       r.job_id, r.start_time, r.end_time, r.status
  FROM page p
  LEFT JOIN LATERAL (SELECT l.job_id, l.start_time, l.end_time, l.status
                       FROM @extschema@.job_log l
                      WHERE l.job_name = p.job_name
                      ORDER BY l.start_time DESC
                      LIMIT 1) r ON true
 ORDER BY p.rank, p.job_name
