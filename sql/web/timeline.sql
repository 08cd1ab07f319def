-- The runs that started in [$1, $2), for the timeline: at most $3 of them (the latest),
-- along the start_time index, returned by job and start.
SELECT r.job_id, r.start_time, r.end_time, r.status, r.job_name
  FROM (SELECT l.job_id, l.start_time, l.end_time, l.status, l.job_name
          FROM @extschema@.job_log l
         WHERE l.start_time >= $1::timestamptz AND l.start_time < $2::timestamptz
         ORDER BY l.start_time DESC
         LIMIT $3::bigint) r
 ORDER BY r.job_name, r.start_time
