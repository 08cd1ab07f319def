-- `jobmon-tracker nagios --history $1`: the window is cast on the server, so a bad interval
-- is the server's error.
SELECT alert_code, alert_status, job_name, alert_text
  FROM @extschema@.check_job_status($1::text::interval)
