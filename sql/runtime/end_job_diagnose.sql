-- Only on the error path of end_job_code.sql: which of the two was missing.
SELECT EXISTS (SELECT 1 FROM @extschema@.job_log WHERE job_id = $1) AS job_exists,
       EXISTS (SELECT 1 FROM @extschema@.job_status_text WHERE alert_code = $2) AS code_exists
