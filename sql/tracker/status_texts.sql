-- The status text of each alert code (job_status_text), for runs inserted already ended.
SELECT alert_code, alert_text FROM @extschema@.job_status_text
