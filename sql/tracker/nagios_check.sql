-- `jobmon-tracker nagios`: check_job_status() with its default window. `selected` says
-- whether a row is one of the jobs asked for: $1 the --job names (exact), $2 the --like
-- patterns; both empty select every row.
SELECT alert_code, alert_status, job_name, alert_text,
       (cardinality($1::text[]) = 0 AND cardinality($2::text[]) = 0)
       OR coalesce(job_name = ANY ($1::text[]) OR job_name LIKE ANY ($2::text[]), false) AS selected
  FROM @extschema@.check_job_status()
