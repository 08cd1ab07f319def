-- `jobmon-tracker nagios --history $1`: the window is cast on the server, so a bad interval
-- is the server's error. `selected` as in nagios_check.sql, with $2 the --job names and $3
-- the --like patterns.
SELECT alert_code, alert_status, job_name, alert_text,
       (cardinality($2::text[]) = 0 AND cardinality($3::text[]) = 0)
       OR coalesce(job_name = ANY ($2::text[]) OR job_name LIKE ANY ($3::text[]), false) AS selected
  FROM @extschema@.check_job_status($1::text::interval)
