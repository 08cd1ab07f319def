-- The jobs check_job_status() already has thresholds for (active or not: someone decided).
SELECT c.job_name FROM @extschema@.job_check_config c
